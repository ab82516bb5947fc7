"""The dashboard's server-drawn charts and the time labels pages show (pure, no InfluxDB)."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.template import Context, Template

from devices.influx import Reading, SeriesPoint
from devices.templatetags.iot import (
    ago,
    freshness_of,
    gauge_geometry,
    line_chart_geometry,
    nice_ticks,
    parse_duration,
    utc,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("age", "label"),
    [
        (timedelta(seconds=10), "just now"),
        (timedelta(minutes=3), "<5 min"),
        (timedelta(minutes=30), ">5 min"),
        (timedelta(hours=3), "long time ago"),
    ],
)
def test_it_labels_freshness_of_last_values(age, label):
    assert freshness_of(NOW - age, NOW)[0] == label


def test_it_labels_a_missing_value_as_no_data():
    assert freshness_of(None, NOW) == ("no data", "stale")


def test_it_shows_times_in_utc_whatever_their_zone():
    cet = datetime(2026, 11, 26, 14, 0, tzinfo=timezone(timedelta(hours=1)))
    assert utc(cet) == "2026-11-26 13:00:00 UTC"
    assert utc(None) == "—"


def test_it_says_how_long_ago():
    from django.utils import timezone as dj_tz

    assert ago(dj_tz.now() - timedelta(seconds=5)) == "just now"
    assert ago(dj_tz.now() - timedelta(hours=3, minutes=2)) == "3\xa0hours ago"
    assert ago(None) == "never"


def test_it_reads_range_durations():
    assert parse_duration("-15m") == timedelta(minutes=15)
    assert parse_duration("-30d") == timedelta(days=30)


def test_it_picks_round_axis_ticks_covering_the_values():
    ticks = nice_ticks(18.3, 24.9)
    assert ticks[0] <= 18.3
    assert ticks[-1] >= 24.9
    assert ticks == [18.0, 20.0, 22.0, 24.0, 26.0]


def test_it_breaks_the_line_where_a_window_has_no_data():
    points = [
        SeriesPoint(NOW - timedelta(minutes=4), 10.0),
        SeriesPoint(NOW - timedelta(minutes=3), 12.0),
        SeriesPoint(NOW - timedelta(minutes=2), None),
        SeriesPoint(NOW - timedelta(minutes=1), 11.0),
        SeriesPoint(NOW, 13.0),
    ]
    chart = line_chart_geometry(points, start=NOW - timedelta(minutes=5), end=NOW)
    # Two runs of two points each: two "move to" commands, no line drawn across the gap.
    assert chart["path"].count("M") == 2
    assert chart["path"].count("L") == 2
    assert (chart["count"], chart["min"], chart["max"], chart["last"]) == (4, 10.0, 13.0, 13.0)


def test_it_places_higher_values_higher_and_later_times_further_right():
    points = [SeriesPoint(NOW - timedelta(minutes=1), 1.0), SeriesPoint(NOW, 5.0)]
    chart = line_chart_geometry(points, start=NOW - timedelta(minutes=2), end=NOW)
    (x0, y0), (x1, y1) = (
        tuple(float(n) for n in cmd[1:].split(",")) for cmd in chart["path"].split()
    )
    assert x1 > x0
    assert y1 < y0  # SVG y grows downwards


def test_it_draws_a_lone_window_as_a_dot():
    points = [SeriesPoint(NOW - timedelta(minutes=2), None), SeriesPoint(NOW, 7.0)]
    chart = line_chart_geometry(points, start=NOW - timedelta(minutes=5), end=NOW)
    assert len(chart["dots"]) == 1


def test_it_draws_an_empty_chart_without_failing():
    chart = line_chart_geometry([], start=NOW - timedelta(hours=1), end=NOW)
    assert chart["path"] == ""
    assert chart["count"] == 0
    assert len(chart["xticks"]) == 5


def test_it_clamps_gauges_to_their_scale():
    assert gauge_geometry("Temperature", 20.0)["percent"] == 50
    assert gauge_geometry("Temperature", 99.0)["percent"] == 100
    assert gauge_geometry("Pressure", 900.0)["value"] == ""  # below 970 hPa: empty arc
    assert gauge_geometry("Lat", 50.0) is None  # no scale: value only
    assert gauge_geometry("Temperature", "warm") is None


def test_it_renders_a_gauge_with_value_unit_and_freshness():
    from django.utils import timezone as dj_tz

    reading = Reading("Humidity", 45.25, dj_tz.now() - timedelta(minutes=2))
    html = Template("{% load iot %}{% gauge r %}").render(Context({"r": reading}))
    assert "45.25" in html
    assert "%" in html
    assert "&lt;5 min" in html
    assert "<svg" in html


# A label goes with its class: "<5 min" is never drawn as aging.
AGREEING = {
    ("just now", "fresh"),
    ("<5 min", "fresh"),
    (">5 min", "aging"),
    ("long time ago", "stale"),
}


class SteppingClock:
    """A clock that moves on ``step`` each time it is read: ``value`` becomes ``threshold`` old
    after ``before`` readings (between two readings an app made of one value)."""

    def __init__(
        self,
        value: datetime,
        before: int,
        threshold=timedelta(minutes=5),
        step=timedelta(milliseconds=10),
    ):
        self.at = value + threshold - step * before - step / 2
        self.step = step

    def __call__(self) -> datetime:
        at, self.at = self.at, self.at + self.step
        return at


@pytest.mark.parametrize("before", range(3))
def test_the_live_boards_freshness_label_and_class_agree(monkeypatch, before):
    from devices import live
    from devices.influx import Device, TimeWindow
    from devices.influx.dashboard import Dashboard
    from devices.templatetags import iot

    at = NOW - timedelta(minutes=5)
    monkeypatch.setattr(iot, "_now", SteppingClock(at, before))
    device = Device("dev-1", "k", created_at=None, last_seen=at)
    board = Dashboard(device, [Reading("Temperature", 20.0, at)], TimeWindow.preset("1h", NOW))
    (reading,) = live.board_json(board)["readings"]
    assert (reading["freshness"], reading["freshness_class"]) in AGREEING
