"""The read planner: ``from() |> range() |> filter() ...`` answered in one pass over storage.

``read`` holds ``ReadSource`` (series selection through the series index, point slices, fused
selectors and filters), ``pushdown`` decides which pipeline steps fold into a read, ``fused``
builds output tables straight from series parts, ``predicates`` analyses row functions.
"""

from __future__ import annotations

from .pushdown import (
    reads_whole_series,
    require_bounds,
    with_columns,
    with_count,
    with_filter,
    with_group,
    with_range,
    with_selector,
)
from .read import ReadSource

__all__ = [
    "ReadSource",
    "reads_whole_series",
    "require_bounds",
    "with_columns",
    "with_count",
    "with_filter",
    "with_group",
    "with_range",
    "with_selector",
]
