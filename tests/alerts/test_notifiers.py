"""Webhooks against a real receiver on loopback: signed, retried with backoff, failures
recorded; a failing channel never stops the others."""

from datetime import timedelta

import pytest
from django.core import mail

from alerts.models import Alert, Channel, Notification
from alerts.notifiers import deliver_pending
from tests.alerts.helpers import now, rule
from tests.alerts.receiver import Receiver


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def fast_retries(settings):
    settings.ALERTS_WEBHOOK_TRIES = 3
    settings.ALERTS_WEBHOOK_BACKOFF_S = 0.01
    settings.ALERTS_WEBHOOK_TIMEOUT_S = 0.5
    return settings


@pytest.fixture
def hook(receiver):
    """A webhook channel to ``receiver``, with its secret."""
    return Channel.objects.create(name="h", kind="webhook", target=receiver.url, secret="s3cret")


def queue(channel, event=Notification.FIRED):
    alert = Alert.objects.create(rule=rule(), device_id="room-1", started_at=now(), value=1800)
    return Notification.objects.create(alert=alert, event=event, channel=channel)


@pytest.mark.django_db
def test_a_webhook_gets_a_signed_json_body(receiver, hook, fast_retries):
    note = queue(hook)
    assert deliver_pending() == (1, 0)
    assert receiver.bad_signatures == 0
    assert receiver.received[0]["device_id"] == "room-1"
    assert receiver.received[0]["value"] == 1800
    note.refresh_from_db()
    assert note.status == Notification.SENT
    assert note.attempts == 1


@pytest.mark.django_db
def test_a_wrong_secret_is_refused_by_the_receiver_and_recorded(receiver, fast_retries):
    hook = Channel.objects.create(name="h", kind="webhook", target=receiver.url, secret="other")
    note = queue(hook)
    assert deliver_pending() == (0, 1)
    assert receiver.attempts == 1  # refused: not retried
    note.refresh_from_db()
    assert note.status == Notification.FAILED
    assert "401" in note.last_error


@pytest.mark.django_db
@pytest.mark.parametrize("failure", [{"status": 500}, {"delay": 2.0}], ids=["500", "timeout"])
def test_a_failing_webhook_is_retried_recorded_and_does_not_stop_email(
    receiver, hook, failure, fast_retries
):
    vars(receiver).update(failure)  # it answers 500, or too late
    email = Channel.objects.create(name="e", kind="email", target="ops@example.com")
    bad = queue(hook)
    good = Notification.objects.create(alert=bad.alert, event=bad.event, channel=email)
    assert deliver_pending() == (1, 1)
    assert receiver.attempts == 3  # retried
    bad.refresh_from_db()
    good.refresh_from_db()
    assert bad.status == Notification.PENDING  # a later pass tries again
    assert bad.next_attempt_at > now()
    assert bad.attempts == 3
    assert ("500" if "status" in failure else "timed out") in bad.last_error
    assert good.status == Notification.SENT
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_a_webhook_failing_one_pass_is_sent_once_on_a_later_pass(
    receiver, hook, fast_retries, staff_client
):
    fast_retries.ALERTS_WEBHOOK_TRIES = 1
    fast_retries.ALERTS_RETRY_BACKOFF_S = 60
    receiver.status = 500
    note = queue(hook)
    t0 = now()
    assert deliver_pending(t0) == (0, 1)
    note.refresh_from_db()
    assert (note.status, note.passes, note.attempts) == (Notification.PENDING, 1, 1)
    assert note.next_attempt_at == t0 + timedelta(seconds=60)
    page = staff_client.get("/alerts/").content.decode()
    assert "h: retrying at" in page
    assert "HTTP Error 500" in page
    receiver.status = 200
    assert deliver_pending(t0 + timedelta(seconds=30)) == (0, 0)  # not due yet
    assert deliver_pending(t0 + timedelta(seconds=61)) == (1, 0)
    assert deliver_pending(t0 + timedelta(seconds=600)) == (0, 0)
    assert len(receiver.received) == 1
    note.refresh_from_db()
    assert (note.status, note.passes, note.attempts, note.last_error) == ("sent", 2, 2, "")
    assert "fired → h: sent (2 attempts)" in staff_client.get("/alerts/").content.decode()


@pytest.mark.django_db
def test_a_webhook_is_given_up_after_the_last_pass_and_shown_failed(
    receiver, hook, fast_retries, staff_client
):
    fast_retries.ALERTS_WEBHOOK_TRIES = 2
    fast_retries.ALERTS_NOTIFY_PASSES = 3
    fast_retries.ALERTS_RETRY_BACKOFF_S = 10
    receiver.status = 500
    note = queue(hook)
    t = now()
    for waited in (0, 10, 20):  # backoff 10 s, then 20 s
        t += timedelta(seconds=waited)
        assert deliver_pending(t) == (0, 1)
    assert deliver_pending(t + timedelta(days=1)) == (0, 0)
    assert receiver.attempts == 6  # 3 passes of 2 tries
    note.refresh_from_db()
    assert (note.status, note.passes, note.attempts) == (Notification.FAILED, 3, 6)
    assert note.next_attempt_at is None
    page = staff_client.get("/alerts/").content.decode()
    assert "failed after 6 attempts: after 2 attempts: HTTP Error 500" in page


@pytest.mark.django_db
def test_a_claimed_notification_is_not_sent_again(receiver, hook, fast_retries):
    queue(hook)
    assert deliver_pending() == (1, 0)
    assert deliver_pending() == (0, 0)
    assert len(receiver.received) == 1


@pytest.mark.django_db
def test_a_claim_whose_evaluator_died_is_sent_after_its_lease(receiver, hook, fast_retries):
    fast_retries.ALERTS_SEND_LEASE_S = 600
    note = queue(hook)
    t0 = now()
    Notification.objects.filter(pk=note.pk).update(  # claimed at t0, then the process died
        status=Notification.SENDING, next_attempt_at=t0 + timedelta(seconds=600)
    )
    assert deliver_pending(t0 + timedelta(seconds=60)) == (0, 0)  # another may still be sending
    assert deliver_pending(t0 + timedelta(seconds=601)) == (1, 0)
    assert deliver_pending(t0 + timedelta(seconds=1300)) == (0, 0)
    assert len(receiver.received) == 1
    note.refresh_from_db()
    assert (note.status, note.next_attempt_at) == (Notification.SENT, None)
