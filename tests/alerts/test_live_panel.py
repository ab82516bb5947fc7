"""The dashboard's alerts panel follows the alerts live: ``dashboard/data`` carries the panel as
its viewer sees it (``alerts``: ``key`` and ``html``), and the key changes only when what the
panel says does; the Acknowledge forms come back to the dashboard page; the cost of a refresh."""

import json
import re
from html import unescape

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from alerts.panel import key_of
from alerts.services import evaluate
from devices import influx
from tests.alerts.helpers import rule, write_minutes
from tests.alerts.test_device_pages import register, selects
from tests.devices.test_views_dashboard_shared import cache_clock, queries  # noqa: F401

DATA = "/devices/room-1/dashboard/data"


def refresh(client, **params):
    response = client.get(DATA, params or {"range": "1h"})
    assert response.status_code == 200
    return json.loads(response.content)


def nexts(html):
    """The Acknowledge forms' ``next`` values (as the browser reads the attribute)."""
    return [unescape(v) for v in re.findall(r'name="next" value="([^"]*)"', html)]


@pytest.fixture
def room(local_influx, cache_clock):  # noqa: F811 (the frozen cache clock)
    register(local_influx, "room-1")
    rule(name="CO2 high", device_id="room-1")  # CO2 above 1500 for 10 min
    write_minutes(local_influx, "room-1", range(30, 20, -1), 900)  # before the rule's window
    return local_influx


def test_an_alert_that_fires_then_resolves_shows_in_the_refresh(room, staff_client):
    quiet = refresh(staff_client)
    assert "No alert is firing on this device." in quiet["alerts"]["html"]
    assert "CO2 high: CO2 above 1500 for 10 min" in quiet["alerts"]["html"]  # the threshold
    assert refresh(staff_client)["alerts"]["key"] == quiet["alerts"]["key"]  # nothing changed

    write_minutes(room, "room-1", range(12, -1, -1), 1800)
    assert [a.device_id for a in evaluate(notify=False).fired] == ["room-1"]
    # Within the shared interval: the charts are the last read (no InfluxDB query), the panel
    # is the database's now.
    firing, count = queries(room, lambda: refresh(staff_client))
    assert count == 0
    assert firing["alerts"]["key"] != quiet["alerts"]["key"]
    html = firing["alerts"]["html"]
    assert "firing</strong> [warning] CO2 high" in html
    assert "value 1800.0" in html
    assert "Acknowledge</button>" in html
    assert "No alert is firing" not in html

    write_minutes(room, "room-1", [0], 900)
    assert len(evaluate(notify=False).resolved) == 1
    resolved = refresh(staff_client)["alerts"]
    assert "No alert is firing on this device." in resolved["html"]
    assert "CO2 high</strong>" not in resolved["html"]
    assert resolved["key"] == quiet["alerts"]["key"]  # says the same as before it fired


def test_the_key_ignores_the_csrf_token_and_follows_an_acknowledgement(room, staff_client):
    write_minutes(room, "room-1", range(12, -1, -1), 1800)
    alert = evaluate(notify=False).fired[0]
    first, second = refresh(staff_client)["alerts"], refresh(staff_client)["alerts"]
    token = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
    assert token.search(first["html"])[1] != token.search(second["html"])[1]  # masked anew
    assert first["key"] == second["key"]  # so the panel is not replaced
    staff_client.post(f"/alerts/{alert.pk}/ack/", {"next": "/"})
    acked = refresh(staff_client)["alerts"]
    assert acked["key"] != first["key"]
    assert "Acknowledged by operator." in acked["html"]
    assert "Acknowledge</button>" not in acked["html"]


def test_the_acknowledge_form_comes_back_to_the_dashboard_with_its_range(room, staff_client):
    write_minutes(room, "room-1", range(12, -1, -1), 1800)
    alert = evaluate(notify=False).fired[0]
    assert nexts(refresh(staff_client, range="6h")["alerts"]["html"]) == [
        "/devices/room-1/dashboard/?range=6h"
    ]
    custom = {"start": "2026-11-26T13:00", "stop": "2026-11-26T14:00"}
    assert nexts(refresh(staff_client, **custom)["alerts"]["html"]) == [
        "/devices/room-1/dashboard/?start=2026-11-26T13%3A00&stop=2026-11-26T14%3A00"
    ]
    # The page without a range shows the default one: its panel and the refresh's agree.
    page = staff_client.get("/devices/room-1/dashboard/")
    url = f"/devices/room-1/dashboard/?range={influx.DEFAULT_RANGE}"
    assert nexts(page.content.decode()) == [url]
    again = refresh(staff_client, range=influx.DEFAULT_RANGE)["alerts"]  # what charts.js asks
    assert page.context["board_json"]["alerts"]["key"] == again["key"]
    assert staff_client.post(f"/alerts/{alert.pk}/ack/", {"next": url})["Location"] == url


def test_a_viewer_who_is_not_staff_gets_no_acknowledge_form(room, user_client):
    write_minutes(room, "room-1", range(12, -1, -1), 1800)
    evaluate(notify=False)
    html = refresh(user_client)["alerts"]["html"]
    assert "CO2 high" in html
    assert "<form" not in html
    assert "csrfmiddlewaretoken" not in html


def test_a_refresh_costs_two_alert_queries_and_no_influxdb_query_more(room, staff_user):
    write_minutes(room, "room-1", range(12, -1, -1), 1800)
    evaluate(notify=False)
    client = Client()
    client.force_login(staff_user)
    _, count = queries(room, lambda: refresh(client))
    assert count == 2  # the shared read (device + charts), as before the panel went live
    with CaptureQueriesContext(connection) as captured:
        _, count = queries(room, lambda: refresh(client))
    assert count == 0  # shared within the interval
    # The token stash's sweep, the session, the user (every page), then the panel: the firing
    # alerts (with their rules and who acknowledged them) and the threshold rules; no other
    # query (the savepoint or transaction around the alerts' reads reads nothing).
    tables = [re.search(r'FROM "(\w+)"', sql)[1] for sql in selects(captured)]
    assert tables == [
        "token_stash_pendingcredentials",
        "django_session",
        "auth_user",
        "alerts_alert",
        "alerts_rule",
    ]


def test_a_database_error_shows_in_the_panel_and_the_charts_still_refresh(room, staff_client):
    quiet = refresh(staff_client)["alerts"]
    with connection.cursor() as cursor:  # the alerts tables are gone (a missed migration)
        cursor.execute("ALTER TABLE alerts_alert RENAME TO alerts_alert_gone")
    try:
        data = refresh(staff_client)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE alerts_alert_gone RENAME TO alerts_alert")
    assert "Alerts could not be read from the database." in data["alerts"]["html"]
    assert data["alerts"]["key"] != quiet["key"]
    assert not data["error"]  # not a failed refresh: charts.js applies it
    assert [c["field"] for c in data["charts"]] == ["CO2"]
    # The database back: the next refresh shows the panel as it was.
    assert refresh(staff_client)["alerts"]["key"] == quiet["key"]


def test_the_key_ignores_the_minutes_ago_but_not_what_the_panel_says():
    def panel(ago, token, value):
        return (
            f'<li data-alert="1">since <time>12:00</time> <span class="ago">({ago})</span>, '
            f'value {value}.<input type="hidden" name="csrfmiddlewaretoken" value="{token}"></li>'
        )

    key = key_of(panel("1 minute ago", "abc", 1800))
    assert key_of(panel("2 minutes ago", "xyz", 1800)) == key  # not replaced every minute
    assert key_of(panel("1 minute ago", "abc", 1900)) != key
