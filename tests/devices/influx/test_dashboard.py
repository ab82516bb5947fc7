"""The dashboard read (``influx.dashboard``): bounded work at any range, every numeric field,
statistics over the range, fixed start/stop windows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from devices import influx as svc
from devices.influx.dashboard import MAX_FIELDS, MAX_POINTS, window_for

from .points import write_lines


def now() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0)


def minutes_of_data(env, device_id: str, minutes: int, stop: datetime) -> None:
    write_lines(
        env,
        [
            f"environment,device={device_id} Temperature={20 + (m % 60) / 10},"
            f"Humidity={40 + (m % 30)} {int((stop - timedelta(minutes=m)).timestamp())}"
            for m in range(minutes)
        ],
    )


def one_dashboard(env, device_id: str, window):
    env.local.stats.wait_idle()
    env.local.stats.reset()
    board = svc.dashboard(device_id, window)
    env.local.stats.wait_idle()
    return board, env.local.stats.queries, env.local.stats.rows_returned


@pytest.mark.localonly
def test_one_hour_and_thirty_days_cost_the_same_queries_and_bounded_rows(local_influx):
    svc.register_device("busy")
    minutes_of_data(local_influx, "busy", 30 * 24 * 60, now())
    hour, hour_queries, _ = one_dashboard(local_influx, "busy", svc.TimeWindow.preset("1h"))
    month, month_queries, month_rows = one_dashboard(
        local_influx, "busy", svc.TimeWindow.preset("30d")
    )
    assert hour_queries == month_queries == 2
    for board in (hour, month):
        assert [c.field for c in board.charts] == ["Temperature", "Humidity"]
        assert all(0 < len(c.points) <= MAX_POINTS for c in board.charts)
    # 43,200 points per field in 30 days; what comes back stays a few hundred rows a series
    # (plus the latest values, the registry and four statistics per field).
    assert month_rows <= 2 * MAX_POINTS + 30, month_rows
    assert month.charts[0].count >= 43_000
    assert 59 <= hour.charts[0].count <= 61  # the minute may turn during the test


def test_every_numeric_field_is_charted_reference_fields_first(influx):
    svc.register_device("many")
    at = int(now().timestamp())
    write_lines(
        influx,
        [
            f"environment,device=many Wind=3.5,CO2=600i,Temperature=21.0,Battery=88u {at - 60}",
            f"environment,device=many Wind=4.5,CO2=800i,Temperature=23.0,Battery=87u {at}",
        ],
    )
    board = svc.dashboard("many", svc.TimeWindow.preset("1h"))
    assert [c.field for c in board.charts] == ["Temperature", "CO2", "Battery", "Wind"]
    temperature = board.charts[0]
    assert (temperature.min, temperature.max, temperature.mean, temperature.count) == (
        21.0,
        23.0,
        22.0,
        2,
    )


def test_the_number_of_fields_charted_is_bounded(influx):
    svc.register_device("chatty")
    at = int(now().timestamp())
    fields = ",".join(f"f{i:03d}={i}" for i in range(MAX_FIELDS + 6))
    write_lines(influx, [f"environment,device=chatty {fields} {at}"])
    board = svc.dashboard("chatty", svc.TimeWindow.preset("1h"))
    assert len(board.charts) == MAX_FIELDS
    assert board.fields_left_out == 6


def test_a_custom_window_reads_only_its_start_to_stop(influx):
    svc.register_device("past")
    stop = now() - timedelta(days=2)
    write_lines(
        influx,
        [
            f"environment,device=past Temperature={v} "
            f"{int((stop - timedelta(hours=h)).timestamp())}"
            for h, v in ((1, 10.0), (2, 12.0), (30, 99.0))
        ],
    )
    window = svc.TimeWindow.custom(stop - timedelta(hours=3), stop)
    board = svc.dashboard("past", window)
    assert not window.live
    assert board.charts[0].count == 2
    assert board.charts[0].max == 12.0


@pytest.mark.parametrize(
    ("span", "every"),
    [
        (timedelta(minutes=5), "1s"),
        (timedelta(hours=1), "10s"),
        (timedelta(days=30), "2h"),
        (timedelta(days=3650), "14d"),
    ],
)
def test_the_window_grows_with_the_range_to_keep_points_bounded(span, every):
    seconds, text = window_for(span)
    assert text == every
    assert span.total_seconds() / seconds <= MAX_POINTS


def test_a_custom_window_must_end_after_it_starts():
    at = now()
    with pytest.raises(ValueError, match="after"):
        svc.TimeWindow.custom(at, at)
