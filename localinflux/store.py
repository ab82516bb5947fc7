"""In-memory time-series storage behind the ``StorageReader`` contract of ``model.py``.

One series per (measurement, tag set, field): times in an ``array('q')`` kept ascending and unique,
values in a typed array (floats, integers, unsigned) or a list (strings, booleans), so a stored
point costs about 16 bytes; a series of a few points keeps them in tuples instead, which the
garbage collector stops tracking (see ``Series``). One re-entrant lock guards all buckets:
writers hold it while they append, readers while they copy a slice out, so nobody ever sees a
half-applied write.
"""

from __future__ import annotations

import threading
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable

from localinflux.model import BOOLEAN, FLOAT, INTEGER, STRING, UNSIGNED, SeriesKey

_ARRAY_CODES = {FLOAT: "d", INTEGER: "q", UNSIGNED: "Q"}
_ARRAY = array


def _new_values(ftype: str):
    code = _ARRAY_CODES.get(ftype)
    return array(code) if code else []


# Series of at most this many points keep them in tuples: a tuple of ints or strings is
# untracked by the cyclic garbage collector once it has seen it, where an ``array`` or a list is
# walked by every full collection. A fleet's registry is mostly such series (a few points per
# device and field), so 100,000 devices add ~100,000 tracked objects instead of ~1,300,000.
SMALL = 8


class Series:
    """One stored series; also the ``SeriesRef`` handed to the Flux engine, and its own key.

    Points live in two parallel sequences, times ascending and unique: tuples while the series
    is small (``SMALL``), then an ``array('q')`` of times and a typed array (floats, integers,
    unsigned) or a list (strings, booleans) of values. No storage object refers back to another
    (the series holds its key's strings and tuples, its sequences and the store's lock), so a
    deleted series is freed by reference counting alone.
    """

    __slots__ = ("_lock", "field", "ftype", "measurement", "tags", "times", "values")

    def __init__(self, key: SeriesKey, ftype: str, lock: threading.RLock) -> None:
        self.measurement = key.measurement
        self.tags = key.tags
        self.field = key.field
        self.ftype = ftype
        self.times: tuple | array = ()
        self.values: tuple | array | list = ()
        self._lock = lock

    @property
    def key(self) -> Series:
        """The series key (``measurement``, ``tags``, ``field``): the series itself, so that a
        stored series costs one object the collector tracks, not two."""
        return self

    def __repr__(self) -> str:
        return f"<Series {self.measurement} {self.tags} {self.field} {self.ftype} n={len(self)}>"

    def __len__(self) -> int:
        return len(self.times)

    def _grow(self) -> None:
        """Tuples to arrays/lists, once the series outgrows ``SMALL``."""
        # Grown item by item from empty (``extend`` of a tuple appends each), so the arrays end
        # up with the same spare capacity as a series that was never small.
        times = array("q")
        times.extend(self.times)
        values = _new_values(self.ftype)
        values.extend(self.values)
        self.times, self.values = times, values

    def insert(self, t: int, v: object) -> None:
        """Add or overwrite the point at ``t``; the caller holds the store lock."""
        times = self.times
        if type(times) is tuple:
            n = len(times)
            if not n or t > times[-1]:
                if n < SMALL:
                    self.times = (*times, t)
                    self.values = (*self.values, v)
                    return
            else:
                i = bisect_left(times, t)
                values = self.values
                if i < n and times[i] == t:
                    self.values = (*values[:i], v, *values[i + 1 :])
                    return
                if n < SMALL:
                    self.times = (*times[:i], t, *times[i:])
                    self.values = (*values[:i], v, *values[i:])
                    return
            self._grow()
            times = self.times
        if not times or t > times[-1]:
            times.append(t)
            self.values.append(v)
            return
        i = bisect_left(times, t)
        if i < len(times) and times[i] == t:
            self.values[i] = v  # same series and time: last write wins
        else:
            times.insert(i, t)
            self.values.insert(i, v)

    def extend(self, times: list[int], values: list) -> None:
        """Add a run of points (ascending times); the caller holds the store lock."""
        mine = self.times
        if mine and times and times[0] <= mine[-1]:
            for t, v in zip(times, values, strict=True):
                self.insert(t, v)
            return
        if type(mine) is tuple:
            if len(mine) + len(times) <= SMALL:
                self.times = (*mine, *times)
                self.values = (*self.values, *values)
                return
            self._grow()
        self.times.extend(times)
        self.values.extend(values)

    def slice(self, start_ns: int, stop_ns: int):
        with self._lock:
            times = self.times
            lo = bisect_left(times, start_ns)
            hi = bisect_left(times, stop_ns)
            return times[lo:hi], self.values[lo:hi]

    def last(self, start_ns: int, stop_ns: int):
        with self._lock:
            times = self.times
            lo = bisect_left(times, start_ns)
            hi = bisect_left(times, stop_ns)
            if hi <= lo:
                return None
            return times[hi - 1], self.values[hi - 1]

    def first(self, start_ns: int, stop_ns: int):
        with self._lock:
            times = self.times
            lo = bisect_left(times, start_ns)
            hi = bisect_left(times, stop_ns)
            if hi <= lo:
                return None
            return times[lo], self.values[lo]

    def delete_range(self, start_ns: int, stop_ns: int) -> int:
        """Remove points with ``start_ns <= t <= stop_ns`` (both ends inclusive, as delete is)."""
        times = self.times
        lo = bisect_left(times, start_ns)
        hi = bisect_right(times, stop_ns)
        if hi > lo:
            if type(times) is tuple:
                values = self.values
                self.times = times[:lo] + times[hi:]
                self.values = values[:lo] + values[hi:]
            else:
                del times[lo:hi]
                del self.values[lo:hi]
        return hi - lo


class BucketData:
    __slots__ = ("by_mt", "ftypes", "sorted_series")

    def __init__(self) -> None:
        # (measurement, tags) -> field -> Series
        self.by_mt: dict[tuple, dict[str, Series]] = {}
        # (measurement, field) -> field type, for type conflicts across tag sets
        self.ftypes: dict[tuple[str, str], str] = {}
        self.sorted_series: list[Series] | None = None


class WriteResult:
    __slots__ = ("conflict", "dropped", "expired", "stored")

    def __init__(self) -> None:
        self.stored = 0
        self.dropped = 0  # points refused for a field type conflict
        self.expired = 0  # points refused as older than the bucket's retention (engine)
        self.conflict = ""  # InfluxDB's text for the first field type conflict


class Store:
    """All buckets' data. Implements ``model.StorageReader``."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._buckets: dict[str, BucketData] = {}

    # -- reading (StorageReader) ---------------------------------------------------------------

    def series(self, bucket_id: str) -> list[Series]:
        with self.lock:
            data = self._buckets.get(bucket_id)
            if data is None:
                return []
            if data.sorted_series is None:
                every = [s for fmap in data.by_mt.values() for s in fmap.values() if len(s.times)]
                every.sort(key=lambda s: (s.measurement, s.tags, s.field))
                data.sorted_series = every
            return list(data.sorted_series)

    def selected_points(self, refs: list, start_ns: int, stop_ns: int, last: bool):
        """Times and values of the newest (``last``) or oldest point in ``[start_ns, stop_ns)``
        of each series of ``refs`` (time None if none): ``Series.last``/``first`` for many
        series under one lock, in two flat lists rather than a pair per series."""
        out_t: list = []
        out_v: list = []
        add_t, add_v = out_t.append, out_v.append
        with self.lock:
            for s in refs:
                times = s.times
                lo = bisect_left(times, start_ns)
                hi = bisect_left(times, stop_ns)
                if hi <= lo:
                    add_t(None)
                    add_v(None)
                else:
                    i = hi - 1 if last else lo
                    add_t(times[i])
                    add_v(s.values[i])
        return out_t, out_v

    def point_count(self, bucket_id: str | None = None) -> int:
        with self.lock:
            ids = [bucket_id] if bucket_id else list(self._buckets)
            total = 0
            for bid in ids:
                data = self._buckets.get(bid)
                if data is not None:
                    total += sum(len(s.times) for f in data.by_mt.values() for s in f.values())
            return total

    def field_type(self, bucket_id: str, measurement: str, field: str) -> str | None:
        with self.lock:
            data = self._buckets.get(bucket_id)
            return data.ftypes.get((measurement, field)) if data else None

    # -- writing -------------------------------------------------------------------------------

    def write(self, bucket_id: str, points: list[tuple[tuple, list, int]]) -> WriteResult:
        """Store parsed points; a point with a field of a conflicting type is dropped whole."""
        result = WriteResult()
        with self.lock:
            data = self._buckets.get(bucket_id)
            if data is None:
                data = self._buckets[bucket_id] = BucketData()
            by_mt = data.by_mt
            ftypes = data.ftypes
            lock = self.lock
            created = False
            stored = 0
            for mt, fields, ts in points:
                fmap = by_mt.get(mt)
                if fmap is None:
                    fmap = by_mt[mt] = {}
                targets = []
                conflict = None
                for fk, ft, v in fields:
                    s = fmap.get(fk)
                    if s is None:
                        known = ftypes.get((mt[0], fk))
                        if known is not None and known != ft:
                            conflict = (fk, ft, known)
                            break
                    elif s.ftype != ft:
                        conflict = (fk, ft, s.ftype)
                        break
                    targets.append((s, fk, ft, v))
                if conflict is not None:
                    result.dropped += 1
                    if not result.conflict:
                        fk, ft, known = conflict
                        result.conflict = (
                            f'field type conflict: input field "{fk}" on measurement '
                            f'"{mt[0]}" is type {ft}, already exists as type {known}'
                        )
                    if not fmap:
                        del by_mt[mt]
                    continue
                for s, fk, ft, v in targets:
                    if s is None:
                        s = fmap.get(fk)  # a repeated field key in the same line
                        if s is None:
                            s = Series(SeriesKey(mt[0], mt[1], fk), ft, lock)
                            fmap[fk] = s
                            ftypes[(mt[0], fk)] = ft
                            created = True
                        elif s.ftype != ft:
                            continue
                    times = s.times
                    if type(times) is _ARRAY and times and ts > times[-1]:
                        times.append(ts)
                        s.values.append(v)
                    else:
                        s.insert(ts, v)
                stored += 1
            if created:
                data.sorted_series = None
            result.stored = stored
        return result

    def delete(
        self,
        bucket_id: str,
        start_ns: int,
        stop_ns: int,
        match: Callable[[str, dict[str, str]], bool] | None = None,
    ) -> int:
        """Delete points in ``[start_ns, stop_ns]`` of series whose (measurement, tags) match."""
        removed = 0
        with self.lock:
            data = self._buckets.get(bucket_id)
            if data is None:
                return 0
            for mt in list(data.by_mt):
                if match is not None and not match(mt[0], dict(mt[1])):
                    continue
                fmap = data.by_mt[mt]
                for fk in list(fmap):
                    s = fmap[fk]
                    removed += s.delete_range(start_ns, stop_ns)
                    if not len(s.times):
                        del fmap[fk]
                        data.sorted_series = None
                if not fmap:
                    del data.by_mt[mt]
            if data.sorted_series is None:
                # A field's type is forgotten once no series of it is left, as when its shard
                # is gone in InfluxDB.
                alive = {(mt[0], fk) for mt, fmap in data.by_mt.items() for fk in fmap}
                for key in list(data.ftypes):
                    if key not in alive:
                        del data.ftypes[key]
        return removed

    def load_series(
        self, bucket_id: str, key: SeriesKey, ftype: str, times: list[int], values: list
    ) -> None:
        """Add a run of points to one series (replaying a compacted log)."""
        with self.lock:
            data = self._buckets.get(bucket_id)
            if data is None:
                data = self._buckets[bucket_id] = BucketData()
            mt = (key.measurement, key.tags)
            fmap = data.by_mt.setdefault(mt, {})
            s = fmap.get(key.field)
            if s is None:
                s = fmap[key.field] = Series(key, ftype, self.lock)
                data.ftypes[(key.measurement, key.field)] = ftype
                data.sorted_series = None
            s.extend(times, values)

    def dump(self, chunk: int = 50_000):
        """Every series of every bucket as (bucket_id, series, times, values) runs."""
        with self.lock:
            buckets = list(self._buckets)
        for bucket_id in buckets:
            for s in self.series(bucket_id):
                times, values = s.slice(-(2**63), 2**63 - 1)
                for i in range(0, len(times), chunk):
                    yield bucket_id, s, times[i : i + chunk], values[i : i + chunk]

    def drop_bucket(self, bucket_id: str) -> None:
        with self.lock:
            self._buckets.pop(bucket_id, None)


__all__ = ["BOOLEAN", "FLOAT", "INTEGER", "STRING", "UNSIGNED", "Series", "Store", "WriteResult"]
