"""The hourly rollup (``devices.influx.rollup``) and the dashboard reading it: the same charts
and statistics as the raw computation (rollup covering all, part or none of the range, late
data), in the same two queries at 1 hour as at 30 days, and removed with its device."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from devices import influx as svc
from devices import queries
from devices.influx import rollup
from devices.influx.dashboard import MAX_POINTS, TimeWindow, rollup_plan
from devices.queries import rollup as rq

from .points import write_lines

HOUR = timedelta(hours=1)


def minutes(env, device_id: str, start: datetime, stop: datetime, *, tags: str = "") -> None:
    """A point a minute in [start, stop): Temperature and Humidity varying, per device."""
    t, lines, n = int(start.timestamp()), [], 0
    while t < stop.timestamp():
        lines.append(
            f"environment,device={device_id}{tags} Temperature={20 + (n % 47) / 7:.3f},"
            f"Humidity={40 + (n * 7 % 31)} {t}"
        )
        t += 60
        n += 1
    write_lines(env, lines)


def pass_at(at: datetime) -> svc.RollupPass:
    result = svc.rollup_pass(at)
    while not result.done:
        result = svc.rollup_pass(at)
    return result


def assert_same_board(rolled, raw) -> None:
    assert [c.field for c in rolled.charts] == [c.field for c in raw.charts]
    for a, b in zip(rolled.charts, raw.charts, strict=True):
        assert [p.time for p in a.points] == [p.time for p in b.points], a.field
        assert [p.value for p in a.points] == pytest.approx([p.value for p in b.points]), a.field
        assert (a.count, a.min, a.max) == (b.count, b.min, b.max), a.field
        assert a.mean == pytest.approx(b.mean), a.field


def counted(env, fn):
    env.local.stats.wait_idle()
    env.local.stats.reset()
    result = fn()
    env.local.stats.wait_idle()
    return result, env.local.stats.queries, env.local.stats.rows_returned


@pytest.fixture
def history(influx, settings):
    """Device r1: 3 days of minute points up to ``at`` (a pass's "now") plus 40 minutes more;
    another device beside it."""
    settings.ROLLUP_MAX_HOURS = 24 * 40
    at = rollup.floor_hour(datetime.now(UTC)) - timedelta(days=1)
    svc.register_device("r1")
    minutes(influx, "r1", at - timedelta(days=3, minutes=7), at + timedelta(minutes=40))
    minutes(influx, "other", at - HOUR * 30, at)
    return influx, at


def a_window(at: datetime, every: str = "2h") -> TimeWindow:
    # Neither end on the hour: a partial first hour and raw points after the last whole one.
    return TimeWindow(at - timedelta(hours=49, minutes=13), at + timedelta(minutes=29), every)


def test_the_rollup_path_gives_the_raw_charts_and_statistics(history):
    env, at = history
    pass_at(at)
    for every in ("1h", "2h", "6h", "1d"):
        window = a_window(at, every)
        raw, raw_queries, _ = counted(
            env, lambda w=window: svc.dashboard("r1", w, use_rollup=False)
        )
        rolled, queries_, rows = counted(env, lambda w=window: svc.dashboard("r1", w))
        assert_same_board(rolled, raw)
        assert raw_queries == queries_ == 2
        # The rollup path read rollups, not the raw points: at most a few rows per window.
        assert rolled.charts[0].count > 2_900
    # 2 fields x 25 windows of 2h: a row per window and field, plus the raw head and tail.
    assert rows < 120, rows


def test_series_of_one_owner_are_weighted_by_their_points(influx):
    """Two series of one device (other sensor tags): a window's mean is over all its points."""
    svc.register_device("two")
    at = rollup.floor_hour(datetime.now(UTC)) - timedelta(days=1)
    h = int((at - 3 * HOUR).timestamp())
    write_lines(
        influx,
        [
            f"environment,device=two,TemperatureSensor=a Temperature=10 {h + 60}",
            f"environment,device=two,TemperatureSensor=a Temperature=20 {h + 120}",
            f"environment,device=two,TemperatureSensor=b Temperature=40 {h + 180}",
        ],
    )
    pass_at(at)
    board = svc.dashboard("two", TimeWindow(at - 6 * HOUR, at, "1h"))
    (chart,) = board.charts
    assert [(p.time, p.value) for p in chart.points] == [(at - 2 * HOUR, pytest.approx(70 / 3))]
    assert (chart.count, chart.min, chart.max, chart.mean) == (3, 10.0, 40.0, pytest.approx(70 / 3))


def test_the_plan_reads_raw_only_the_partial_first_hour_and_after_the_high_water_mark():
    at = datetime(2026, 11, 20, 12, tzinfo=UTC)
    window = a_window(at)
    plan = rollup_plan(window, rollup.Coverage(at - timedelta(days=30), at))
    assert plan.head == (window.start, datetime(2026, 11, 18, 11, tzinfo=UTC))
    assert plan.rolled == (datetime(2026, 11, 18, 11, tzinfo=UTC), at)
    assert plan.tail == (at, window.stop)
    # Lagging: everything after the coverage is raw; none of the range covered: raw only.
    lagging = rollup_plan(window, rollup.Coverage(at - timedelta(days=30), at - 10 * HOUR))
    assert lagging.tail == (at - 10 * HOUR, window.stop)
    assert rollup_plan(window, rollup.Coverage(at + HOUR, at + 2 * HOUR)) is None
    assert rollup_plan(window, None) is None
    # Short windows stay raw.
    assert rollup_plan(a_window(at, "30m"), rollup.Coverage(at - timedelta(days=30), at)) is None


def test_week_and_month_presets_start_on_the_hour_and_read_no_raw_first_hour():
    """7d and 30d (windows of an hour or more) start on the hour before: their completed hours
    come whole from the rollup, the current hour raw; shorter presets start exactly."""
    at = datetime(2026, 11, 26, 12, 34, 56, tzinfo=UTC)
    covered = rollup.Coverage(at - timedelta(days=40), rollup.floor_hour(at))
    for key, days in (("7d", 7), ("30d", 30)):
        window = TimeWindow.preset(key, at)
        assert window.start == datetime(2026, 11, 26, 12, tzinfo=UTC) - timedelta(days=days)
        assert window.flux_bounds() == (window.start, None)  # live: up to the server's now
        plan = rollup_plan(window, covered)
        assert plan.head is None
        assert plan.rolled == (window.start, covered.stop)
        assert plan.tail == (covered.stop, at)
    day = TimeWindow.preset("1d", at)
    assert day.start == at - timedelta(days=1)
    assert day.flux_bounds() == ("-1d", None)


def test_a_lagging_or_missing_rollup_falls_back_to_raw_points(history, settings):
    _, at = history
    window = a_window(at)
    raw = svc.dashboard("r1", window, use_rollup=False)
    assert_same_board(svc.dashboard("r1", window), raw)  # no rollup yet: raw
    settings.ROLLUP_MAX_HOURS = 20
    first = svc.rollup_pass(at - 10 * HOUR)  # covers 20 hours up to 10 hours before `at`
    assert (first.covered_from, first.covered_to) == (at - 30 * HOUR, at - 10 * HOUR)
    assert not first.done
    assert_same_board(svc.dashboard("r1", window), raw)


def test_rollup_points_a_device_forges_do_not_break_its_dashboard(history):
    """A device token can write any measurement into the telemetry bucket, the rollup's too: a
    count without its sum (or a sum without its count) leaves that window out, the page stands."""
    env, at = history
    pass_at(at)
    hour = int((at - 5 * HOUR).timestamp())
    recent = int((at + timedelta(minutes=10)).timestamp())
    write_lines(
        env,
        [
            f"{rq.ROLLUP_MEASUREMENT},device=r1,clientId=r1,stat=count Pressure=7 {hour}",
            f"{rq.ROLLUP_MEASUREMENT},device=r1,clientId=r1,stat=sum CO2=5 {hour}",
            f"environment,device=r1 Pressure=1000,CO2=400 {recent}",
        ],
    )
    board = svc.dashboard("r1", a_window(at))
    assert not board.error
    charts = {c.field: c for c in board.charts}
    # The forged hour is left out; the raw point after the rollup is there.
    assert [(p.value, charts["Pressure"].count) for p in charts["Pressure"].points] == [(1000, 1)]
    assert [(p.value, charts["CO2"].count) for p in charts["CO2"].points] == [(400, 1)]
    assert charts["Temperature"].count > 2_900


def test_late_data_is_picked_up_within_the_lookback_and_by_since(history, settings):
    env, at = history
    settings.ROLLUP_LOOKBACK_HOURS = 3
    window = a_window(at)
    pass_at(at)
    late = int((at - 2 * HOUR + timedelta(seconds=30)).timestamp())
    old = int((at - 20 * HOUR + timedelta(seconds=30)).timestamp())
    write_lines(env, [f"environment,device=r1 Temperature=99.5 {late}"])
    write_lines(env, [f"environment,device=r1 Temperature=-9.5 {old}"])
    svc.rollup_pass(at)
    board = svc.dashboard("r1", window)
    assert board.charts[0].max == 99.5  # within the lookback: recomputed by the next pass
    assert board.charts[0].min != -9.5  # older: not until `rollup --since` (documented)
    svc.rollup_since(at - 24 * HOUR, at)
    assert_same_board(svc.dashboard("r1", window), svc.dashboard("r1", window, use_rollup=False))


def test_removing_a_device_removes_its_rollup_and_no_one_elses(history):
    env, at = history
    pass_at(at)
    flux = (
        f'from(bucket: "{env.bucket}") |> range(start: 0)'
        f' |> filter(fn: (r) => r._measurement == "{rq.ROLLUP_MEASUREMENT}") |> count()'
        ' |> group(columns: ["clientId", "stat"]) |> sum()'
    )

    def rollup_rows():
        tables = env.client.query_api().query(flux, org=env.org)
        return {(r.values.get("clientId"), r.values["stat"]) for t in tables for r in t.records}

    assert {("r1", "sum"), ("other", "sum"), (None, "coverage")} <= rollup_rows()
    svc.remove_device("r1", delete_telemetry=True)
    left = rollup_rows()
    assert not any(owner == "r1" for owner, _ in left)
    assert ("other", "sum") in left
    assert (None, "coverage") in left
    assert rq.rollup_delete_predicate("r1") in queries.telemetry_delete_predicates("r1")


@pytest.mark.localonly
def test_one_hour_and_thirty_days_cost_the_same_queries_and_bounded_rows(local_influx, settings):
    settings.ROLLUP_MAX_HOURS = 24 * 40
    svc.register_device("busy")
    stop = datetime.now(UTC).replace(second=0, microsecond=0)
    minutes(local_influx, "busy", stop - timedelta(days=30, minutes=10), stop + HOUR / 60)
    pass_at(datetime.now(UTC))
    hour, hour_queries, _ = counted(
        local_influx, lambda: svc.dashboard("busy", TimeWindow.preset("1h"))
    )
    month, month_queries, month_rows = counted(
        local_influx, lambda: svc.dashboard("busy", TimeWindow.preset("30d"))
    )
    assert hour_queries == month_queries == 2
    for board in (hour, month):
        assert [c.field for c in board.charts] == ["Temperature", "Humidity"]
        assert all(0 < len(c.points) <= MAX_POINTS for c in board.charts)
    assert 43_000 <= month.charts[0].count <= 43_300
    # 86,400 raw points in the range. Read: one row per 2-hour window for all fields (361 at
    # most); per field at most 14 for the raw first hour and the hour in progress (sum and
    # count in at most 2 windows each, min and max of each of the 3 parts per series: one a
    # field here); at most 10 for the registry, the latest values and the rollup's coverage.
    # 43,200 points a field either way.
    assert month_rows <= 361 + 14 * 2 + 10, month_rows


@pytest.mark.localonly
def test_many_series_are_rolled_up_a_few_hours_per_query(history, monkeypatch):
    """A fleet's rollup answers stay bounded: the hours of a chunk are split across queries,
    and the result is the same."""
    env, at = history
    monkeypatch.setattr(rollup, "MAX_ROWS", 40)  # 4 series (2 devices x 2 fields): 2 h a query
    _, count, _ = counted(env, lambda: svc.rollup_since(at - 30 * HOUR, at))
    # 30 hours: chunks of 24 and 6 hours, each its field types, then a query per 2 hours.
    assert count == 1 + 2 + 12 + 3 + 1  # coverage, types x2, sources, coverage again
    window = TimeWindow(at - 29 * HOUR, at, "2h")
    assert_same_board(svc.dashboard("r1", window), svc.dashboard("r1", window, use_rollup=False))


def test_fields_of_odd_names_read_the_same_rolled_up(influx, settings):
    """A device may name a field anything line protocol carries: ``, = space " \\``."""
    settings.ROLLUP_MAX_HOURS = 24
    now = datetime.now(UTC)
    t = int((now - timedelta(hours=3)).timestamp())
    write_lines(influx, [f'environment,device=dev-1 a\\,b=1,x\\=y=2,sp\\ ace=3,q"t=4,b\\s=5 {t}'])
    svc.register_device("dev-1")
    pass_at(now)
    window = a_window(now)
    rolled = svc.dashboard("dev-1", window)
    assert {c.field for c in rolled.charts} == {"a,b", "x=y", "sp ace", 'q"t', "b\\s"}
    assert_same_board(rolled, svc.dashboard("dev-1", window, use_rollup=False))
