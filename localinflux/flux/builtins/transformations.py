"""Transformations that filter, reshape and name table streams.

``filter``, ``limit``, ``sort``, ``group``, ``keep``, ``drop``, ``rename``, ``pivot`` and
``yield``. ``filter``, ``group`` and ``keep``/``drop`` by column list fuse into a read when
``plan.pushdown`` allows it; the code here is their table-by-table form.
"""

from __future__ import annotations

from collections.abc import Callable

from .. import ast, plan
from .. import tables as T
from ..errors import NotSupported
from ..interpreter import Call
from ..plan.predicates import referenced_columns
from ..streams import Derived, Stream
from ..values import Closure, Time
from .registry import row_predicate, signature, single_param, stream_arg, tables_map


@signature("fn onEmpty", required="fn")
def filter_(call: Call) -> Stream:
    source = stream_arg(call)
    fn = call.function("fn")
    if not isinstance(fn, Closure):
        raise call.error("fn must be a function literal")
    on_empty = call.string("onEmpty", "drop")
    if on_empty not in ("drop", "keep"):
        raise call.error('onEmpty must be "drop" or "keep"')
    param = single_param(call, fn)
    body = fn.node.body
    if isinstance(body, ast.Block):
        raise NotSupported("filter with a block body")

    fused = plan.with_filter(
        source, body, param, on_empty, lambda part: row_predicate(call, fn, param, part)
    )
    if fused is not None:
        return fused

    cols = referenced_columns(body, param)
    pred = row_predicate(call, fn, param, body)

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

    return tables_map(call, per_table)


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


@signature("n offset", required="n")
def limit(call: Call) -> Stream:
    n = call.integer("n")
    offset = call.integer("offset", 0)
    if n < 0 or offset < 0:
        raise call.error("n and offset must not be negative")
    return tables_map(call, lambda table: T.limit_table(table, n, offset) or None)


@signature("columns desc")
def sort(call: Call) -> Stream:
    columns = call.strings("columns", ["_value"])
    desc = call.boolean("desc", False)
    return tables_map(call, lambda table: T.sort_table(table, columns, desc))


@signature("columns mode")
def group(call: Call) -> Stream:
    source = stream_arg(call)
    columns = call.strings("columns", [])
    mode = call.string("mode", "by")
    if mode not in ("by", "except"):
        raise call.error('mode must be "by" or "except"')
    fused = plan.with_group(source, columns, mode)
    if fused is not None:
        return fused
    return Derived(lambda: T.group_tables(source.tables(), columns, mode))


def _column_filter(call: Call, keep: bool) -> Stream:
    columns = call.strings("columns")
    fn = call.function("fn")
    if (columns is None) == (fn is None):
        raise call.error("specify exactly one of columns or fn")
    source = stream_arg(call)
    fused = plan.with_columns(source, keep, columns)
    if fused is not None:
        return fused
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

    return tables_map(call, per_table)


@signature("columns fn")
def keep(call: Call) -> Stream:
    return _column_filter(call, keep=True)


@signature("columns fn")
def drop(call: Call) -> Stream:
    return _column_filter(call, keep=False)


@signature("columns fn")
def rename(call: Call) -> Stream:
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

    return tables_map(call, per_table)


@signature("rowKey columnKey valueColumn", required="rowKey columnKey valueColumn")
def pivot(call: Call) -> Stream:
    source = stream_arg(call)
    row_key = call.strings("rowKey")
    column_key = call.strings("columnKey")
    value_column = call.string("valueColumn")
    if not column_key:
        raise call.error("columnKey must not be empty")
    return Derived(lambda: T.pivot_tables(source.tables(), row_key, column_key, value_column))


@signature("name")
def yield_(call: Call) -> Stream:
    source = stream_arg(call)
    name = call.string("name", "_result")
    plan.require_bounds(source)
    # A fresh stream object per yield so the same pipeline can be yielded under two names.
    result = Derived(source.tables)
    call.interp.add_result(name, result, call.loc)
    return result
