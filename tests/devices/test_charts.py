"""Chart geometry (devices.charts) is total: any finite or infinite value gives a drawing, in
bounded time, without dividing by zero or overflowing (issue 8's hostile device data)."""

from __future__ import annotations

import itertools
import math
import sys
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.charts import line_chart_geometry, nice_ticks, track_geometry
from devices.influx import SeriesPoint

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
HOSTILE = [
    [21.7, 21.7, 21.7],
    [20.0, 20.000000000000004],
    [1.7e308, -1.7e308],
    [sys.float_info.max, -sys.float_info.max],
    [5e-324, -5e-324],
    [5e-324],
    [0.0],
    [18446744073709551615, 0],
    [2**70],
    [math.inf, 1.0, -math.inf, math.nan],
]


def series(values):
    return [SeriesPoint(NOW - timedelta(minutes=len(values) - i), v) for i, v in enumerate(values)]


@pytest.mark.parametrize("values", HOSTILE, ids=str)
def test_hostile_values_give_a_line_with_distinct_ticks(values):
    chart = line_chart_geometry(series(values), start=NOW - timedelta(hours=1), end=NOW)
    finite = [v for v in values if math.isfinite(v)]
    assert chart["count"] == len(finite)
    assert chart["path"] or chart["dots"]
    labels = [t["label"] for t in chart["yticks"]]
    assert 2 <= len(labels) <= 9
    ys = [t["y"] for t in chart["yticks"]]
    assert ys == sorted(ys, reverse=True)
    assert len(set(ys)) == len(ys)
    assert "nan" not in chart["path"]
    assert "inf" not in chart["path"]


def test_non_finite_window_means_break_the_line_and_are_counted():
    chart = line_chart_geometry(series([1.0, math.inf, 2.0]), start=NOW, end=NOW)
    assert chart["skipped"] == 1
    assert len(chart["dots"]) == 2  # two lone windows either side of the gap


def test_charts_sharing_placements_draw_what_each_draws_alone():
    """A page's charts share the x of their common window times (``xs``); a chart whose
    points reach past the range has other axes and gets its own placements."""
    start, end = NOW - timedelta(minutes=10), NOW
    boards = [series([1.0, 2.0, 3.0]), series([30.0, None, 10.0]), series([5.0, 6.0])]
    boards.append([*series([7.0, 8.0]), SeriesPoint(NOW + timedelta(minutes=5), 9.0)])
    xs: dict = {}
    shared = [line_chart_geometry(p, start=start, end=end, xs=xs) for p in boards]
    alone = [line_chart_geometry(p, start=start, end=end) for p in boards]
    assert [(c["path"], c["dots"], c["xticks"]) for c in shared] == [
        (c["path"], c["dots"], c["xticks"]) for c in alone
    ]
    assert len(xs) == 2  # the range's axes, and the longer chart's


@settings(max_examples=300, deadline=None)  # a busy machine may pause any example 200 ms
@given(
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(allow_nan=False, allow_infinity=False),
)
def test_ticks_always_cover_the_values_with_few_increasing_steps(a, b):
    ticks = nice_ticks(min(a, b), max(a, b))
    assert 2 <= len(ticks) <= 8
    assert all(x < y for x, y in itertools.pairwise(ticks))
    assert all(math.isfinite(t) for t in ticks)
    assert ticks[0] <= min(a, b)
    assert ticks[-1] >= max(a, b)


def test_a_track_marks_start_and_end_and_leaves_out_impossible_positions():
    positions = [
        (NOW - timedelta(minutes=3), 50.0, 14.0),
        (NOW - timedelta(minutes=2), 50.1, 14.2),
        (NOW - timedelta(minutes=1), 999.0, 14.2),  # not a latitude
        (NOW, 50.2, 14.1),
    ]
    track = track_geometry(positions)
    assert (track["count"], track["skipped"]) == (3, 1)
    assert track["path"].count("L") == 2
    assert track["start"]["time"] == positions[0][0]
    assert track["end"]["time"] == NOW
    # North is up: the last point (further north) is higher than the first.
    assert track["end"]["y"] < track["start"]["y"]


def test_a_track_of_one_position_is_a_point():
    track = track_geometry([(NOW, 50.0, 14.0)])
    assert track["start"] == track["end"] or track["start"]["x"] == track["end"]["x"]
