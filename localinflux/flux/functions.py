"""The Flux functions this server implements, and the lazy table streams they build.

Streams are evaluated only when a result is written. A ``ReadSource`` (``from |> range |>
filter…``) stays symbolic so that predicates on series keys prune series before any point is
copied, and ``first``/``last`` ask storage for one point per series.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import lru_cache

from . import ast
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
    """``from(bucket)`` plus a ``range``, key-level and row-level filters, and maybe a selector."""

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

    def derive(self) -> ReadSource:
        clone = copy.copy(self)
        clone._cache = None
        clone.series_preds = list(self.series_preds)
        clone.series_cols = list(self.series_cols)
        clone.row_preds = list(self.row_preds)
        return clone

    def check_bounded(self) -> None:
        if self.start is None:
            raise FluxError(
                f'cannot submit unbounded read to "{self.bucket}"; '
                "try bounding 'from' with a call to 'range'"
            )

    def matching_series(self) -> list:
        """Series of the bucket whose keys pass every key-level predicate.

        A predicate's answer depends only on the columns it reads, and many series share those
        values (every field of a device, every series of a measurement), so each answer is
        memoized by the values it read: 70,000 series cost a few thousand evaluations.
        """
        self.check_bounded()
        start, stop = Time(self.start), Time(self.stop)
        refs = self.interp.ctx.reader.series(self.bucket_id)
        checks = [
            (_key_getter(cols, start, stop), pred, {})
            for cols, pred in zip(self.series_cols, self.series_preds, strict=True)
        ]
        out = []
        for ref in refs:
            key = ref.key
            record = None
            for getter, pred, memo in checks:
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

    def _compute(self) -> list[T.Table]:
        start, stop = self.start, self.stop
        ctx = self.interp.ctx
        out: list[T.Table] = []
        for ref, record in self.matching_series():
            ctx.series_read += 1
            if self.select is not None:
                point = (ref.last if self.select == "last" else ref.first)(start, stop)
                if point is None:
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
            out.append(_series_table(record, FIELD_TYPES[ref.ftype], times, values))
        return out

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
    if isinstance(source, ReadSource) and source.start is None and not source.row_preds:
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
        pushed = isinstance(source, ReadSource) and source.select is None

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
    pushed = isinstance(source, ReadSource) and source.select is None
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
    return Derived(lambda: T.group_tables(source.tables(), columns, mode))


def _column_filter(call: Call, keep: bool) -> Stream:
    columns = call.strings("columns")
    fn = call.function("fn")
    if (columns is None) == (fn is None):
        raise call.error("specify exactly one of columns or fn")
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
