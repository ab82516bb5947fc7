"""Live dashboards watched by many: the same device and preset range is read from InfluxDB at
most once per refresh interval (``devices.live.shared_render``), whoever asks, and nothing of
one viewer reaches another."""

from __future__ import annotations

import json
import threading
import time
import types
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connections
from django.test import Client

from devices import influx as svc
from devices import live, simulator
from tests.devices.influx.points import write_lines


def write(env, value: float, minutes_ago: float = 1) -> None:
    at = int((datetime.now(UTC) - timedelta(minutes=minutes_ago)).timestamp())
    write_lines(env, [f"environment,device=busy Temperature={value} {at}"])


def queries(env, fn):
    env.local.stats.wait_idle()
    env.local.stats.reset()
    result = fn()
    env.local.stats.wait_idle()
    return result, env.local.stats.queries


@pytest.fixture
def cache_clock(monkeypatch):
    """The clock of Django's (local-memory) cache, standing still unless a test moves it
    (``cache_clock.now += seconds``): a shared read lasts exactly its interval, however slow
    the machine is between two requests, and a test can step past it without sleeping."""
    from django.core.cache import caches
    from django.core.cache.backends import base, locmem

    assert isinstance(caches["default"], locmem.LocMemCache), "the tests' cache is local memory"
    clock = types.SimpleNamespace(now=time.time())
    clock.time = lambda: clock.now
    for module in (base, locmem):
        monkeypatch.setattr(module, "time", clock)
    return clock


@pytest.fixture
def busy(local_influx, cache_clock):
    svc.register_device("busy")
    write(local_influx, 21.5)
    return local_influx


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_viewers_within_the_interval_share_one_read(busy, staff_user, plain_user):
    staff, viewer = logged_in(staff_user), logged_in(plain_user)

    def views():
        return [
            staff.get("/devices/busy/dashboard/", {"range": "1h"}),
            viewer.get("/devices/busy/dashboard/", {"range": "1h"}),
            *(c.get("/devices/busy/dashboard/data", {"range": "1h"}) for c in (staff, viewer)),
        ]

    pages, count = queries(busy, views)
    assert count == 2  # one dashboard read (device + charts) for four requests by two users
    assert all(p.status_code == 200 for p in pages)
    staff_page, viewer_page = (p.content.decode() for p in pages[:2])
    assert "operator" in staff_page
    assert "operator" not in viewer_page
    assert "viewer" in viewer_page
    assert json.loads(pages[2].content) == json.loads(pages[3].content)
    # Another range is another read.
    _, count = queries(busy, lambda: viewer.get("/devices/busy/dashboard/data", {"range": "6h"}))
    assert count == 2


def test_viewers_arriving_together_wait_for_one_read(busy, staff_user):
    clients = [logged_in(staff_user) for _ in range(8)]
    busy.local.faults.add(delay=0.3, path="/api/v2/query", count=2)  # a slow first read
    statuses = []

    def view(client):
        try:
            response = client.get("/devices/busy/dashboard/data", {"range": "1h"})
            statuses.append(response.status_code)
        finally:
            connections.close_all()  # a thread's own database connection (sessions, alerts)

    def together():
        threads = [threading.Thread(target=view, args=(c,)) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    _, count = queries(busy, together)
    assert statuses == [200] * 8
    assert count == 2


def test_after_the_interval_the_data_is_fresh(busy, staff_user, cache_clock):
    client = logged_in(staff_user)

    def latest():
        data = json.loads(client.get("/devices/busy/dashboard/data", {"range": "1h"}).content)
        return data["readings"][0]["value"]

    assert latest() == "21.50"
    write(busy, 30.25, minutes_ago=0)
    cache_clock.now += live.SHARED_SECONDS - 0.1
    assert latest() == "21.50"  # within the interval: the shared read
    cache_clock.now += 0.1
    value, count = queries(busy, latest)
    assert value == "30.25"
    assert count == 2


def test_custom_ranges_are_not_shared(busy, staff_user):
    client = logged_in(staff_user)
    now = datetime.now(UTC)
    custom = {"start": (now - timedelta(hours=2)).isoformat(), "stop": now.isoformat()}
    _, count = queries(
        busy, lambda: [client.get("/devices/busy/dashboard/data", custom) for _ in range(2)]
    )
    assert count == 4


def test_write_data_now_shows_at_once_on_the_page_it_returns_to(busy, staff_user):
    """The shared read is dropped when this app writes the device's data: the operator who
    pressed "Write data now" sees the new point, not the interval's earlier read."""
    client = logged_in(staff_user)

    def temperature():
        data = json.loads(client.get("/devices/busy/dashboard/data", {"range": "1h"}).content)
        r = next(r for r in data["readings"] if r["field"] == "Temperature")
        return r["value"], datetime.fromisoformat(r["time"])

    value, at = temperature()
    assert value == "21.50"
    response = client.post("/devices/busy/write-now/", {"what": "now"})
    assert response.status_code == 302
    # The simulated point of this minute (its value may happen to be 21.50 too: its time
    # tells it from the earlier point).
    value, written_at = temperature()
    assert written_at > at
    minute = simulator.epoch_minute(written_at)
    assert value == f"{simulator.Model('busy', 0).reading(minute)['Temperature']:,.2f}"


def _live_board(page: str) -> str:
    start = page.index('<div class="live-board"')
    return page[start : page.index('<script id="board-data"', start)]


def _data_block(page: str) -> dict:
    start = page.index('<script id="board-data" type="application/json">') + 48
    return json.loads(page[start : page.index("</script>", start)])


def test_the_charts_are_rendered_once_for_all_viewers_within_the_interval(
    busy, staff_user, plain_user
):
    from django.core.cache import cache

    from alerts.models import Rule

    cache.clear()
    Rule.objects.create(name="warm", field="Temperature", condition=Rule.ABOVE, threshold=30)
    staff, viewer = logged_in(staff_user), logged_in(plain_user)
    first = staff.get("/devices/busy/dashboard/", {"range": "1h"})
    second = viewer.get("/devices/busy/dashboard/", {"range": "1h"})
    rendered = [{t.name for t in r.templates} for r in (first, second)]
    assert {"includes/live_board.html", "includes/line_chart.html"} <= rendered[0]
    # The second viewer's page is its own (user, alerts panel) around the same board markup.
    assert not {"includes/live_board.html", "includes/line_chart.html"} & rendered[1]
    pages = [r.content.decode() for r in (first, second)]
    assert _live_board(pages[0]) == _live_board(pages[1])
    assert 'class="line"' in _live_board(pages[1])
    assert "operator" in pages[0]
    assert "operator" not in pages[1]
    # The data block and the refresh both carry the device's threshold line.
    refresh = json.loads(viewer.get("/devices/busy/dashboard/data", {"range": "1h"}).content)
    # The refresh adds the viewer's alerts panel, whose markup the page already shows; the same
    # key: the first refresh does not replace it.
    assert refresh["alerts"].pop("html").startswith('<section aria-labelledby="device-alerts-h"')
    assert _data_block(pages[1]) == refresh
    assert refresh["thresholds"] == {"Temperature": [30.0]}
    assert refresh["readings"][0]["value"] == "21.50"


def test_a_refresh_renders_no_markup_and_the_next_page_renders_it_once(busy, plain_user):
    """The live refresh needs only the JSON: the board's markup is made for the first page that
    shows that read, not for every refresh (a 30-day board's tables and charts are most of it)."""
    from django.core.cache import cache

    cache.clear()
    viewer = logged_in(plain_user)
    refresh = viewer.get("/devices/busy/dashboard/data", {"range": "1h"})
    assert refresh.status_code == 200
    # Only the viewer's own part: the alerts panel (with its times).
    panel = {"alerts/includes/device_panel.html", "includes/time.html"}
    assert {t.name for t in refresh.templates} <= panel
    first = viewer.get("/devices/busy/dashboard/", {"range": "1h"})
    second = viewer.get("/devices/busy/dashboard/", {"range": "1h"})
    assert "includes/line_chart.html" in {t.name for t in first.templates}
    assert "includes/line_chart.html" not in {t.name for t in second.templates}
    assert _live_board(first.content.decode()) == _live_board(second.content.decode())
    assert _data_block(first.content.decode())["charts"] == json.loads(refresh.content)["charts"]


def test_a_field_name_cannot_end_the_pages_data_block(busy, staff_user):
    at = int(datetime.now(UTC).timestamp()) - 60
    write_lines(busy, [f'environment,device=busy x</script><b>=" hi" {at}'])
    page = logged_in(staff_user).get("/devices/busy/dashboard/", {"range": "1h"}).content.decode()
    assert "x</script>" not in page
    assert _data_block(page)["non_numeric"] == ["x</script><b>"]
