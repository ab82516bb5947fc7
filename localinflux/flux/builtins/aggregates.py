"""Aggregates: ``count``, ``sum``, ``mean`` (one row per table) and ``distinct``."""

from __future__ import annotations

from collections.abc import Callable

from .. import plan
from .. import tables as T
from ..interpreter import Call
from ..streams import Stream
from .registry import signature, stream_arg, tables_map


def _aggregate(fn_name: str) -> Callable[[Call], Stream]:
    @signature("column")
    def impl(call: Call) -> Stream:
        source = stream_arg(call)
        column = call.string("column", "_value")
        if fn_name == "count":
            fused = plan.with_count(source, column)
            if fused is not None:
                return fused
        pushed = plan.reads_whole_series(source)

        def per_table(table: T.Table) -> T.Table | None:
            return T.aggregate_table(table, fn_name, column, pushed)

        return tables_map(call, per_table)

    impl.__name__ = impl.__qualname__ = fn_name
    return impl


count = _aggregate("count")
sum_ = _aggregate("sum")
mean = _aggregate("mean")


@signature("column")
def distinct(call: Call) -> Stream:
    column = call.string("column", "_value")
    return tables_map(call, lambda table: T.distinct_table(table, column))
