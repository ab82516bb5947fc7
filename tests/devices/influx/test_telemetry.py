"""Telemetry reads for device pages and dashboards, and the virtual device session."""

from datetime import UTC, datetime, timedelta

import pytest
from influxdb_client import Point, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS

from devices import influx as svc


def write_points(env, device_id, points, tags=None):
    """``points``: [(time, {field: value})] written as the operator (not via the app)."""
    records = []
    for when, fields in points:
        point = Point("environment").tag("device", device_id).time(when, WritePrecision.S)
        for key, value in (tags or {}).items():
            point = point.tag(key, value)
        for name, value in fields.items():
            point = point.field(name, value)
        records.append(point)
    env.client.write_api(write_options=SYNCHRONOUS).write(env.bucket, env.org, records)


@pytest.fixture
def now():
    return datetime.now(UTC).replace(second=0, microsecond=0)


def test_latest_readings_give_each_fields_newest_value(influx, now):
    write_points(
        influx,
        "dev-1",
        [
            (now - timedelta(minutes=2), {"Temperature": 20.0, "Humidity": 40.0}),
            (now - timedelta(minutes=1), {"Temperature": 21.5}),
        ],
    )
    write_points(influx, "dev-2", [(now, {"Temperature": 99.0})])
    readings = svc.latest_readings("dev-1")
    assert [(r.field, r.value, r.time) for r in readings] == [
        ("Humidity", 40.0, now - timedelta(minutes=2)),
        ("Temperature", 21.5, now - timedelta(minutes=1)),
    ]


def test_field_stats_count_min_max_and_last_time_within_the_range(influx, now):
    write_points(
        influx,
        "dev-1",
        [
            (now - timedelta(hours=30), {"Temperature": -5.0}),  # outside 1d
            (now - timedelta(hours=3), {"Temperature": 18.0, "Pressure": 1000.0}),
            (now - timedelta(hours=2), {"Temperature": 25.0}),
            (now - timedelta(hours=1), {"Temperature": 20.0, "Pressure": 1010.0}),
        ],
    )
    stats = {s.field: s for s in svc.field_stats("dev-1", range_key="1d")}
    assert sorted(stats) == ["Pressure", "Temperature"]
    t = stats["Temperature"]
    assert (t.count, t.min, t.max, t.last_time) == (3, 18.0, 25.0, now - timedelta(hours=1))
    p = stats["Pressure"]
    assert (p.count, p.min, p.max) == (2, 1000.0, 1010.0)
    week = {s.field: s for s in svc.field_stats("dev-1", range_key="7d")}
    assert (week["Temperature"].count, week["Temperature"].min) == (4, -5.0)


def test_field_stats_of_a_silent_device_are_empty(influx):
    assert svc.field_stats("dev-1") == []


def test_unknown_range_keys_are_refused(influx):
    with pytest.raises(ValueError, match="unknown range"):
        svc.field_stats("dev-1", range_key="2y")


def test_series_are_window_means_per_field(influx, now):
    base = now.replace(minute=0) - timedelta(hours=3)
    points = [(base + timedelta(minutes=m), {"Temperature": float(m)}) for m in range(0, 120)]
    write_points(influx, "dev-1", points)
    series = svc.telemetry_series("dev-1", range_key="6h")
    assert list(series) == ["Temperature"]
    values = [p.value for p in series["Temperature"]]
    # 5-minute windows: the first holds minutes 0..4 (mean 2), the next 5..9 (mean 7).
    assert values[:2] == [2.0, 7.0]
    assert len(values) == 24
    times = [p.time for p in series["Temperature"]]
    assert times == sorted(times)
