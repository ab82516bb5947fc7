"""E-mail notifications through Django's SMTP backend to a real SMTP server on loopback
(aiosmtpd): one mail per transition with what the operator needs; a refusing server is
recorded and never stops the webhook channel."""

import pytest
from django.test import override_settings

from alerts.models import Channel, Notification
from alerts.services import evaluate
from tests.alerts.helpers import rule, write_minutes
from tests.alerts.receiver import Receiver
from tests.alerts.smtp import SMTPServer


@pytest.fixture
def smtp():
    server = SMTPServer()
    yield server
    server.close()


def test_a_firing_rule_sends_one_mail_then_one_when_it_resolves(influx, smtp):
    Channel.objects.create(
        name="ops", kind=Channel.EMAIL, target="ops@example.com, oncall@example.com"
    )
    rule(name="CO2 high", severity="critical")
    write_minutes(influx, "room-1", range(12, -1, -1), 1800)
    with override_settings(**smtp.settings(), DEFAULT_FROM_EMAIL="alerts@iot.example"):
        assert evaluate().sent == 1
        assert evaluate().sent == 0  # still firing: nothing more
        assert len(smtp.messages) == 1
        recipients, message = smtp.messages[0]
        assert recipients == ["ops@example.com", "oncall@example.com"]
        assert message["Subject"] == "[critical] FIRING: CO2 high on room-1"
        assert message["From"] == "alerts@iot.example"
        body = message.get_content()
        assert "any device: CO2 above 1500 for 10 min" in body
        assert "Device: room-1" in body
        assert "(value 1800.0)" in body
        write_minutes(influx, "room-1", [0], 700)
        assert evaluate().sent == 1
    assert len(smtp.messages) == 2
    resolved = smtp.messages[1][1]
    assert resolved["Subject"] == "[critical] resolved: CO2 high on room-1"
    assert "Resolved: " in resolved.get_content()
    assert "(value 700.0)" in resolved.get_content()


def test_a_refusing_smtp_server_is_recorded_and_the_webhook_still_sent(influx, settings):
    settings.ALERTS_WEBHOOK_TRIES = 1
    smtp = SMTPServer(refuse=True)
    receiver = Receiver()
    try:
        mail = Channel.objects.create(name="ops", kind=Channel.EMAIL, target="ops@example.com")
        Channel.objects.create(name="hook", kind=Channel.WEBHOOK, target=receiver.url,
                               secret="s3cret")  # fmt: skip
        rule()
        write_minutes(influx, "room-1", range(12, -1, -1), 1800)
        with override_settings(**smtp.settings()):
            result = evaluate()
    finally:
        smtp.close()
        receiver.close()
    assert (len(result.fired), result.sent, result.failed) == (1, 1, 1)
    assert [r["device_id"] for r in receiver.received] == ["room-1"]
    assert smtp.messages == []
    note = Notification.objects.get(channel=mail)
    assert note.status == Notification.PENDING  # retried on a later pass
    assert "Mailbox unavailable" in note.last_error
