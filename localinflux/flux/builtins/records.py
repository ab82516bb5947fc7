"""Functions that build rows from records: ``map``, ``unique`` and ``join.inner``.

``map`` calls its function once per row; a record literal body (``({owner: ..., _time:
r._time})``, also ``{r with ...}``) is compiled property by property (``compiled.py``), so no
interpreter runs per row for the usual shapes. ``join.inner`` pairs tables with the same group
key (as InfluxDB's join package does) and joins their rows by hashing the ``on`` columns.

Column types of built rows come from their values (string, int, float, bool, time); a column
only ever null keeps the input column's type, else string. Column order is the record's order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from .. import ast
from .. import tables as T
from ..compiled import compile_row_fn
from ..errors import FluxError
from ..interpreter import Call
from ..streams import Derived, Stream
from ..values import Closure, Time
from .registry import signature, single_param, stream_arg, tables_map


def _type_of(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return T.BOOL
    if isinstance(value, Time):
        return T.TIME
    if isinstance(value, int):
        return T.LONG
    if isinstance(value, float):
        return T.DOUBLE
    if isinstance(value, str):
        return T.STRING
    raise FluxError(f"map: a column value must be a basic type, got {type(value).__name__}")


def _record_reader(table: T.Table) -> Callable[[int], dict]:
    """Row ``i`` of ``table`` as a Flux record (times as ``Time``)."""
    cols = [
        (label, table.data[j], table.types[j] == T.TIME) for j, label in enumerate(table.labels)
    ]

    def read(i: int) -> dict:
        return {
            label: (Time(col[i]) if is_time and col[i] is not None else col[i])
            for label, col, is_time in cols
        }

    return read


def tables_from_records(
    records: Iterable[tuple[list[str], tuple, dict]], hint: dict[str, str]
) -> list[T.Table]:
    """Tables of ``(key labels, key values, record)`` triples, one per distinct key, in order
    of first appearance; ``hint`` gives the type of columns that only ever hold null."""
    groups: dict[tuple, tuple[list[str], dict, list[dict]]] = {}
    for key, keyvals, record in records:
        group = groups.get((tuple(key), keyvals))
        if group is None:
            group = groups[(tuple(key), keyvals)] = (key, dict(zip(key, keyvals, strict=True)), [])
        group[2].append(record)
    out = []
    for key, keyvals, rows in groups.values():
        labels: list[str] = []
        for record in rows:
            for label in record:
                if label not in labels:
                    labels.append(label)
        types, data = [], []
        for label in labels:
            column = [record.get(label) for record in rows]
            found = {t for v in column if (t := _type_of(v)) is not None}
            if len(found) > 1:
                raise FluxError(f'schema collision: column "{label}" has values of several types')
            types.append(found.pop() if found else hint.get(label, T.STRING))
            data.append([int(v) if isinstance(v, Time) else v for v in column])
        out.append(T.Table(labels, types, list(key), keyvals, data))
    return out


def _record_fn(call: Call, fn: Closure, param: str) -> Callable[[dict], object]:
    """``fn`` of one record; a record-literal body is compiled property by property."""
    body = fn.node.body
    if isinstance(body, ast.RecordExpr):
        props = [(k, compile_row_fn(call.interp, fn.scope, param, v)) for k, v in body.props]
        base = body.with_
        if base is None:
            return lambda r: {k: prop(r) for k, prop in props}
        if isinstance(base, ast.Identifier) and base.name == param:
            return lambda r: {**r, **{k: prop(r) for k, prop in props}}
    interp = call.interp
    return lambda r: interp.call_closure(fn, {param: r}, call.loc)


@signature("fn mergeKey", required="fn")
def map_(call: Call) -> Stream:
    source = stream_arg(call)
    fn = call.function("fn")
    if not isinstance(fn, Closure):
        raise call.error("fn must be a function literal")
    param = single_param(call, fn)
    record_of = _record_fn(call, fn, param)

    def compute() -> list[T.Table]:
        triples = []
        hint: dict[str, str] = {}
        for table in source.tables():
            hint.update(zip(table.labels, table.types, strict=True))
            read = _record_reader(table)
            for i in range(len(table)):
                out = record_of(read(i))
                if not isinstance(out, dict):
                    raise call.error("fn must return a record")
                # A key column the record drops leaves the key; a changed value regroups.
                key = [k for k in table.key if k in out]
                triples.append((key, tuple(out[k] for k in key), out))
        return tables_from_records(triples, hint)

    return Derived(compute)


@signature("column")
def unique(call: Call) -> Stream:
    """The first row of each distinct value of ``column``, per table; rows and columns as
    they were. A table without the column is an error (Flux: ``no column "x" exists``)."""
    column = call.string("column", "_value")

    def per_table(table: T.Table) -> T.Table | None:
        i = table.index(column)
        if i < 0:
            raise FluxError(f'no column "{column}" exists')
        seen: set = set()
        keep = []
        for row, value in enumerate(table.data[i]):
            if (type(value), value) not in seen:
                seen.add((type(value), value))
                keep.append(row)
        return table.take_rows(keep) if keep else None

    return tables_map(call, per_table)


def _join_columns(call: Call, fn: Closure) -> list[tuple[str, str]]:
    """``[(left column, right column)]`` of an ``on`` function ``(l, r) => l.a == r.b and ...``."""
    params = [p.name for p in fn.node.params]
    if len(params) != 2:
        raise call.error("on must take two parameters (l, r)")
    left, right = params
    pairs: list[tuple[str, str]] = []

    def walk(node: object) -> None:
        if isinstance(node, ast.LogicalExpr) and node.op == "and":
            walk(node.left)
            walk(node.right)
            return
        if isinstance(node, ast.BinaryExpr) and node.op == "==":
            sides = {}
            for side in (node.left, node.right):
                if isinstance(side, ast.MemberExpr) and isinstance(side.obj, ast.Identifier):
                    sides[side.obj.name] = side.prop
            if set(sides) == {left, right}:
                pairs.append((sides[left], sides[right]))
                return
        raise call.error(
            "on must be equality comparisons of a property of l and one of r, joined by and"
        )

    walk(fn.node.body)
    return pairs


@signature("right on as", required="right on as", pipe="left")
def join_inner(call: Call) -> Stream:
    left = stream_arg(call, "left")
    right = stream_arg(call, "right")
    on, as_ = call.function("on"), call.function("as")
    if not isinstance(on, Closure) or not isinstance(as_, Closure):
        raise call.error("on and as must be function literals")
    pairs = _join_columns(call, on)
    lnames = [p.name for p in as_.node.params]
    if len(lnames) != 2:
        raise call.error("as must take two parameters (l, r)")
    interp = call.interp

    def keys_of(table: T.Table, columns: list[str]) -> Sequence:
        """The join-column values of every row (no record built): a missing column is null.
        One column: its values as they are; several: a tuple per row."""
        cols = [table.data[i] if (i := table.index(c)) >= 0 else None for c in columns]
        n = len(table)
        cols = [col if col is not None else [None] * n for col in cols]
        return cols[0] if len(cols) == 1 else list(zip(*cols, strict=True))

    single = len(pairs) == 1

    def join_pair(ltable: T.Table, rtable: T.Table, triples: list) -> None:
        lkeys = keys_of(ltable, [lc for lc, _ in pairs])
        rkeys = keys_of(rtable, [rc for _, rc in pairs])
        # Hash the smaller side; scan the other's key columns; records only for matches.
        small, big = (lkeys, rkeys) if len(lkeys) <= len(rkeys) else (rkeys, lkeys)
        index: dict[object, list[int]] = {}
        for i, k in enumerate(small):
            if (k is not None) if single else (None not in k):  # null never equals anything
                index.setdefault(k, []).append(i)
        matches = []
        left_small = small is lkeys
        # Rows of the big side with a partner, found in one comprehension (most have none).
        for j in [j for j, k in enumerate(big) if k in index]:
            for i in index[big[j]]:
                matches.append((i, j) if left_small else (j, i))
        if not matches:
            return
        matches.sort()
        read_l, read_r = _record_reader(ltable), _record_reader(rtable)
        for li, ri in matches:
            out = interp.call_closure(as_, {lnames[0]: read_l(li), lnames[1]: read_r(ri)}, call.loc)
            if not isinstance(out, dict):
                raise call.error("as must return a record")
            key = [k for k in ltable.key if k in out]
            triples.append((key, tuple(out[k] for k in key), out))

    def compute() -> list[T.Table]:
        rights: dict[tuple, list[T.Table]] = {}
        for table in right.tables():
            rights.setdefault((tuple(table.key), table.key_tuple()), []).append(table)
        triples: list = []
        hint: dict[str, str] = {}
        for ltable in left.tables():
            hint.update(zip(ltable.labels, ltable.types, strict=True))
            for rtable in rights.get((tuple(ltable.key), ltable.key_tuple()), []):
                join_pair(ltable, rtable, triples)
        return tables_from_records(triples, hint)

    return Derived(compute)
