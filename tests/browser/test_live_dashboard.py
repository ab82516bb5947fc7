"""The live dashboard in Chromium: uPlot charts that show a value on hover, and a point a
device writes appears without a reload, under the site's CSP (no violation)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from devices import influx as svc
from tests.browser.pages import log_in, open_page
from tests.devices.influx.points import write_lines

pytestmark = [pytest.mark.browser]


@pytest.fixture
def page(monkeypatch):
    with open_page(monkeypatch, timezone_id="Europe/Prague") as page:
        yield page


@pytest.mark.django_db(transaction=True)
def test_hover_shows_a_value_and_a_new_point_appears_without_reload(
    live_server, influx, staff_user, page
):
    svc.register_device("live-1")
    stop = datetime.now(UTC).replace(second=0, microsecond=0)
    write_lines(
        influx,
        [
            f"environment,device=live-1 Temperature={20 + m / 10} "
            f"{int((stop - timedelta(minutes=m)).timestamp())}"
            for m in range(1, 40)
        ],
    )
    base = live_server.url
    log_in(page, base, "/devices/live-1/dashboard/?range=1h")
    expect(page.get_by_role("heading", name="Dashboard live-1")).to_be_visible()

    figure = page.locator('figure.chart[data-field="Temperature"]')
    canvas = figure.locator("canvas")
    expect(canvas).to_be_visible()  # uPlot drew it (the server SVG is the no-JS fallback)
    expect(figure.locator("svg.server-chart")).to_be_hidden()
    # The viewer's time zone is named.
    expect(page.locator(".live-status")).to_contain_text("Europe/Prague")

    figure.scroll_into_view_if_needed()
    box = figure.locator(".u-over").bounding_box()
    page.mouse.move(box["x"] + 5, box["y"] + 5)
    page.mouse.move(box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.5, steps=5)
    value = figure.locator(".u-legend .u-series").nth(1).locator(".u-value")
    expect(value).not_to_have_text("—")
    expect(value).to_have_text(re.compile(r"^2\d(\.\d+)?$"))
    time_value = figure.locator(".u-legend .u-series").first.locator(".u-value")
    expect(time_value).to_contain_text(":")

    page.evaluate("window.__notReloaded = true")
    write_lines(
        influx, [f"environment,device=live-1 Temperature=77.7 {int(datetime.now(UTC).timestamp())}"]
    )
    gauge_value = page.locator("figure.gauge .reading .value").first
    expect(gauge_value).to_have_text("77.70", timeout=20_000)
    expect(figure).not_to_have_attribute("data-updates", "0")
    assert page.evaluate("window.__notReloaded") is True
    assert page.evaluate("window.__cspViolations") == []


@pytest.mark.django_db(transaction=True)
def test_the_overview_lists_the_active_device_and_the_silent_one(
    live_server, influx, staff_user, page
):
    svc.register_device("active-1")
    svc.register_device("silent-1")
    now = int(datetime.now(UTC).timestamp())
    write_lines(
        influx,
        [
            f"environment,device=active-1 Temperature=21.5 {now - 30}",
            f"environment,device=silent-1 Temperature=18.0 {now - 3 * 3600}",
        ],
    )
    log_in(page, live_server.url, "/")
    expect(page.get_by_role("heading", name="Fleet overview")).to_be_visible()
    expect(page.locator('[data-stat="online"]')).to_have_text("1")
    expect(page.locator('[data-stat="silent"]')).to_have_text("1")
    active = page.get_by_role("region", name="Most recently active")
    expect(active.get_by_role("link", name="active-1")).to_be_visible()
    expect(active).to_contain_text("21.50")
    silent = page.get_by_role("region", name="Went silent")
    expect(silent.get_by_role("link", name="silent-1")).to_be_visible()
    assert page.evaluate("window.__cspViolations") == []


@pytest.mark.localonly
@pytest.mark.django_db(transaction=True)
def test_a_failing_refresh_shows_stale_and_recovers_by_itself(
    live_server, local_influx, staff_user, page
):
    svc.register_device("flaky-1")
    now = int(datetime.now(UTC).timestamp())
    write_lines(local_influx, [f"environment,device=flaky-1 Temperature=21.5 {now - 30}"])
    log_in(page, live_server.url, "/devices/flaky-1/dashboard/?range=1h")
    status = page.locator(".live-status")
    expect(status).to_contain_text("Live")
    local_influx.local.faults.add(status=500, count=100, path="/api/v2/query")
    expect(status).to_contain_text("retrying", timeout=20_000)
    expect(status).to_have_attribute("data-state", "stale")
    local_influx.local.faults.clear()
    expect(status).to_contain_text("Live: updated", timeout=30_000)
