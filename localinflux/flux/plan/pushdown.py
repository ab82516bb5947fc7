"""When a pipeline step fuses into the read instead of running table by table.

Each ``with_*`` returns a new ``ReadSource`` with the step folded in, or None when the step must
take the generic path (the source is not a read, or an earlier step makes fusing it wrong). The
built-ins ask here first and fall back to their table-by-table implementation.
"""

from __future__ import annotations

from collections.abc import Callable

from .. import ast
from .predicates import conjuncts, referenced_columns
from .read import ReadSource

POINT_COLUMNS = frozenset(("_time", "_value"))

Predicate = Callable[[dict], object]


def require_bounds(source: object) -> None:
    """A read must have had a ``range`` before its rows are used: InfluxDB's planner error."""
    if isinstance(source, ReadSource):
        source.check_bounded()


def with_range(source: object, start: int, stop: int) -> ReadSource | None:
    if (
        isinstance(source, ReadSource)
        and source.start is None
        and not source.row_preds
        and source.is_plain()
    ):
        clone = source.derive()
        clone.start, clone.stop = start, stop
        return clone
    return None


def with_filter(
    source: object,
    body: ast.Node,
    param: str,
    on_empty: str,
    compile_part: Callable[[ast.Node], Predicate],
) -> ReadSource | None:
    """``filter(fn: (param) => body)`` on a bounded read.

    Before a selector, conjuncts that read only series-key columns become key predicates (they
    prune series before any point is copied) and the others row predicates. After
    ``first``/``last`` each table holds one row, so the filter tests the selected point.
    """
    if not isinstance(source, ReadSource) or not source.is_plain() or on_empty != "drop":
        return None
    if source.start is not None and source.select is None:
        clone = source.derive()
        row_parts = []
        for part in conjuncts(body):
            cols = referenced_columns(part, param)
            if cols is not None and not cols & POINT_COLUMNS:
                clone.series_preds.append(compile_part(part))
                clone.series_cols.append(tuple(sorted(cols)))
            else:
                row_parts.append(part)
        for part in row_parts:
            clone.row_preds.append(compile_part(part))
        return clone
    if source.select in ("first", "last"):
        clone = source.derive()
        cols = referenced_columns(body, param)
        clone.post_preds.append((compile_part(body), None if cols is None else frozenset(cols)))
        return clone
    return None


def with_selector(source: object, which: str, column: str) -> ReadSource | None:
    """``first``/``last``/``min``/``max`` on ``_value``: one point per series, picked from its
    slice (``first``/``last`` by storage itself), no table of the series' points built."""
    if (
        which in ("first", "last", "min", "max")
        and column == "_value"
        and isinstance(source, ReadSource)
        and source.start is not None
        and source.select is None
        and not source.row_preds
        and source.is_plain()
    ):
        clone = source.derive()
        clone.select = which
        if which in ("min", "max"):
            clone.parent = source
        return clone
    return None


def with_count(source: object, column: str) -> ReadSource | None:
    """``count`` of ``_value``: each series' points in the range counted, no table per series
    (``plan.counted``); ``keep``/``drop`` and ``group`` after it fuse as well."""
    if (
        column == "_value"
        and isinstance(source, ReadSource)
        and source.start is not None
        and source.select is None
        and source.is_plain()
    ):
        clone = source.derive()
        clone.select = "count"
        return clone
    return None


def with_group(source: object, columns: list[str], mode: str) -> ReadSource | None:
    """``group``: rows go straight from the series into the new groups."""
    if isinstance(source, ReadSource) and source.regroup is None:
        clone = source.derive()
        clone.regroup = (tuple(columns), mode)
        return clone
    return None


def with_columns(source: object, keep: bool, columns: list[str] | None) -> ReadSource | None:
    """``keep``/``drop`` by column list: series tables are built with the surviving columns."""
    if columns is not None and isinstance(source, ReadSource) and source.regroup is None:
        clone = source.derive()
        clone.project = (*source.project, (keep, frozenset(columns)))
        return clone
    return None


def reads_whole_series(source: object) -> bool:
    """Whether ``source`` hands over each series' rows as stored (no selector, keep or group):
    aggregates then order their output columns as InfluxDB's pushed-down aggregates do."""
    return isinstance(source, ReadSource) and source.select is None and source.is_plain()
