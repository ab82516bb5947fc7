"""Storage of small series (a registry: a few points per device and field) at scale.

Such series keep their points in tuples until they outgrow ``store.SMALL``, so that a large
registry does not give the garbage collector millions of objects to walk on every full
collection. Counted in tracked objects, not time; reads and writes behave as before across
the switch to arrays.
"""

import gc

from localinflux.model import FLOAT, STRING, SeriesKey
from localinflux.store import SMALL, Store

B = "b1"
FULL = (-(2**63), 2**63 - 1)


def registry_points(first: int, last: int, at: int = 1_000) -> list:
    """One line per device: ``deviceauth,deviceId=... key=...,token=...,createdAt=...``."""
    return [
        (
            ("deviceauth", (("deviceId", f"dev-{n:05d}"),)),
            [("key", STRING, f"k{n}"), ("token", STRING, f"t{n}"), ("createdAt", STRING, "x")],
            at + n,
        )
        for n in range(first, last)
    ]


def tracked() -> int:
    gc.collect()
    return len(gc.get_objects())


def test_a_registry_costs_about_one_collector_tracked_object_per_series():
    store = Store()
    store.write(B, registry_points(0, 10))  # the bucket itself
    before = tracked()
    store.write(B, registry_points(10, 3_010))  # 3,000 devices x 3 fields
    store.write(B, registry_points(10, 1_010, at=9_000))  # a second point for 1,000 of them
    added = tracked() - before
    # 9,000 series and 3,000 per-device field maps; with a times array and a values list per
    # series (and a separate key object) it was 39,000.
    assert added < 13_000, added
    assert store.point_count(B) == 3_010 * 3 + 1_000 * 3


def test_points_stay_sorted_and_last_write_wins_as_a_series_outgrows_small():
    store = Store()
    key = (("m", (("t", "a"),)), FLOAT)
    times = [50, 10, 30, 20, 40, 10, *range(100, 100 + SMALL), 35, 30]
    for i, t in enumerate(times):
        store.write(B, [(key[0], [("v", FLOAT, float(i))], t)])
    [series] = store.series(B)
    got_t, got_v = series.slice(*FULL)
    expected = {}
    for i, t in enumerate(times):
        expected[t] = float(i)  # the later write of a time replaces the earlier
    assert list(got_t) == sorted(expected)
    assert list(got_v) == [expected[t] for t in sorted(expected)]
    assert series.last(*FULL) == (max(expected), expected[max(expected)])
    assert series.first(0, 25) == (10, expected[10])


def test_deleting_from_a_small_series_and_from_a_grown_one():
    store = Store()
    mt = ("m", (("t", "a"),))
    for t in (1, 2, 3, 4):
        store.write(B, [(mt, [("small", STRING, f"s{t}")], t)])
    for t in range(1, 2 * SMALL + 1):
        store.write(B, [(mt, [("big", FLOAT, float(t))], t)])
    assert store.delete(B, 2, 3) == 2 + 2
    small, big = sorted(store.series(B), key=lambda s: s.key.field, reverse=True)
    assert small.slice(*FULL) == ((1, 4), ("s1", "s4"))
    assert list(big.slice(*FULL)[0]) == [1, *range(4, 2 * SMALL + 1)]


def test_a_replayed_run_extends_small_series_and_grows_them_when_needed():
    store = Store()
    key = SeriesKey("m", (("t", "a"),), "v")
    store.load_series(B, key, FLOAT, [1, 2], [1.0, 2.0])
    store.load_series(B, key, FLOAT, list(range(3, 3 + SMALL)), [0.5] * SMALL)
    store.load_series(B, key, FLOAT, [0], [9.0])  # older than what is there: inserted
    [series] = store.series(B)
    times, values = series.slice(*FULL)
    assert list(times) == list(range(0, 3 + SMALL))
    assert list(values) == [9.0, 1.0, 2.0] + [0.5] * SMALL
    assert (series.key.measurement, series.key.field) == ("m", "v")
