"""Firing alerts on the device pages: the overview's panel, the list's badges, the device page's
and the dashboard's panel, the dashboard chart's threshold lines; one database query for a page
of devices; a broken alerts table never takes a page down."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alerts.models import Alert, Rule
from alerts.services import page_alerts
from tests.alerts.helpers import now, rule, write_minutes
from tests.devices.influx.points import write_registry


def register(env, *ids):
    for i, device_id in enumerate(ids):
        write_registry(env, device_id, {"key": f"k{i}", "token": "t", "createdAt": "2024-01-01"})


@pytest.fixture
def firing(db):
    co2 = rule(name="CO2 high", device_id="room-1")
    band = rule(name="humid band", field="Humidity", condition=Rule.OUTSIDE, threshold=30,
                high=60, severity=Rule.CRITICAL)  # fmt: skip
    rule(name="off", field="Temperature", threshold=99, enabled=False)
    alert = Alert.objects.create(rule=co2, device_id="room-1", started_at=now(), value=1812.5)
    Alert.objects.create(rule=band, device_id="room-2", started_at=now(), value=71,
                         resolved_at=now())  # fmt: skip
    return alert


def test_the_overview_lists_firing_alerts_with_a_link_to_their_history(
    staff_client, influx, firing
):
    page = staff_client.get("/").content.decode()
    assert "Firing alerts" in page
    assert "CO2 high" in page
    assert "1812.5" in page
    assert 'href="/alerts/?device=room-1"' in page
    assert "humid band" not in page  # resolved


def test_the_list_badges_devices_with_firing_alerts(staff_client, influx, firing):
    register(influx, "room-1", "room-2")
    page = staff_client.get("/devices/").content.decode()
    assert page.count("alert-badge") == 1
    assert "1 firing" in page
    assert 'href="/alerts/?device=room-1&amp;state=firing"' in page


def test_the_device_page_and_dashboard_show_the_alert_and_the_thresholds(
    staff_client, influx, firing
):
    register(influx, "room-1")
    write_minutes(influx, "room-1", range(5, -1, -1), 1800)
    write_minutes(influx, "room-1", range(5, -1, -1), 50, field="Humidity")
    detail = staff_client.get("/devices/room-1/").content.decode()
    assert "CO2 high" in detail
    assert "Acknowledge</button>" in detail
    board = staff_client.get("/devices/room-1/dashboard/")
    html = board.content.decode()
    assert "CO2 high" in html
    # Said without JavaScript too, beside the charts' data tables.
    assert "CO2 high: CO2 above 1500 for 10 min" in html
    assert "humid band: Humidity outside 30..60 for 10 min" in html
    assert "Temperature above 99" not in html  # a disabled rule draws nothing
    data = board.context["board_json"]
    assert data["thresholds"] == {"CO2": [1500.0], "Humidity": [30.0, 60.0]}
    live = json.loads(staff_client.get("/devices/room-1/dashboard/data").content)
    assert live["thresholds"] == data["thresholds"]
    # Another device: the fleet-wide band applies, room-1's CO2 rule does not.
    register(influx, "room-9")
    other = staff_client.get("/devices/room-9/dashboard/")
    assert other.context["board_json"]["thresholds"] == {"Humidity": [30.0, 60.0]}
    assert "CO2 high" not in other.content.decode()


def test_acknowledging_from_the_dashboard_comes_back_to_it(
    staff_client, staff_user, influx, firing
):
    register(influx, "room-1")
    url = "/devices/room-1/dashboard/?range=1h"
    response = staff_client.post(f"/alerts/{firing.pk}/ack/", {"next": url})
    assert response.status_code == 302
    assert response["Location"] == url
    firing.refresh_from_db()
    assert firing.acknowledged_by == staff_user
    assert "Acknowledged by operator" in staff_client.get(url).content.decode()
    evil = staff_client.post(f"/alerts/{firing.pk}/ack/", {"next": "https://evil.example/"})
    assert evil["Location"] == "/alerts/"


def selects(queries):
    """The SELECTs of a capture (the savepoint that guards the lookup is not a query of data)."""
    return [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")]


@pytest.mark.django_db
def test_one_database_query_for_a_page_of_devices(firing):
    ids = [f"room-{i}" for i in range(200)]
    with CaptureQueriesContext(connection) as queries:
        alerts = page_alerts(ids)
        assert [a.device_id for a in alerts.alerts] == ["room-1"]
        assert alerts.alerts[0].rule.name == "CO2 high"
    assert len(selects(queries)) == 1
    with CaptureQueriesContext(connection) as queries:
        assert page_alerts(["room-1"], thresholds_for="room-1").threshold_values()
    assert len(selects(queries)) == 2  # plus the device's threshold rules


def test_a_database_error_in_the_alerts_lookup_is_said_not_a_500(staff_client, influx, firing):
    register(influx, "room-1")
    write_minutes(influx, "room-1", [1, 0], 900)
    with connection.cursor() as cursor:  # the alerts tables are gone (a missed migration)
        cursor.execute("ALTER TABLE alerts_alert RENAME TO alerts_alert_gone")
        cursor.execute("ALTER TABLE alerts_rule RENAME TO alerts_rule_gone")
    try:
        for url in ["/", "/devices/", "/devices/room-1/", "/devices/room-1/dashboard/"]:
            response = staff_client.get(url)
            assert response.status_code == 200, url
            if url != "/devices/":
                assert "Alerts could not be read" in response.content.decode(), url
        data = json.loads(staff_client.get("/devices/room-1/dashboard/data").content)
        assert data["thresholds"] == {}
        assert [c["field"] for c in data["charts"]] == ["CO2"]  # the rest of the data is there
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE alerts_alert_gone RENAME TO alerts_alert")
            cursor.execute("ALTER TABLE alerts_rule_gone RENAME TO alerts_rule")
