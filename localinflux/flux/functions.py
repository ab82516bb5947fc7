"""The Flux functions this server implements, and the lazy table streams they build.

Streams are evaluated only when a result is written. A ``ReadSource`` (``from |> range |>
filter…``) stays symbolic so that predicates on series keys prune series before any point is
copied (answered from a per-bucket ``series_index``), and ``first``/``last`` ask storage for one
point per series. A filter after ``first``/``last``, ``keep``/``drop`` by column list and
``group`` fuse into the read too: rows go straight from storage into the output tables instead
of through one table per series (``_group_parts``). Every fused path returns what the
table-by-table path returns; ``tests/localinflux/test_flux_perf_counts.py`` compares the two.
"""

from __future__ import annotations

import copy
import operator
from collections.abc import Callable
from functools import lru_cache
from itertools import repeat

from . import ast, series_index
from . import tables as T
from .compiled import compile_row_fn
from .errors import FluxError, NotSupported
from .interpreter import Call
from .values import Builtin, Closure, Duration, Time

FIELD_TYPES = {
    "float": T.DOUBLE,
    "integer": T.LONG,
    "unsigned": T.ULONG,
    "string": T.STRING,
    "boolean": T.BOOL,
}
_POINT_COLUMNS = {"_time", "_value"}


class Stream:
    """A lazily computed table stream; ``tables()`` materializes it once."""

    _cache: list[T.Table] | None = None

    def tables(self) -> list[T.Table]:
        if self._cache is None:
            self._cache = self._compute()
        return self._cache

    def _compute(self) -> list[T.Table]:
        raise NotImplementedError


class Derived(Stream):
    def __init__(self, compute: Callable[[], list[T.Table]]) -> None:
        self._fn = compute

    def _compute(self) -> list[T.Table]:
        return self._fn()


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
        self.select: str | None = None
        # Filters after the selector: tested on the one selected row of each series.
        self.post_preds: list[tuple[Callable[[dict], object], frozenset[str] | None]] = []
        # keep/drop steps in order: (True for keep, column names)
        self.project: tuple[tuple[bool, frozenset[str]], ...] = ()
        self.regroup: tuple[tuple[str, ...], str] | None = None  # group(columns, mode)

    def derive(self) -> ReadSource:
        clone = copy.copy(self)
        clone._cache = None
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

    def matching_series(self) -> list:
        """(series, key record) of the bucket's series whose keys pass every key-level predicate.

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
            elif _union_terms_of(pred, cols) is not None:
                unions.append(pred.union_terms)
            else:
                multi.append((cols, pred))
        if single or unions:
            order = self._index_lookup(refs, single, start, stop, unions)
        else:
            order = range(len(refs))
        out = []
        if not multi:
            for pos in order:
                ref = refs[pos]
                out.append((ref, _key_record(ref.key, start, stop)))
            return out
        memos = [(_key_getter(cols, start, stop), pred, {}) for cols, pred in multi]
        for pos in order:
            ref = refs[pos]
            key = ref.key
            record = None
            for getter, pred, memo in memos:
                values = getter(key)
                passed = memo.get(values)
                if passed is None:
                    record = record or _key_record(key, start, stop)
                    passed = memo[values] = pred(record) is True
                if not passed:
                    break
            else:
                out.append((ref, record or _key_record(key, start, stop)))
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
                answers.append(sorted(p for positions in found for p in positions))
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
                getter = _key_getter((col,), start, stop)
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
        """(key record, Flux value type, times, values) of each series with rows to return."""
        start, stop = self.start, self.stop
        ctx = self.interp.ctx
        out = []
        matched = self.matching_series()
        ctx.series_read += len(matched)
        select = self.select
        post = self.post_preds
        for ref, record in matched:
            if select is not None:
                point = (ref.last if select == "last" else ref.first)(start, stop)
                if point is None:
                    continue
                if post and not _row_passes(post, record, point[0], point[1]):
                    continue
                times, values = [point[0]], [point[1]]
            else:
                times, values = ref.slice(start, stop)
                if not len(times):
                    continue
                times, values = list(times), list(values)
            if self.row_preds:
                times, values = self._filter_rows(record, times, values)
                if not times:
                    continue
            out.append((record, FIELD_TYPES[ref.ftype], times, values))
        return out

    def _compute(self) -> list[T.Table]:
        parts = self._parts()
        if self.regroup is not None:
            grouped = _group_parts(parts, self.project, *self.regroup)
            if grouped is not None:
                return grouped
        tables = [
            _series_table(record, vtype, times, values) for record, vtype, times, values in parts
        ]
        if self.project:
            tables = [_project_table(table, self.project) for table in tables]
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


def _row_passes(preds: list, record: dict, t: int, v: object) -> bool:
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


def _project_labels(labels: list[str], project: tuple) -> list[str]:
    for keep, names in project:
        labels = [label for label in labels if (label in names) is keep]
    return labels


def _project_table(table: T.Table, project: tuple) -> T.Table:
    return T.select_columns(table, _project_labels(table.labels, project))


# Where a column of a series table comes from: the point times, the values, or the key record.
_FROM_TIMES = 0
_FROM_VALUES = 1


@lru_cache(maxsize=1024)
def _group_layout(
    record_keys: tuple[str, ...], vtype: str, project: tuple, columns: tuple, mode: str
) -> tuple | None:
    """Columns (label, type, source) of one series table after keep/drop, and its new group key.

    None when the new key would include ``_time`` or ``_value``: rows then split by value and
    the generic ``group`` does it.
    """
    tag_labels, _ = _layout(record_keys)
    types = {"_start": T.TIME, "_stop": T.TIME, "_time": T.TIME, "_value": vtype}
    labels = _project_labels(["_start", "_stop", "_time", "_value", *tag_labels], project)
    if mode == "by":
        key = sorted(c for c in set(columns) if c in labels)
    else:
        excluded = set(columns)
        key = [c for c in labels if c not in excluded]
    if "_time" in key or "_value" in key:
        return None
    cols = []
    for label in labels:
        source = {"_time": _FROM_TIMES, "_value": _FROM_VALUES}.get(label, label)
        cols.append((label, types.get(label, T.STRING), source))
    return tuple(cols), tuple(key)


class _FusedGroup:
    """One output table of a fused ``group``, filled straight from series parts.

    Same result as building each series' table and calling ``T.group_tables``: columns in order
    of first appearance (missing cells null), rows in series order, same type-collision error.
    Parts are only collected here; ``build`` fills each column in one comprehension.
    """

    __slots__ = ("key", "keyvals", "parts")

    def __init__(self, key: tuple, values: tuple) -> None:
        self.key = list(key)
        self.keyvals = dict(zip(key, values, strict=True))
        self.parts: list[tuple[tuple, dict, list, list]] = []

    def build(self) -> T.Table:
        parts = self.parts
        labels: list[str] = []
        types: list[str] = []
        sources: list[object] = []
        seen: dict[str, int] = {}
        for cols in dict.fromkeys(part[0] for part in parts):
            for label, typ, source in cols:
                j = seen.get(label)
                if j is None:
                    seen[label] = len(labels)
                    labels.append(label)
                    types.append(typ)
                    sources.append(source)
                elif types[j] != typ:
                    raise FluxError(
                        f'schema collision detected: column "{label}" is both of type '
                        f"{types[j]} and {typ}"
                    )
        single = all(len(times) == 1 for _, _, times, _ in parts)
        data: list[list] = []
        for source in sources:
            if source is _FROM_TIMES:
                column = [t for _, _, times, _ in parts for t in times]
            elif source is _FROM_VALUES:
                column = [v for _, _, _, values in parts for v in values]
            elif single:
                # A key column: the record lacks it exactly when the series' layout does (keep
                # and drop remove the same labels from every layout), so missing reads as null.
                column = [record.get(source) for _, record, _, _ in parts]
            else:
                column = [
                    cell
                    for _, record, times, _ in parts
                    for cell in repeat(record.get(source), len(times))
                ]
            data.append(column)
        return T.Table(labels, types, self.key, self.keyvals, data)


def _key_values(key: tuple) -> Callable[[dict], tuple]:
    """A function of a record returning the values of the ``key`` columns as a tuple."""
    if not key:
        return lambda record: ()
    if len(key) == 1:
        only = key[0]
        return lambda record: (record[only],)
    return operator.itemgetter(*key)


def _group_parts(parts: list, project: tuple, columns: tuple, mode: str) -> list[T.Table] | None:
    """``group`` straight from series parts; None if the generic path must do it."""
    groups: dict[tuple, _FusedGroup] = {}
    layouts: dict[tuple, tuple] = {}  # this call's layouts: cheaper to find than the lru cache
    for record, vtype, times, values in parts:
        record_keys = tuple(record)
        found = layouts.get((record_keys, vtype))
        if found is None:
            layout = _group_layout(record_keys, vtype, project, columns, mode)
            if layout is None:
                return None
            cols, key = layout
            found = layouts[(record_keys, vtype)] = (cols, key, _key_values(key))
        cols, key, key_values = found
        values_key = key_values(record)
        group = groups.get((key, values_key))
        if group is None:
            group = groups[(key, values_key)] = _FusedGroup(key, values_key)
        group.parts.append((cols, record, times, values))
    out = [group.build() for group in groups.values()]
    out.sort(key=T.group_key_order)
    return out


def _key_getter(cols: tuple[str, ...], start: Time, stop: Time) -> Callable:
    """A function of a SeriesKey returning the values of ``cols`` (hashable, for memoizing)."""

    def one(col: str) -> Callable:
        if col == "_measurement":
            return lambda key: key.measurement
        if col == "_field":
            return lambda key: key.field
        if col in ("_start", "_stop"):
            value = start if col == "_start" else stop
            return lambda key: value
        return lambda key: next((v for k, v in key.tags if k == col), None)

    getters = [one(c) for c in cols]
    if len(getters) == 1:
        return getters[0]
    return lambda key: tuple(g(key) for g in getters)


def _key_record(key: object, start: Time, stop: Time) -> dict:
    record = dict(key.tags)
    record["_measurement"] = key.measurement
    record["_field"] = key.field
    record["_start"] = start
    record["_stop"] = stop
    return record


@lru_cache(maxsize=1024)
def _layout(record_keys: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Tag columns (``_field``, ``_measurement`` and tags, sorted bytewise) and the group key."""
    tag_labels = tuple(sorted(k for k in record_keys if k not in ("_start", "_stop")))
    return tag_labels, ("_start", "_stop", *tag_labels)


def _series_table(record: dict, vtype: str, times: list, values: list) -> T.Table:
    tag_labels, key = _layout(tuple(record))
    n = len(times)
    labels = ["_start", "_stop", "_time", "_value", *tag_labels]
    types = [T.TIME, T.TIME, T.TIME, vtype] + [T.STRING] * len(tag_labels)
    data = [[record["_start"]] * n, [record["_stop"]] * n, times, values]
    data.extend([record[k]] * n for k in tag_labels)
    return T.Table(labels, types, list(key), {k: record[k] for k in key}, data)


# -- builtin registration ----------------------------------------------------------------------
class Spec:
    def __init__(self, fn: Callable, params: tuple, required: tuple) -> None:
        self.fn = fn
        self.params = params
        self.required = required

    def __call__(self, call: Call) -> object:
        return self.fn(call)


UNIVERSE: dict[str, object] = {"true": True, "false": False}
SCHEMA: dict[str, object] = {"__package__": "schema"}


def builtin(
    name: str,
    params: str = "",
    required: str = "",
    pipe: str | None = "tables",
    into: dict | None = None,
) -> Callable:
    def register(fn: Callable) -> Callable:
        names = tuple(params.split()) + ((pipe,) if pipe else ())
        spec = Spec(fn, names, tuple(required.split()) + ((pipe,) if pipe else ()))
        (UNIVERSE if into is None else into)[name] = Builtin(name, spec, pipe)
        return fn

    return register


def _stream(call: Call, name: str = "tables") -> Stream:
    value = call.args.get(name)
    if not isinstance(value, Stream):
        raise call.error(f"expected a table stream as piped input, got {type(value).__name__}")
    return value


def _tables_map(call: Call, per_table: Callable[[T.Table], T.Table | None]) -> Stream:
    source = _stream(call)

    def compute() -> list[T.Table]:
        out = []
        for table in source.tables():
            result = per_table(table)
            if result is not None:
                out.append(result)
        return out

    return Derived(compute)


# -- closures as predicates --------------------------------------------------------------------
def _single_param(call: Call, fn: Closure) -> str:
    params = fn.node.params
    if len(params) != 1:
        raise call.error("fn must take exactly one parameter")
    return params[0].name


def _referenced_columns(node: ast.Node, param: str) -> set[str] | None:
    """Columns of ``param`` the expression reads; None if it uses the record in another way."""
    found: set[str] = set()
    ok = True

    def walk(n: object) -> None:
        nonlocal ok
        if (
            isinstance(n, ast.MemberExpr)
            and isinstance(n.obj, ast.Identifier)
            and n.obj.name == param
        ):
            found.add(n.prop)
            return
        if isinstance(n, ast.Identifier):
            if n.name == param:
                ok = False
            return
        if isinstance(n, ast.FunctionExpr) and any(p.name == param for p in n.params):
            return  # the parameter is shadowed inside
        if isinstance(n, list | tuple):
            for item in n:
                walk(item)
            return
        if isinstance(n, ast.Node):
            for value in vars(n).values():
                if isinstance(value, ast.Node | list | tuple):
                    walk(value)
        if isinstance(n, ast.Param) and n.default is not None:
            walk(n.default)

    walk(node)
    return found if ok else None


def _conjuncts(node: ast.Node) -> list[ast.Node]:
    if isinstance(node, ast.LogicalExpr) and node.op == "and":
        return _conjuncts(node.left) + _conjuncts(node.right)
    return [node]


def _union_terms_of(pred: Callable, cols: tuple[str, ...]) -> tuple | None:
    """The predicate's ``union_terms`` (see ``compiled``) if they cover exactly ``cols``."""
    terms = getattr(pred, "union_terms", None)
    if terms is None or {col for col, _ in terms} != set(cols):
        return None
    return terms


def _predicate(call: Call, fn: Closure, param: str, body: ast.Node) -> Callable[[dict], object]:
    return compile_row_fn(call.interp, fn.scope, param, body)


# -- sources ------------------------------------------------------------------------------------
@builtin("from", "bucket bucketID host org orgID token", pipe=None)
def _from(call: Call) -> Stream:
    for unsupported in ("host", "org", "orgID", "token"):
        if unsupported in call.args:
            raise NotSupported(f"from() with {unsupported}")
    ctx = call.interp.ctx
    bucket = call.string("bucket")
    bucket_id_arg = call.string("bucketID")
    if (bucket is None) == (bucket_id_arg is None):
        raise call.error("specify exactly one of bucket or bucketID")
    if bucket is not None:
        bucket_id = ctx.resolve_bucket(bucket)
        name = bucket
    else:
        bucket_id = ctx.resolve_bucket_id(bucket_id_arg)
        name = bucket_id_arg
    if bucket_id is None:
        raise FluxError(
            f'failed to initialize execute state: could not find bucket "{name}"',
            status=404,
            code="not found",
        )
    return ReadSource(call.interp, name, bucket_id, call.loc)


@builtin("range", "start stop", required="start")
def _range(call: Call) -> Stream:
    source = _stream(call)
    start = call.time("start")
    stop = call.time("stop", call.interp.now_ns)
    if (
        isinstance(source, ReadSource)
        and source.start is None
        and not source.row_preds
        and source.is_plain()
    ):
        clone = source.derive()
        clone.start, clone.stop = int(start), int(stop)
        return clone
    if isinstance(source, ReadSource) and source.start is None:
        source.check_bounded()

    def per_table(table: T.Table) -> T.Table | None:
        return _range_table(table, int(start), int(stop))

    return _tables_map(call, per_table)


def _range_table(table: T.Table, start: int, stop: int) -> T.Table | None:
    ti = table.index("_time")
    if ti < 0:
        raise FluxError('range: missing column "_time"')
    times = table.data[ti]
    keep = [i for i, t in enumerate(times) if t is not None and start <= t < stop]
    result = table.take_rows(keep)
    for label in ("_start", "_stop"):
        value = Time(start if label == "_start" else stop)
        i = result.index(label)
        if i < 0:
            result.labels.insert(0 if label == "_start" else 1, label)
            result.types.insert(0 if label == "_start" else 1, T.TIME)
            result.data.insert(0 if label == "_start" else 1, [value] * len(keep))
        else:
            result.data[i] = [value] * len(keep)
        if label not in result.key:
            result.key.append(label)
        result.keyvals[label] = value
    return result if len(result) else None


@builtin("filter", "fn onEmpty", required="fn")
def _filter(call: Call) -> Stream:
    source = _stream(call)
    fn = call.function("fn")
    if not isinstance(fn, Closure):
        raise call.error("fn must be a function literal")
    on_empty = call.string("onEmpty", "drop")
    if on_empty not in ("drop", "keep"):
        raise call.error('onEmpty must be "drop" or "keep"')
    param = _single_param(call, fn)
    body = fn.node.body
    if isinstance(body, ast.Block):
        raise NotSupported("filter with a block body")

    if (
        isinstance(source, ReadSource)
        and source.start is not None
        and source.select is None
        and source.is_plain()
        and on_empty == "drop"
    ):
        clone = source.derive()
        row_parts = []
        for part in _conjuncts(body):
            cols = _referenced_columns(part, param)
            if cols is not None and not cols & _POINT_COLUMNS:
                clone.series_preds.append(_predicate(call, fn, param, part))
                clone.series_cols.append(tuple(sorted(cols)))
            else:
                row_parts.append(part)
        for part in row_parts:
            clone.row_preds.append(_predicate(call, fn, param, part))
        return clone
    if (
        isinstance(source, ReadSource)
        and source.select is not None
        and source.is_plain()
        and on_empty == "drop"
    ):
        # After first()/last() each table holds one row: filtering that row is filtering the
        # selected point, so no table needs building for series the filter drops.
        clone = source.derive()
        cols = _referenced_columns(body, param)
        clone.post_preds.append(
            (_predicate(call, fn, param, body), None if cols is None else frozenset(cols))
        )
        return clone

    cols = _referenced_columns(body, param)
    pred = _predicate(call, fn, param, body)

    def per_table(table: T.Table) -> T.Table | None:
        if cols is not None and all(c in table.keyvals or c not in table.labels for c in cols):
            # Only group-key columns are read, so one evaluation decides the whole table.
            record = {c: table.keyvals.get(c) for c in cols}
            keep_all = pred(record) is True
            result = table if keep_all else table.take_rows([])
        else:
            keep = _matching_rows(table, cols, pred)
            result = table if len(keep) == len(table) else table.take_rows(keep)
        if len(result) == 0 and on_empty == "drop":
            return None
        return result

    return _tables_map(call, per_table)


def _matching_rows(table: T.Table, cols: set[str] | None, pred: Callable) -> list[int]:
    """Indexes of the rows for which ``pred`` is true; one record dict is reused per row.

    When the function reads known columns only, only those are put in the record.
    """
    wanted = [
        (label, table.data[j], table.types[j] == T.TIME)
        for j, label in enumerate(table.labels)
        if cols is None or label in cols
    ]
    record: dict = {}
    keep = []
    for i in range(len(table)):
        for label, column, is_time in wanted:
            v = column[i]
            record[label] = Time(v) if is_time and v is not None else v
        if pred(record) is True:
            keep.append(i)
    return keep


# -- selectors and aggregates ---------------------------------------------------------------
def _selector(which: str) -> Callable[[Call], Stream]:
    def impl(call: Call) -> Stream:
        source = _stream(call)
        column = call.string("column", "_value")
        if (
            which in ("first", "last")
            and column == "_value"
            and isinstance(source, ReadSource)
            and source.start is not None
            and source.select is None
            and not source.row_preds
            and source.is_plain()
        ):
            clone = source.derive()
            clone.select = which
            return clone
        if isinstance(source, ReadSource):
            source.check_bounded()

        def per_table(table: T.Table) -> T.Table | None:
            index = T.selector_index(table, column, which)
            return None if index is None else table.take_rows([index])

        return _tables_map(call, per_table)

    return impl


for _name in ("first", "last", "min", "max"):
    builtin(_name, "column")(_selector(_name))


def _aggregate(fn_name: str) -> Callable[[Call], Stream]:
    def impl(call: Call) -> Stream:
        source = _stream(call)
        column = call.string("column", "_value")
        pushed = isinstance(source, ReadSource) and source.select is None and source.is_plain()

        def per_table(table: T.Table) -> T.Table | None:
            return T.aggregate_table(table, fn_name, column, pushed)

        return _tables_map(call, per_table)

    return impl


for _name in ("count", "sum", "mean"):
    builtin(_name, "column")(_aggregate(_name))


@builtin("distinct", "column")
def _distinct(call: Call) -> Stream:
    column = call.string("column", "_value")
    return _tables_map(call, lambda table: T.distinct_table(table, column))


@builtin(
    "aggregateWindow",
    "every fn period offset column timeSrc timeDst createEmpty location",
    required="every fn",
)
def _aggregate_window(call: Call) -> Stream:
    source = _stream(call)
    every = call.duration("every")
    period = call.duration("period", every)
    offset = call.duration("offset", Duration())
    fn = call.function("fn")
    if "location" in call.args:
        raise NotSupported("aggregateWindow with location")
    for name, d in (("every", every), ("period", period), ("offset", offset)):
        if d.months:
            raise NotSupported(f"aggregateWindow with a calendar-month {name}")
    if every.ns <= 0 or period.ns <= 0:
        raise call.error("every and period must be positive")
    if not isinstance(fn, Builtin) or fn.name not in T.SELECTORS + T.AGGREGATES:
        if isinstance(fn, Builtin):
            raise NotSupported(f'aggregateWindow with fn "{fn.name}"')
        raise NotSupported("aggregateWindow with a custom fn (use mean, min, max, ...)")
    column = call.string("column", "_value")
    time_src = call.string("timeSrc", "_stop")
    time_dst = call.string("timeDst", "_time")
    if time_src not in ("_start", "_stop"):
        raise NotSupported(f'aggregateWindow with timeSrc "{time_src}"')
    create_empty = call.boolean("createEmpty", True)
    pushed = isinstance(source, ReadSource) and source.select is None and source.is_plain()
    if isinstance(source, ReadSource):
        source.check_bounded()

    def per_table(table: T.Table) -> T.Table | None:
        return T.aggregate_window(
            table,
            every=every.ns,
            period=period.ns,
            offset=offset.ns % every.ns,
            fn=fn.name,
            column=column,
            time_src=time_src,
            time_dst=time_dst,
            create_empty=create_empty,
            pushed=pushed,
        )

    return _tables_map(call, per_table)


# -- shaping ------------------------------------------------------------------------------------
@builtin("limit", "n offset", required="n")
def _limit(call: Call) -> Stream:
    n = call.integer("n")
    offset = call.integer("offset", 0)
    if n < 0 or offset < 0:
        raise call.error("n and offset must not be negative")
    return _tables_map(call, lambda table: T.limit_table(table, n, offset) or None)


@builtin("sort", "columns desc")
def _sort(call: Call) -> Stream:
    columns = call.strings("columns", ["_value"])
    desc = call.boolean("desc", False)
    return _tables_map(call, lambda table: T.sort_table(table, columns, desc))


@builtin("group", "columns mode")
def _group(call: Call) -> Stream:
    source = _stream(call)
    columns = call.strings("columns", [])
    mode = call.string("mode", "by")
    if mode not in ("by", "except"):
        raise call.error('mode must be "by" or "except"')
    if isinstance(source, ReadSource) and source.regroup is None:
        # Fused into the read: rows go straight into the new groups (see ``_group_parts``).
        clone = source.derive()
        clone.regroup = (tuple(columns), mode)
        return clone
    return Derived(lambda: T.group_tables(source.tables(), columns, mode))


def _column_filter(call: Call, keep: bool) -> Stream:
    columns = call.strings("columns")
    fn = call.function("fn")
    if (columns is None) == (fn is None):
        raise call.error("specify exactly one of columns or fn")
    source = _stream(call)
    if columns is not None and isinstance(source, ReadSource) and source.regroup is None:
        # Fused into the read: series tables are built with only the surviving columns.
        clone = source.derive()
        clone.project = (*source.project, (keep, frozenset(columns)))
        return clone
    interp = call.interp

    def per_table(table: T.Table) -> T.Table:
        if columns is not None:
            chosen = set(columns)
        else:
            chosen = {
                label
                for label in table.labels
                if interp.call_function(fn, {"column": label}, call.loc) is True
            }
        wanted = chosen if keep else {label for label in table.labels if label not in chosen}
        return T.select_columns(table, [label for label in table.labels if label in wanted])

    return _tables_map(call, per_table)


@builtin("keep", "columns fn")
def _keep(call: Call) -> Stream:
    return _column_filter(call, keep=True)


@builtin("drop", "columns fn")
def _drop(call: Call) -> Stream:
    return _column_filter(call, keep=False)


@builtin("rename", "columns fn")
def _rename(call: Call) -> Stream:
    columns = call.typed("columns", (dict,), "a record")
    fn = call.function("fn")
    if (columns is None) == (fn is None):
        raise call.error("specify exactly one of columns or fn")
    if columns is not None and not all(isinstance(v, str) for v in columns.values()):
        raise call.error("columns must map names to strings")
    interp = call.interp

    def per_table(table: T.Table) -> T.Table:
        if columns is not None:
            mapping = dict(columns)
        else:
            mapping = {}
            for label in table.labels:
                new = interp.call_function(fn, {"column": label}, call.loc)
                if not isinstance(new, str):
                    raise call.error("fn must return a string")
                mapping[label] = new
        return T.rename_columns(table, mapping)

    return _tables_map(call, per_table)


@builtin("pivot", "rowKey columnKey valueColumn", required="rowKey columnKey valueColumn")
def _pivot(call: Call) -> Stream:
    source = _stream(call)
    row_key = call.strings("rowKey")
    column_key = call.strings("columnKey")
    value_column = call.string("valueColumn")
    if not column_key:
        raise call.error("columnKey must not be empty")
    return Derived(lambda: T.pivot_tables(source.tables(), row_key, column_key, value_column))


@builtin("yield", "name")
def _yield(call: Call) -> Stream:
    source = _stream(call)
    name = call.string("name", "_result")
    if isinstance(source, ReadSource):
        source.check_bounded()
    # A fresh stream object per yield so the same pipeline can be yielded under two names.
    result = Derived(source.tables)
    call.interp.add_result(name, result, call.loc)
    return result


@builtin("now", pipe=None)
def _now(call: Call) -> Time:
    return call.interp.now_ns


# -- influxdata/influxdb/schema -------------------------------------------------------------
def _schema_values(call: Call, tag: str) -> Stream:
    interp = call.interp
    bucket_stream = _from(Call(interp, "from", {"bucket": call.string("bucket")}, call.loc))
    source: ReadSource = bucket_stream  # type: ignore[assignment]
    source.start = int(call.time("start", Duration(ns=-30 * 86400 * 10**9)))
    source.stop = int(call.time("stop", interp.now_ns))
    predicate = call.args.get("predicate")
    if predicate is not None:
        if not isinstance(predicate, Closure):
            raise call.error("predicate must be a function")
        source = _filter(Call(interp, "filter", {"fn": predicate, "tables": source}, call.loc))

    def compute() -> list[T.Table]:
        found: set[str] = set()
        if source.row_preds:
            for table in source.tables():
                value = table.keyvals.get(tag)
                if value is not None:
                    found.add(value)
        else:
            for ref, record in source.matching_series():
                value = record.get(tag)
                if value is None or value in found:
                    continue
                interp.ctx.series_read += 1
                if ref.first(source.start, source.stop) is not None:
                    found.add(value)
        if not found:
            return []
        values = sorted(found)
        return [T.Table(["_value"], [T.STRING], [], {}, [values])]

    return Derived(compute)


@builtin("tagValues", "bucket tag predicate start stop", "bucket tag", pipe=None, into=SCHEMA)
def _tag_values(call: Call) -> Stream:
    return _schema_values(call, call.string("tag"))


@builtin("fieldKeys", "bucket predicate start stop", "bucket", pipe=None, into=SCHEMA)
def _field_keys(call: Call) -> Stream:
    return _schema_values(call, "_field")


@builtin("measurements", "bucket start stop", "bucket", pipe=None, into=SCHEMA)
def _measurements(call: Call) -> Stream:
    return _schema_values(call, "_measurement")


def _in_measurement(call: Call) -> Call:
    """Adds ``r._measurement == measurement`` to the predicate of a ``measurement*`` helper."""
    measurement = call.string("measurement")
    node = ast.FunctionExpr(
        [ast.Param("r")],
        ast.BinaryExpr(
            "==",
            ast.MemberExpr(ast.Identifier("r"), "_measurement"),
            ast.StringLit(measurement),
        ),
    )
    args = {k: v for k, v in call.args.items() if k != "measurement"}
    args["predicate"] = Closure(node, call.interp.universe)
    return Call(call.interp, call.name, args, call.loc)


@builtin(
    "measurementTagValues",
    "bucket measurement tag start stop",
    "bucket measurement tag",
    pipe=None,
    into=SCHEMA,
)
def _measurement_tag_values(call: Call) -> Stream:
    return _schema_values(_in_measurement(call), call.string("tag"))


@builtin(
    "measurementFieldKeys",
    "bucket measurement start stop",
    "bucket measurement",
    pipe=None,
    into=SCHEMA,
)
def _measurement_field_keys(call: Call) -> Stream:
    return _schema_values(_in_measurement(call), "_field")


PACKAGES = {"influxdata/influxdb/schema": SCHEMA}

__all__ = ["PACKAGES", "UNIVERSE", "ReadSource", "Stream"]
