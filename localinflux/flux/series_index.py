"""An inverted index from series-key values to series, so key-level filters skip the scan.

A filter such as ``r._measurement == "environment" and r.device =~ /^(?:a|b)$/`` depends only
on series keys. Evaluating it once per series costs a few microseconds each, which adds up to
a large share of a query at tens of thousands of series. With an index from each column's
values to the positions of the series holding them, a predicate on one column is evaluated once
per *distinct value* (or once per remaining candidate, whichever is fewer) and the answer is a
set of positions. InfluxDB answers such predicates from its tag index the same way.

Indexes are built lazily per bucket and reused while the bucket's series list is unchanged
(same series objects in the same order), so writes of new points into existing series keep the
index valid and a new or deleted series rebuilds it.
"""

from __future__ import annotations

import operator
import threading
import weakref

# Columns that are not tags: where their value lives in a SeriesKey.
MEASUREMENT = "_measurement"
FIELD = "_field"


class SeriesIndex:
    """Positions (into ``refs``) of the series holding each value of a column."""

    __slots__ = ("_columns", "_lock", "refs")

    def __init__(self, refs: list) -> None:
        self.refs = refs
        self._columns: dict[str, dict[object, tuple[int, ...]]] | None = None
        self._lock = threading.Lock()

    def matches(self, refs: list) -> bool:
        """True if ``refs`` is the very list of series this index was built over."""
        mine = self.refs
        return len(mine) == len(refs) and all(map(operator.is_, mine, refs))

    def column(self, name: str) -> dict[object, tuple[int, ...]]:
        """value -> ascending positions; series without the column are listed under None."""
        columns = self._columns
        if columns is None:
            with self._lock:
                if self._columns is None:
                    self._columns = self._build()
                columns = self._columns
        found = columns.get(name)
        if found is None:
            # A column no series has: every series reads it as null.
            found = {None: tuple(range(len(self.refs)))} if self.refs else {}
        return found

    def _build(self) -> dict[str, dict[object, tuple[int, ...]]]:
        """All columns in one pass over the keys (cheaper than one pass per column)."""
        measurements: dict[object, list[int]] = {}
        fields: dict[object, list[int]] = {}
        tags: dict[str, dict[object, list[int]]] = {}
        for pos, ref in enumerate(self.refs):
            key = ref.key
            measurements.setdefault(key.measurement, []).append(pos)
            fields.setdefault(key.field, []).append(pos)
            for tag, value in key.tags:
                column = tags.get(tag)
                if column is None:
                    column = tags[tag] = {}
                column.setdefault(value, []).append(pos)
        n = len(self.refs)
        for column in tags.values():
            present = sum(len(p) for p in column.values())
            if present < n:
                have = set()
                for positions in column.values():
                    have.update(positions)
                column[None] = [p for p in range(n) if p not in have]
        tags[MEASUREMENT] = measurements
        tags[FIELD] = fields
        # Positions as tuples: a tuple of ints is untracked by the garbage collector, a list is
        # walked by every full collection (100,000 of them for a registry of 100,000 devices).
        for column in tags.values():
            for value, positions in column.items():
                column[value] = tuple(positions)
        return tags


# reader -> {bucket id -> index}, most recently used last; weak so a dropped store takes its
# indexes with it. An index holds its series, so only a few buckets' are kept per reader: a
# deleted bucket's series must not stay in memory through its index.
_INDEXES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_INDEXES_LOCK = threading.Lock()
MAX_BUCKETS = 8


def index_for(reader: object, bucket_id: str, refs: list) -> SeriesIndex:
    """The index of ``refs`` (the bucket's current series), reused while still valid."""
    with _INDEXES_LOCK:
        try:
            per_reader = _INDEXES.setdefault(reader, {})
        except TypeError:  # a reader that cannot be weakly referenced: an index per query
            return SeriesIndex(refs)
        index = per_reader.pop(bucket_id, None)
        if index is None or not index.matches(refs):
            index = SeriesIndex(refs)
        per_reader[bucket_id] = index
        while len(per_reader) > MAX_BUCKETS:
            del per_reader[next(iter(per_reader))]
        return index
