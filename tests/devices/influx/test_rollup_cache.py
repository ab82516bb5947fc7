"""The dashboard's cache of rollup parts (``dashboard.py``): a long range shown again reads only
its raw parts (still two queries), with the same charts and statistics; any rollup pass (even
one keeping the marker's span), late data, the raw tail and a device registered again are seen
at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from devices import influx as svc
from devices.influx import rollup
from devices.influx.dashboard import TimeWindow
from devices.queries import rollup as rq

from .points import write_lines
from .test_rollup import HOUR, a_window, assert_same_board, history, minutes, pass_at

__all__ = ["history"]  # the fixture, used by name


def read(env, device_id: str, window):
    """(board, queries, rows, whether a query read the rollup) of one dashboard read."""
    stats = env.local.stats if env.local else None
    if stats is None:
        pytest.skip("needs the local server's request log")
    stats.wait_idle()
    stats.reset()
    board = svc.dashboard(device_id, window)
    stats.wait_idle()
    # The charts query's rollup part (the first query reads the rollup's coverage marker).
    part = f'{rq.ROLLUP_MEASUREMENT}" and (r["device"]'
    read_rollup = any(part in (r.flux or "") for r in stats.log)
    return board, stats.queries, stats.rows_returned, read_rollup


def raw(device_id: str, window):
    return svc.dashboard(device_id, window, use_rollup=False)


def warmed(history) -> tuple:
    """(env, at, window): rolled up at ``at``, then ``a_window(at)`` read once (its part cached)."""
    env, at = history
    window = a_window(at)
    pass_at(at)
    read(env, "r1", window)
    return env, at, window


def temperature(env, value: float, when: datetime) -> None:
    """One Temperature point of r1 (whole seconds)."""
    write_lines(env, [f"environment,device=r1 Temperature={value} {int(when.timestamp())}"])


def read_as_raw(env, window, **first_chart):
    """A read of r1 whose board is the raw computation's, its first chart having ``first_chart``
    (e.g. ``max=99.5``): (board, queries, whether a query read the rollup)."""
    board, queries_, _, read_rollup = read(env, "r1", window)
    assert {k: getattr(board.charts[0], k) for k in first_chart} == first_chart
    assert_same_board(board, raw("r1", window))
    return board, queries_, read_rollup


@pytest.mark.localonly
def test_a_warm_read_skips_the_rollup_part_and_gives_the_cold_charts(history):
    env, at = history
    pass_at(at)
    window = a_window(at)
    cold, cold_queries, cold_rows, cold_rollup = read(env, "r1", window)
    warm, warm_queries, warm_rows, warm_rollup = read(env, "r1", window)
    assert cold_queries == warm_queries == 2
    assert cold_rollup
    assert not warm_rollup
    assert warm_rows < cold_rows
    assert_same_board(warm, cold)
    assert_same_board(warm, raw("r1", window))
    assert warm.charts[0].count > 2_900


@pytest.mark.localonly
def test_a_custom_range_with_the_same_covered_hours_reuses_the_part(history):
    env, at, _ = warmed(history)
    # Other minutes at both ends, the same whole hours between them.
    other = TimeWindow(at - timedelta(hours=49, minutes=40), at + timedelta(minutes=11), "2h")
    _, queries_, read_rollup = read_as_raw(env, other)
    assert queries_ == 2
    assert not read_rollup


@pytest.mark.localonly
def test_a_pass_rewriting_hours_under_the_same_marker_span_is_seen(history, settings):
    settings.ROLLUP_LOOKBACK_HOURS = 3
    env, at, window = warmed(history)
    before = rollup.read_coverage()
    temperature(env, 99.5, at - 2 * HOUR + timedelta(seconds=30))
    svc.rollup_pass(at)  # the lookback again: the same from/to, a new stamp
    after = rollup.read_coverage()
    assert (after.start, after.stop) == (before.start, before.stop)
    assert after.stamp != before.stamp
    assert read_as_raw(env, window, max=99.5)[2]  # read the rollup


@pytest.mark.localonly
def test_late_data_rolled_up_by_since_and_a_backfill_refresh_are_seen(history):
    env, at, window = warmed(history)
    temperature(env, -9.5, at - 20 * HOUR)
    svc.rollup_since(at - 24 * HOUR, at)
    read_as_raw(env, window, min=-9.5)
    # A backfill's refresh (``simulate --days``, Write data now) recomputes covered hours too.
    old = at - 30 * HOUR
    temperature(env, 123.5, old)
    rollup.refresh_written({"r1": (old, old)})
    read_as_raw(env, window, max=123.5)


@pytest.mark.localonly
def test_the_raw_tail_after_the_coverage_is_read_fresh(history):
    env, at, window = warmed(history)
    temperature(env, 77.5, at + HOUR / 6 + timedelta(seconds=1))
    _, queries_, read_rollup = read_as_raw(env, window, max=77.5)
    assert queries_ == 2
    assert not read_rollup


@pytest.mark.localonly
def test_a_device_removed_and_registered_again_gets_no_old_part(history):
    env, at = history
    window = a_window(at)
    pass_at(at)
    assert read(env, "r1", window)[0].charts[0].count > 2_900
    svc.remove_device("r1", delete_telemetry=True)
    svc.register_device("r1")
    minutes(env, "r1", at + timedelta(minutes=5), at + timedelta(minutes=25))
    read_as_raw(env, window, count=20)  # the new points only, none of the old rollup


@pytest.mark.localonly
def test_a_warm_thirty_days_is_two_queries_and_fewer_rows(local_influx, settings):
    settings.ROLLUP_MAX_HOURS = 24 * 40
    svc.register_device("month")
    stop = datetime.now(UTC).replace(second=0, microsecond=0)
    t, lines = int((stop - timedelta(days=30, minutes=10)).timestamp()), []
    while t <= stop.timestamp():
        lines.append(f"environment,device=month Temperature={20 + t % 97 / 9:.3f} {t}")
        t += 600
    write_lines(local_influx, lines)
    # One reading of the clock for the pass and both reads: the preset starts on the hour, and
    # an hour beginning between the two reads would make the second one another range.
    at = datetime.now(UTC)
    pass_at(at)
    cold, cold_queries, cold_rows, _ = read(local_influx, "month", TimeWindow.preset("30d", at))
    warm, warm_queries, warm_rows, read_rollup = read(
        local_influx, "month", TimeWindow.preset("30d", at)
    )
    assert cold_queries == warm_queries == 2
    assert not read_rollup
    # Cold: a row per 2-hour window (361 at most); warm: the raw first and current hours only.
    assert cold_rows > 300
    assert warm_rows < 30, warm_rows
    assert [c.count for c in warm.charts] == [c.count for c in cold.charts]


@pytest.mark.localonly
def test_a_range_of_whole_covered_hours_shown_again_needs_no_charts_query(history):
    env, at = history
    pass_at(at)
    window = TimeWindow(at - 48 * HOUR, at, "2h")  # no raw first hour, nothing after `to`
    cold, cold_queries, _, _ = read(env, "r1", window)
    warm, warm_queries, _, _ = read(env, "r1", window)
    assert (cold_queries, warm_queries) == (2, 1)
    assert_same_board(warm, cold)
    assert_same_board(warm, raw("r1", window))
