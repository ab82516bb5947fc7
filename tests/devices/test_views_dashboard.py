"""The dashboard page: presets and custom ranges (with clear errors), min/max/mean, a data table
per chart, the position track, the JSON the live refresh reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from devices import influx as svc
from tests.devices.influx.points import write_lines


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def at(minutes_ago: float) -> int:
    return int((now() - timedelta(minutes=minutes_ago)).timestamp())


@pytest.fixture
def rover(staff_client, influx):
    svc.register_device("rover")
    write_lines(
        influx,
        [
            f"environment,device=rover Temperature={20 + m},Lat={50 + m / 100},"
            f"Lon={14 + m / 50} {at(m)}"
            for m in (4, 3, 2, 1)
        ],
    )
    return staff_client


def test_it_shows_min_max_mean_and_a_data_table(rover):
    page = rover.get("/devices/rover/dashboard/", {"range": "1h"}).content.decode()
    assert "min 21.00, max 24.00, mean 22.50" in page
    assert "<summary>Data table (4 windows)</summary>" in page
    assert page.count("<tr><td>") >= 4


def test_lat_and_lon_are_one_track_not_two_line_charts(rover):
    response = rover.get("/devices/rover/dashboard/", {"range": "1h"})
    page = response.content.decode()
    assert [c.field for c in response.context["charts"]] == ["Temperature"]
    assert 'class="track-line"' in page
    assert 'class="track-start"' in page
    assert 'class="track-end"' in page
    assert "Coordinates table (4)" in page
    assert page.count('class="line"') == 1


def test_a_custom_range_shows_its_start_and_stop(rover):
    start = (now() - timedelta(minutes=150)).strftime("%Y-%m-%dT%H:%M")
    stop = (now() + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M")
    response = rover.get("/devices/rover/dashboard/", {"start": start, "stop": stop})
    assert response.status_code == 200
    board = response.context["board"]
    assert not board.window.live
    assert board.window.every == "30s"  # 151 minutes / 500 windows, rounded up
    assert board.charts[0].count == 4
    assert "Fixed range" in response.content.decode()


@pytest.mark.parametrize(
    ("start", "stop", "message"),
    [
        ("2026-11-02T00:00", "2026-11-01T00:00", "The stop must be after the start."),
        ("2026-11-01T00:00", "2026-11-01T00:00", "The stop must be after the start."),
        ("yesterday", "2026-11-01T00:00", "Not a date and time"),
        ("1200-01-01T00:00", "2026-11-01T00:00", "between 1970 and 2262"),
        ("1971-01-01T00:00", "2026-11-01T00:00", "at most 10 years"),
        ("2026-11-01T00:00", "", "Give both a start and a stop"),
    ],
)
def test_a_bad_custom_range_says_what_is_wrong(rover, start, stop, message):
    response = rover.get("/devices/rover/dashboard/", {"start": start, "stop": stop})
    assert response.status_code == 200
    assert message in response.content.decode()
    # The page still shows the default preset meanwhile.
    assert response.context["board"].window.range_key == svc.DEFAULT_RANGE


def test_the_json_endpoint_carries_the_charts_for_the_live_refresh(rover):
    response = rover.get("/devices/rover/dashboard/data", {"range": "1h"})
    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"]
    data = json.loads(response.content)
    assert data["live"] is True
    temperature = next(c for c in data["charts"] if c["field"] == "Temperature")
    assert temperature["v"] == [24.0, 23.0, 22.0, 21.0]
    assert temperature["t"] == sorted(temperature["t"])
    assert temperature["unit"] == "°C"
    assert {r["field"] for r in data["readings"]} == {"Temperature", "Lat", "Lon"}


def test_the_page_embeds_the_same_data_as_a_json_block(rover):
    page = rover.get("/devices/rover/dashboard/", {"range": "1h"}).content.decode()
    assert '<script id="board-data" type="application/json">' in page
    assert 'data-live-url="/devices/rover/dashboard/data?range=1h"' in page


def test_the_json_endpoint_of_an_unknown_device_is_a_404(staff_client, influx):
    assert staff_client.get("/devices/ghost/dashboard/data").status_code == 404


def _arc(response) -> str:
    (reading,) = [r for r in response.json()["readings"] if r["field"] == "Temperature"]
    return reading["arc"]


def test_the_live_refresh_moves_the_gauge_arc_with_a_new_reading(rover, influx):
    from django.core.cache import cache

    page = rover.get("/devices/rover/dashboard/", {"range": "1h"}).content.decode()
    before = _arc(rover.get("/devices/rover/dashboard/data", {"range": "1h"}))
    assert before
    assert f'<path class="value" d="{before}"/>' in page
    write_lines(influx, [f"environment,device=rover Temperature=35 {at(0)}"])
    cache.clear()  # the next refresh interval
    after = _arc(rover.get("/devices/rover/dashboard/data", {"range": "1h"}))
    assert after
    assert after != before
