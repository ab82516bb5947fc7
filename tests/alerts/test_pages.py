"""Alert pages: history with filters, staff acknowledge and silence, rules for staff; CSP."""

import pytest
from django.test import Client

from alerts.models import Alert, Rule
from tests.alerts.helpers import now, rule
from tests.deploy.test_csp import assert_policy

pytestmark = pytest.mark.django_db


@pytest.fixture
def alerts():
    co2 = rule(name="CO2 high")
    cold = rule(name="cold", field="Temperature", condition=Rule.BELOW, threshold=5,
                severity=Rule.CRITICAL)  # fmt: skip
    firing = Alert.objects.create(rule=co2, device_id="room-1", started_at=now(), value=1800)
    done = Alert.objects.create(
        rule=cold, device_id="room-2", started_at=now(), value=2, resolved_at=now()
    )
    return firing, done


def test_history_filters(user_client, alerts):
    page = user_client.get("/alerts/").content.decode()
    assert "room-1" in page
    assert "room-2" in page
    assert "Acknowledge</button>" not in page  # not staff
    firing = user_client.get("/alerts/?state=firing").content.decode()
    assert "room-1" in firing
    assert "room-2" not in firing
    critical = user_client.get("/alerts/?severity=critical").content.decode()
    assert "room-2" in critical
    assert "room-1" not in critical
    assert "room-1" not in user_client.get("/alerts/?device=room-2").content.decode()


@pytest.mark.parametrize("device", ["room-1\x00", "a\x00b", "room 1", "x" * 65])
def test_a_device_filter_no_device_can_have_finds_nothing(user_client, alerts, device):
    """Not a 500 (PostgreSQL refuses NUL in a string): no device has that id, so no alert."""
    response = user_client.get("/alerts/", {"device": device})
    assert response.status_code == 200
    page = response.content.decode()
    assert "No alerts match." in page
    assert "<code>room-1</code>" not in page
    assert "<code>room-2</code>" not in page


def test_history_needs_a_login(client):
    assert client.get("/alerts/").status_code == 302


def test_staff_acknowledge_and_silence(staff_client, staff_user, alerts):
    assert "Acknowledge</button>" in staff_client.get("/alerts/").content.decode()
    firing, _ = alerts
    assert staff_client.post(f"/alerts/{firing.pk}/ack/").status_code == 302
    firing.refresh_from_db()
    assert firing.acknowledged_by == staff_user
    assert staff_client.post(f"/alerts/rules/{firing.rule.pk}/silence/", {"hours": "4"})
    firing.rule.refresh_from_db()
    assert firing.rule.silenced_until > now()
    staff_client.post(f"/alerts/rules/{firing.rule.pk}/silence/", {"hours": "0"})
    firing.rule.refresh_from_db()
    assert firing.rule.silenced_until is None


def test_others_cannot_acknowledge(user_client, alerts):
    firing, _ = alerts
    assert user_client.post(f"/alerts/{firing.pk}/ack/").status_code == 403
    firing.refresh_from_db()
    assert firing.acknowledged_at is None


def test_staff_create_rules_and_see_form_errors(staff_client, plain_user):
    bad = staff_client.post(
        "/alerts/rules/new/",
        {"name": "x", "condition": "above", "field": 'CO2")', "threshold": "1",
         "minutes": "0", "severity": "info"},
    )  # fmt: skip
    assert bad.status_code == 400
    assert "1 to 64 letters" in bad.content.decode()
    assert "At least 1 minute" in bad.content.decode()
    assert not Rule.objects.exists()
    ok = staff_client.post(
        "/alerts/rules/new/",
        {"name": "CO2 high", "condition": "above", "field": "CO2", "threshold": "1500",
         "minutes": "10", "severity": "warning", "enabled": "on"},
    )  # fmt: skip
    assert ok.status_code == 302
    assert "CO2 above 1500 for 10 min" in staff_client.get("/alerts/rules/").content.decode()
    viewer = Client()
    viewer.force_login(plain_user)
    assert viewer.get("/alerts/rules/").status_code == 403


def test_pages_pass_the_content_security_policy(staff_client, alerts):
    for url in ["/alerts/", "/alerts/rules/", "/alerts/rules/new/"]:
        assert_policy(staff_client.get(url), url)
