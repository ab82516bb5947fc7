"""Selectors: ``first``, ``last``, ``min``, ``max`` (one row of each table).

``first``/``last`` on ``_value`` right after a bounded read fuse into it: storage returns one
point per series instead of every point of the range.
"""

from __future__ import annotations

from collections.abc import Callable

from .. import plan
from .. import tables as T
from ..interpreter import Call
from ..streams import Stream
from .registry import signature, stream_arg, tables_map


def _selector(which: str) -> Callable[[Call], Stream]:
    @signature("column")
    def impl(call: Call) -> Stream:
        source = stream_arg(call)
        column = call.string("column", "_value")
        fused = plan.with_selector(source, which, column)
        if fused is not None:
            return fused
        plan.require_bounds(source)

        def per_table(table: T.Table) -> T.Table | None:
            index = T.selector_index(table, column, which)
            return None if index is None else table.take_rows([index])

        return tables_map(call, per_table)

    impl.__name__ = impl.__qualname__ = which
    return impl


first = _selector("first")
last = _selector("last")
min_ = _selector("min")
max_ = _selector("max")
