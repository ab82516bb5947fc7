"""The read at the root of every pipeline: ``from(bucket)`` with what fused into it.

A ``ReadSource`` stays symbolic until a result is written, so that ``range``, predicates on
series keys (answered from the bucket's ``series_index``), row predicates, a ``first``/``last``
selector (one point per series from storage), filters after the selector, ``keep``/``drop`` by
column list and ``group`` all shape one pass over storage. What may fuse, and when, is decided in
``plan.pushdown``; building the output tables from series parts is ``plan.fused``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from itertools import chain

from .. import series_index
from .. import tables as T
from ..errors import FluxError
from ..streams import Stream
from ..values import Time
from . import selected
from .counted import counted
from .fused import FIELD_TYPES, group_parts, project_table, series_table
from .predicates import union_terms_of


class ReadSource(Stream):
    """``from(bucket)`` plus a ``range``, key-level and row-level filters, and maybe a selector.

    Two later steps fuse into the read as well, so that no table per series is built only to be
    trimmed or merged: ``keep``/``drop`` by column list (``project``) and ``group`` (``regroup``).
    A source with either is no longer *plain*: filters, ranges and selectors after them take the
    generic table paths.
    """

    def __init__(self, interp: object, bucket: str, bucket_id: str, loc: tuple) -> None:
        self.interp = interp
        self.bucket = bucket
        self.bucket_id = bucket_id
        self.loc = loc
        self.start: int | None = None
        self.stop: int | None = None
        self.series_preds: list[Callable[[dict], object]] = []
        self.series_cols: list[tuple[str, ...]] = []  # the columns each series predicate reads
        self.row_preds: list[Callable[[dict], object]] = []
        # "first"/"last"/"min"/"max" (one point per series), or "count" (``plan.counted``)
        self.select: str | None = None
        # Filters after the selector: tested on the one selected row of each series.
        self.post_preds: list[tuple[Callable[[dict], object], frozenset[str] | None]] = []
        # keep/drop steps in order: (True for keep, column names)
        self.project: tuple[tuple[bool, frozenset[str]], ...] = ()
        self.regroup: tuple[tuple[str, ...], str] | None = None  # group(columns, mode)
        # A min/max read's source, a plain read of the same series (kept by later derived
        # reads, which change only how parts become tables): the selector picks from the
        # source's parts, which other results of the same variable then share.
        self.parent: ReadSource | None = None
        self._parts_read: list | None = None  # the parts ``_parts`` returned, once it ran

    def derive(self) -> ReadSource:
        clone = copy.copy(self)
        clone._cache = None
        clone._parts_read = None
        clone.series_preds = list(self.series_preds)
        clone.series_cols = list(self.series_cols)
        clone.row_preds = list(self.row_preds)
        clone.post_preds = list(self.post_preds)
        return clone

    def is_plain(self) -> bool:
        """No keep/drop/group fused in yet: rows still carry every column of the series."""
        return not self.project and self.regroup is None

    def check_bounded(self) -> None:
        if self.start is None:
            raise FluxError(
                f'cannot submit unbounded read to "{self.bucket}"; '
                "try bounding 'from' with a call to 'range'"
            )

    def matching_series(self, records: bool = True) -> list:
        """(series, key record) of the bucket's series whose keys pass every key-level predicate
        (just the series if not ``records``).

        Predicates on one column are answered from the bucket's ``SeriesIndex``: a predicate
        true for a known set of strings (``equals_any``) by looking those up, any other by
        evaluating it once per distinct value of the column (or per remaining candidate series,
        if fewer). Predicates on several columns are evaluated per candidate, memoized by the
        values they read. Series stay in storage order.
        """
        self.check_bounded()
        start, stop = Time(self.start), Time(self.stop)
        reader = self.interp.ctx.reader
        refs = reader.series(self.bucket_id)
        if not refs:
            return []
        bounds = {"_start": start, "_stop": stop}
        multi = []
        single = []
        unions = []
        for cols, pred in zip(self.series_cols, self.series_preds, strict=True):
            if all(c in bounds for c in cols):
                # Reads no series column: one answer for all series.
                if pred({c: bounds[c] for c in cols}) is not True:
                    return []
            elif len(cols) == 1:
                single.append((cols[0], pred))
            elif union_terms_of(pred, cols) is not None:
                unions.append(pred.union_terms)
            else:
                multi.append((cols, pred))
        if single or unions:
            order = self._index_lookup(refs, single, start, stop, unions)
        else:
            order = range(len(refs))
        out = []
        if not multi:
            if not records:
                return [refs[pos] for pos in order]
            for pos in order:
                ref = refs[pos]
                out.append((ref, key_record(ref.key, start, stop)))
            return out
        memos = [(key_getter(cols, start, stop), pred, {}) for cols, pred in multi]
        for pos in order:
            ref = refs[pos]
            key = ref.key
            record = None
            for getter, pred, memo in memos:
                values = getter(key)
                passed = memo.get(values)
                if passed is None:
                    record = record or key_record(key, start, stop)
                    passed = memo[values] = pred(record) is True
                if not passed:
                    break
            else:
                out.append((ref, record or key_record(key, start, stop)) if records else ref)
        return out

    def _index_lookup(
        self, refs: list, single: list, start: Time, stop: Time, unions: list = ()
    ) -> list[int]:
        """Ascending positions of the series passing every one-column predicate and every
        ``or`` across columns of known strings (``unions``: the predicates' ``union_terms``)."""
        index = series_index.index_for(self.interp.ctx.reader, self.bucket_id, refs)
        n = len(refs)
        answers: list[list[int]] = []  # each predicate's passing positions, ascending
        for terms in unions:
            hit: set[int] = set()
            for col, wanted in terms:
                values = index.column(col)
                for v in wanted:
                    hit.update(values.get(v, ()))
            answers.append(sorted(hit))
        scans = []  # (distinct values, column, predicate) for opaque predicates
        for col, pred in single:
            values = index.column(col)
            wanted = getattr(pred, "equals_any", None)
            if wanted is None or getattr(pred, "column", None) != col:
                scans.append((values, col, pred))
                continue
            found = [values[v] for v in wanted if v in values]
            if len(found) == 1:
                answers.append(found[0])
            else:
                answers.append(sorted(chain.from_iterable(found)))
        answers.sort(key=len)
        answers = [a for a in answers if len(a) < n]  # a predicate every series passes
        if answers and not answers[0]:
            return []
        candidates: set[int] | None = None
        if len(answers) > 1:
            candidates = set(answers[0]).intersection(*answers[1:])
        scans.sort(key=lambda item: len(item[0]))
        for values, col, pred in scans:
            known = candidates if candidates is not None else answers[0] if answers else None
            if known is not None and len(known) < len(values):
                getter = key_getter((col,), start, stop)
                memo: dict = {}
                kept = set()
                for pos in known:
                    value = getter(refs[pos].key)
                    passed = memo.get(value)
                    if passed is None:
                        passed = memo[value] = pred({col: value}) is True
                    if passed:
                        kept.add(pos)
                candidates = kept
            else:
                kept = set()
                for value, positions in values.items():
                    if pred({col: value}) is True:
                        kept.update(positions)
                if candidates is None and answers:
                    candidates = set(answers[0])
                candidates = kept if candidates is None else candidates & kept
            if not candidates:
                return []
        if candidates is None:
            return answers[0] if answers else list(range(n))
        return sorted(candidates)

    def _parts(self) -> list[tuple[dict, str, list, list]]:
        """(key record, Flux value type, times, values) of each series with rows to return;
        read once per source, however many results and selectors use them."""
        if self._parts_read is None:
            self._parts_read = self._read_parts()
        return self._parts_read

    def _read_parts(self) -> list[tuple[dict, str, list, list]]:
        select = self.select
        if select == "min" or select == "max":
            # The source's slices, read once for every result of the same variable (its
            # windows, its min and its max): the selector picks a row of each, the row
            # ``T.selector_index`` picks in its table (storage holds no nulls).
            extreme = T.extreme_index
            return [
                (record, vtype, [times[i]], [values[i]])
                for record, vtype, times, values in self.parent._parts()
                for i in (extreme(values, select),)
            ]
        start, stop = self.start, self.stop
        ctx = self.interp.ctx
        out = []
        matched = self.matching_series()
        ctx.series_read += len(matched)
        post = self.post_preds
        for ref, record in matched:
            if select is not None and select != "count":
                point = (ref.last if select == "last" else ref.first)(start, stop)
                if point is None:
                    continue
                if post and not row_passes(post, record, point[0], point[1]):
                    continue
                times, values = [point[0]], [point[1]]
            else:
                times, values = ref.slice(start, stop)
                if not len(times):
                    continue
                # Storage's own slices (typed arrays) go into the tables as they are: no
                # per-point Python objects until a cell is read, nothing for the GC to walk.
            if self.row_preds:
                times, values = self._filter_rows(record, times, values)
                if not times:
                    continue
            out.append((record, FIELD_TYPES[ref.ftype], times, values))
        return out

    def _compute(self) -> list[T.Table]:
        if self.select == "count":
            return counted(self)
        if selected.applies(self):
            return selected.grouped(self)
        parts = self._parts()
        if self.regroup is not None:
            grouped = group_parts(parts, self.project, *self.regroup)
            if grouped is not None:
                return grouped
        tables = [
            series_table(record, vtype, times, values) for record, vtype, times, values in parts
        ]
        if self.project:
            tables = [project_table(table, self.project) for table in tables]
        if self.regroup is not None:
            tables = T.group_tables(tables, list(self.regroup[0]), self.regroup[1])
        return tables

    def _filter_rows(self, record: dict, times: list, values: list) -> tuple[list, list]:
        row = dict(record)
        preds = self.row_preds
        keep_t, keep_v = [], []
        for t, v in zip(times, values, strict=True):
            row["_time"] = Time(t)
            row["_value"] = v
            for pred in preds:
                if pred(row) is not True:
                    break
            else:
                keep_t.append(t)
                keep_v.append(v)
        return keep_t, keep_v


def row_passes(preds: list, record: dict, t: int, v: object) -> bool:
    """Whether the selected point (``t``, ``v``) of the series keyed ``record`` passes every
    filter; a filter known to read only some columns gets a record of just those."""
    for pred, cols in preds:
        if cols is None:
            row = dict(record)
            row["_time"] = Time(t)
            row["_value"] = v
        else:
            row = {}
            for c in cols:
                row[c] = v if c == "_value" else Time(t) if c == "_time" else record.get(c)
        if pred(row) is not True:
            return False
    return True


def key_getter(cols: tuple[str, ...], start: Time, stop: Time) -> Callable:
    """A function of a SeriesKey returning the values of ``cols`` (hashable, for memoizing)."""
    getters = [selected.column_getter(c, start, stop) for c in cols]
    if len(getters) == 1:
        return getters[0]
    return lambda key: tuple(g(key) for g in getters)


def key_record(key: object, start: Time, stop: Time) -> dict:
    record = dict(key.tags)
    record["_measurement"] = key.measurement
    record["_field"] = key.field
    record["_start"] = start
    record["_stop"] = stop
    return record
