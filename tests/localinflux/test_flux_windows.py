"""``aggregateWindow`` sum/count/mean over series of every shape (regular, gappy, jittered, one
point, windows wider than the data), checked against each window's points added up here.

The engine finds window runs differently for regular and irregular series; whatever the shape,
a window's answer is its own points. Runs on both paths (engine, end to end; ``flux`` fixture).
"""

import datetime as dt

import pytest

from tests.localinflux.flux_fakes import NS

T0 = 1704067200 * NS  # 2024-01-01T00:00:00Z, a midnight
H = 3600 * NS
START, STOP = T0 + H, T0 + 49 * H  # an odd hour: the first 2h window is cut by the range


def _series():
    jitter = [0, 1, 0, 3, 2, 0, 1, 1, 0, 2]
    return {
        "hourly": [(T0 + H + i * H, 1.5 * i - 7.25) for i in range(48)],
        "half-hourly": [(T0 + H + i * H // 2, float(i % 7) - 0.5) for i in range(96)],
        "gappy": [(T0 + H + i * H, 0.1 * i) for i in range(48) if i % 9 not in (3, 4, 5)],
        "jittered": [(T0 + H + i * H + jitter[i % 10] * NS, i * 0.3) for i in range(48)],
        "one point": [(T0 + 30 * H + 17 * NS, 4.25)],
        "zeros": [(T0 + H + i * H, -0.0) for i in range(10)],
        "counts": [(T0 + H + i * H, i * 3) for i in range(48)],  # integers
    }


def _expected(points, every_ns, fn):
    windows: dict[int, list] = {}
    for t, v in points:
        windows.setdefault(t // every_ns, []).append(v)
    out = []
    for k, vs in sorted(windows.items()):
        stop = min((k + 1) * every_ns, STOP)
        value = {"sum": sum(vs), "count": len(vs), "mean": sum(vs) / len(vs)}[fn]
        out.append((dt.datetime.fromtimestamp(stop / NS, dt.UTC), value))
    return out


@pytest.mark.parametrize("every", ["1h", "2h", "3h", "7h"])
def test_each_window_holds_exactly_its_own_points_whatever_the_series_shape(flux, every):
    series = _series()
    # Integers in a field of their own: a field has one type per measurement.
    flux.load(
        [("m", {"s": name}, "n" if name == "counts" else "v", pts) for name, pts in series.items()]
    )
    every_ns = int(every[:-1]) * H
    for fn in ("sum", "count", "mean"):
        tables = flux.tables(
            'from(bucket: "iot") |> range(start: 2024-01-01T01:00:00Z, stop: 2024-01-03T01:00:00Z)'
            f' |> filter(fn: (r) => r._measurement == "m")'
            f" |> aggregateWindow(every: {every}, fn: {fn}, createEmpty: false)"
        )
        got = {
            t.records[0]["s"]: [(r.get_time(), r.get_value()) for r in t.records] for t in tables
        }
        assert got == {name: _expected(points, every_ns, fn) for name, points in series.items()}, fn
