"""A device dashboard in Chromium, driven as a viewer would: presets, a custom range (and a
wrong one), drag-to-zoom across every chart, the position track, resizing, and times in the
viewer's own zone (the browser runs in Asia/Tokyo, the server in UTC).

Telemetry is written by ``manage.py simulate`` (a day of backfill with the device's own token),
the same path as ``make run``'s demo device.
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from io import StringIO
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connections
from django.test import Client
from playwright.sync_api import expect, sync_playwright

from devices import influx as svc
from devices import live
from tests.browser import CHROMIUM, CHROMIUM_ARGS
from tests.browser.test_csp import COLLECT_VIOLATIONS
from tests.devices.influx.points import write_lines

pytestmark = [pytest.mark.browser]

ZONE = "Asia/Tokyo"
DEVICE = "board-1"


@pytest.fixture(scope="module")
def browser():
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        # Playwright's sync API keeps an event loop around; the ORM is used by fixtures only.
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(
        timezone_id=ZONE, locale="en-US", viewport={"width": 1280, "height": 900}
    )
    context.add_init_script(COLLECT_VIOLATIONS)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page
        assert page.evaluate("window.__cspViolations") == []
    finally:
        # ORM calls made while Playwright's event loop ran have their own connections
        # (Django keeps one set per asyncio context): close them in that loop.
        connections.close_all()
        context.close()


def simulate(*args: str) -> str:
    out = StringIO()
    call_command("simulate", *args, stdout=out, stderr=out)
    assert ", 0 failed" in out.getvalue(), out.getvalue()
    return out.getvalue()


@pytest.fixture
def logged_in(live_server, influx, staff_user, page, monkeypatch):
    """The page with an operator's session (the login form has its own tests); live pages
    refreshing every 2 s instead of 5, so waiting for a refresh is short. DEVICE's dashboard URL.
    """
    monkeypatch.setattr(live, "REFRESH_SECONDS", 2)
    client = Client()
    client.force_login(staff_user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
    )
    return f"{live_server.url}/devices/{DEVICE}/dashboard/"


@pytest.fixture
def board(logged_in):
    """DEVICE with a day of simulated telemetry (moving: it has a track); the page logged in."""
    simulate(DEVICE, "--create", "--backfill-days", "1")
    return logged_in


def chart(page, field="Temperature"):
    return page.locator(f'figure.chart[data-field="{field}"]')


def x_range(figure) -> tuple[int, int]:
    """The x scale uPlot draws (epoch seconds), as charts.js exposes it on the figure."""
    expect(figure.locator("canvas")).to_be_visible()
    # Both in one read: a live refresh may move the range in between.
    low, high = figure.evaluate("f => [f.dataset.xMin, f.dataset.xMax]")
    return int(low), int(high)


def board_data(page) -> dict:
    return json.loads(page.locator("#board-data").text_content())


def drag(page, figure, start: float, stop: float) -> None:
    """Press, move and release the mouse across a chart, between two fractions of its width."""
    figure.scroll_into_view_if_needed()
    box = figure.locator(".u-over").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * start, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * stop, y, steps=8)
    page.mouse.up()


def stats(figure) -> str:
    return figure.locator("figcaption .stats").inner_text()


def last_hour_counts(newest: str, made_from: float, made_by: float) -> range:
    """The points an hour long live window holds when it ends at a moment in [made_from,
    made_by] (the page was made then), of points a minute apart up to ``newest`` (ISO): 60,
    or 59 once a minute has passed since the newest point, so the count cannot depend on the
    second of the minute at which ``simulate`` ran."""
    last = datetime.fromisoformat(newest).timestamp()

    def held(end: float) -> int:  # the points at or after end - 3600 (and before end)
        return int((last - (end - 3600)) // 60) + 1

    return range(held(made_by), held(made_from) + 1)


@pytest.mark.django_db(transaction=True)
def test_a_preset_redraws_the_charts_over_its_range(board, page):
    made_from = time.time()
    page.goto(f"{board}?range=1h")
    temperature = chart(page)
    low, high = x_range(temperature)
    assert high - low == 3600
    hour_stats = stats(temperature)
    counts = last_hour_counts(board_data(page)["last_seen"], made_from, time.time())
    found = re.search(r"\b(\d+) points, min [\d.]+, max [\d.]+, mean [\d.]+", hour_stats)
    assert found, hour_stats
    assert int(found[1]) in counts, (hour_stats, counts)

    page.get_by_role("navigation", name="Time range").get_by_role("link", name="7d").click()
    expect(page).to_have_url(re.compile(r"\?range=7d$"))
    expect(page.get_by_role("heading", name=re.compile(r"^Last 7d"))).to_be_visible()
    picker = page.get_by_role("navigation", name="Time range")
    expect(picker.locator("[aria-current]")).to_have_text("7d")
    low, high = x_range(temperature)
    # The whole week, from the hour before (7d starts on the hour), though the device has a
    # day of data.
    assert low % 3600 == 0
    assert 7 * 86400 <= high - low < 7 * 86400 + 3600
    assert board_data(page)["every"] == "1h"
    # Min/max/mean now over the whole day written (a point a minute), not the last hour.
    assert re.search(r"\b1,?44[01] points", stats(temperature))
    assert stats(temperature) != hour_stats
    assert page.get_by_role("alert").count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_custom_range_redraws_that_window_and_a_wrong_one_is_explained(board, page):
    page.goto(f"{board}?range=1d")
    stop = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)
    start = stop - timedelta(hours=3)
    form = page.get_by_role("group", name="Custom range (UTC)")
    form.get_by_label("From").fill(start.strftime("%Y-%m-%dT%H:%M"))
    form.get_by_label("To").fill(stop.strftime("%Y-%m-%dT%H:%M"))
    form.get_by_role("button", name="Show").click()

    expect(page.locator(".live-status")).to_contain_text("Fixed range")
    heading = f"{start:%Y-%m-%d %H:%M:%S} UTC \u2013 {stop:%Y-%m-%d %H:%M:%S} UTC"
    expect(page.get_by_role("heading", name=re.compile(re.escape(heading)))).to_be_visible()
    query = parse_qs(urlsplit(page.url).query)
    assert query["start"] == [start.strftime("%Y-%m-%dT%H:%M")]
    for field in ("Temperature", "Humidity", "CO2"):
        assert x_range(chart(page, field)) == (int(start.timestamp()), int(stop.timestamp()))
    times = [t for c in board_data(page)["charts"] for t in c["t"]]
    assert times
    assert start.timestamp() <= min(times)
    assert max(times) < stop.timestamp()
    assert re.search(r"\b18[01] points", stats(chart(page)))  # 3 hours, a point a minute

    # Stop before start: the form says so, next to the field, and nothing else breaks.
    form.get_by_label("From").fill(stop.strftime("%Y-%m-%dT%H:%M"))
    form.get_by_label("To").fill(start.strftime("%Y-%m-%dT%H:%M"))
    form.get_by_role("button", name="Show").click()
    expect(page.locator("#range-stop-err")).to_have_text("The stop must be after the start.")
    expect(form.get_by_label("To")).to_have_attribute("aria-invalid", "true")
    expect(chart(page).locator("canvas")).to_be_visible()  # the default range is still drawn

    form.get_by_label("From").fill("next tuesday")
    form.get_by_role("button", name="Show").click()
    expect(page.locator("#range-start-err")).to_contain_text("Not a date and time: 'next tuesday'")


@pytest.mark.django_db(transaction=True)
def test_dragging_across_a_chart_zooms_every_chart_and_reset_goes_back(board, page):
    page.goto(f"{board}?range=1d")
    temperature, humidity = chart(page), chart(page, "Humidity")
    day = x_range(temperature)
    assert day[1] - day[0] == 86400

    drag(page, temperature, 0.25, 0.5)
    expect(page.get_by_text(re.compile(r"^Zoomed to .* \(Asia/Tokyo\)\.$"))).to_be_visible()
    low, high = x_range(temperature)
    assert 0.2 * 86400 < high - low < 0.3 * 86400  # a quarter of the day
    assert day[0] < low < high < day[1]
    assert x_range(humidity) == (low, high)  # every chart shows the same window
    # The URL is that window as a custom range: a reload or a shared link shows it.
    query = parse_qs(urlsplit(page.url).query)
    assert "range" not in query
    assert abs(datetime.fromisoformat(query["start"][0]).timestamp() - low) <= 1
    assert abs(datetime.fromisoformat(query["stop"][0]).timestamp() - high) <= 1

    # A live refresh brings new data but keeps the zoom.
    updates = temperature.get_attribute("data-updates")
    expect(temperature).not_to_have_attribute("data-updates", updates, timeout=15_000)
    assert x_range(temperature) == (low, high)

    page.get_by_role("button", name="Reset zoom").click()
    expect(page.get_by_role("button", name="Reset zoom")).to_be_hidden()
    expect(page).to_have_url(f"{board}?range=1d")
    low2, high2 = x_range(humidity)
    assert high2 - low2 == 86400
    assert high2 >= day[1]

    # Double-click resets too; "Open this window" (or a reload) has the server show it.
    drag(page, humidity, 0.6, 0.9)
    zoomed = x_range(temperature)
    assert zoomed[1] - zoomed[0] < 0.4 * 86400
    humidity.locator(".u-over").dblclick()
    expect(page).to_have_url(f"{board}?range=1d")
    low, high = x_range(temperature)
    assert high - low == 86400
    drag(page, humidity, 0.6, 0.9)
    zoomed = x_range(temperature)
    zoomed_url = page.url
    page.get_by_role("link", name="Open this window").click()
    expect(page.locator(".live-status")).to_contain_text("Fixed range")
    assert page.url == zoomed_url
    assert abs(x_range(temperature)[0] - zoomed[0]) <= 1
    assert abs(x_range(temperature)[1] - zoomed[1]) <= 1
    # Min/max/mean and the tables are now those of the window: about 30% of the day's points.
    points = int(re.search(r"(\d+) points", stats(temperature)).group(1))
    assert 0.25 * 1440 < points < 0.35 * 1440


@pytest.mark.django_db(transaction=True)
def test_the_track_is_drawn_with_its_start_and_last_position_and_a_table(board, page):
    page.goto(f"{board}?range=1h")
    track = page.locator("figure.track")
    caption = track.locator("figcaption").inner_text()
    count = int(re.search(r"(\d+) positions", caption).group(1))
    assert count >= 59  # one per 1-minute window of the last hour
    path = track.locator("path.track-line").get_attribute("d")
    assert path.startswith("M")
    assert path.count("L") == count - 1
    start, end = track.locator("circle.track-start"), track.locator("circle.track-end")
    expect(start).to_be_visible()
    expect(end).to_be_visible()
    expect(end.locator("title")).to_contain_text("Last position")
    # Lat and Lon are the track, not two line charts.
    assert chart(page, "Lat").count() == 0
    assert chart(page, "Lon").count() == 0
    track.get_by_text(re.compile(r"^Coordinates table")).click()
    rows = track.locator("tbody tr")
    expect(rows).to_have_count(count)
    lat, lon = (float(c) for c in rows.first.locator("td.num").all_inner_texts())
    assert -90 <= lat <= 90
    assert -180 <= lon <= 180


@pytest.mark.django_db(transaction=True)
def test_charts_follow_the_width_of_the_page(board, page):
    page.goto(f"{board}?range=1h")
    canvas = chart(page).locator("canvas")
    expect(canvas).to_be_visible()
    wide = canvas.bounding_box()["width"]
    page.set_viewport_size({"width": 400, "height": 900})  # a phone: one column
    page.wait_for_function(
        "([sel, w]) => document.querySelector(sel).getBoundingClientRect().width < w - 50",
        arg=['figure.chart[data-field="Temperature"] canvas', wide],
    )
    narrow = chart(page).bounding_box()
    box = canvas.bounding_box()
    assert box["x"] >= narrow["x"]
    assert box["x"] + box["width"] <= narrow["x"] + narrow["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= 400  # no sideways scroll


@pytest.mark.django_db(transaction=True)
def test_times_are_in_the_viewers_zone_and_the_zone_is_named(board, page):
    page.goto(f"{board}?range=1h")
    expect(page.locator(".live-status")).to_contain_text(f"(times in {ZONE})")
    temperature = chart(page)
    legend = temperature.locator(".u-legend .u-series")
    expect(legend.first.locator(".u-label")).to_have_text(f"Time ({ZONE})")

    temperature.scroll_into_view_if_needed()
    height = temperature.bounding_box()["height"]
    box = temperature.locator(".u-over").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2)
    shown = legend.first.locator(".u-value")
    expect(shown).to_have_text(re.compile(r"\d:\d\d:\d\d [AP]M$"))
    assert temperature.bounding_box()["height"] == height  # the page does not jump on hover
    expect(legend.nth(1).locator(".u-value")).to_have_text(re.compile(r"^\d+(\.\d+)?$"))
    # The hovered time, read as Tokyo time, is one of the chart's points; read as UTC it
    # would be 9 hours off, outside the hour shown.
    text = re.sub(r"\s+", " ", shown.inner_text())  # Chromium puts U+202F before AM/PM
    local = datetime.strptime(text, "%m/%d/%Y, %I:%M:%S %p").replace(tzinfo=ZoneInfo(ZONE))
    series = next(c for c in board_data(page)["charts"] if c["field"] == "Temperature")
    assert int(local.timestamp()) in series["t"]

    # The live status keeps saying when the device last wrote, in Tokyo time after a refresh.
    expect(temperature).not_to_have_attribute("data-updates", "0", timeout=15_000)
    seen = page.locator(".live-status [data-last-seen]")
    expect(seen).to_have_text(re.compile(r"\d:\d\d:\d\d [AP]M$"))
    text = re.sub(r"\s+", " ", seen.inner_text())
    local = datetime.strptime(text, "%m/%d/%Y, %I:%M:%S %p").replace(tzinfo=ZoneInfo(ZONE))
    assert local == datetime.fromisoformat(board_data(page)["last_seen"])


@pytest.mark.django_db(transaction=True)
def test_points_simulate_writes_appear_without_a_reload(logged_in, influx, page):
    svc.register_device(DEVICE)
    stop = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10)
    lines = [  # half an hour, ending ten minutes ago
        f"environment,device={DEVICE} Temperature={20 + m / 100} "
        f"{int((stop - timedelta(minutes=m)).timestamp())}"
        for m in range(30)
    ]
    write_lines(influx, lines)
    page.goto(f"{logged_in}?range=1h")
    freshness = page.locator("figure.gauge .freshness").first
    expect(freshness).to_have_text(">5 min")
    before = board_data(page)["charts"][0]
    assert max(before["t"]) <= int(stop.timestamp()) + 60  # its window's end
    page.evaluate("window.__notReloaded = true")

    simulate(DEVICE, "--seed", "3")  # fills the last ten minutes, a point a minute
    expect(freshness).to_have_text(re.compile("just now|<5 min"), timeout=15_000)
    temperature = chart(page)
    expect(temperature).not_to_have_attribute("data-updates", "0")
    assert page.evaluate("window.__notReloaded") is True
    now = page.evaluate("u => fetch(u).then(r => r.json())", f"{logged_in}data?range=1h")
    after = next(c for c in now["charts"] if c["field"] == "Temperature")
    assert max(after["t"]) >= int(stop.timestamp()) + 9 * 60
    assert float(temperature.get_attribute("data-last")) == after["v"][-1]


@pytest.mark.django_db(transaction=True)
def test_without_javascript_the_server_drawn_charts_and_tables_remain(board, browser, page):
    context = browser.new_context(
        java_script_enabled=False, storage_state=page.context.storage_state()
    )
    try:
        plain = context.new_page()
        made_from = time.time()
        plain.goto(f"{board}?range=1h")
        counts = last_hour_counts(board_data(plain)["last_seen"], made_from, time.time())
        temperature = chart(plain)
        expect(temperature.locator("svg.server-chart")).to_be_visible()
        label = temperature.locator("svg.server-chart").get_attribute("aria-label")
        found = re.match(r"^Temperature over time: (\d+) values from [\d.]+ to", label)
        assert found, label
        assert int(found[1]) in counts, (label, counts)
        assert temperature.locator("canvas").count() == 0
        summary = temperature.get_by_text(re.compile(r"^Data table \(\d+ windows\)$"))
        windows = int(re.search(r"\d+", summary.inner_text()).group())
        assert windows in counts  # a point a minute: a 10-second window each
        summary.click()
        expect(temperature.get_by_role("table").locator("tbody tr")).to_have_count(windows)
        expect(plain.locator("figure.track svg")).to_be_visible()
    finally:
        context.close()
