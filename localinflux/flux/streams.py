"""Lazy table streams: what a pipeline evaluates to until a result is written.

``Stream.tables()`` materializes a stream once. Built-ins that work table by table return a
``Derived`` over their input (``tables_map``); the read planner's ``ReadSource`` is a stream too.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

from . import tables as T

# Set while a query runs with the operator profiler on (see ``profiler.py``): times each
# stream's computation. A context variable, so concurrent queries in other threads are apart.
step_timer: ContextVar = ContextVar("flux_step_timer", default=None)


class Stream:
    """A lazily computed table stream; ``tables()`` materializes it once."""

    _cache: list[T.Table] | None = None

    def tables(self) -> list[T.Table]:
        if self._cache is None:
            timer = step_timer.get()
            self._cache = self._compute() if timer is None else timer.run(self, self._compute)
        return self._cache

    def _compute(self) -> list[T.Table]:
        raise NotImplementedError


class Derived(Stream):
    """A stream computed by a function of other streams."""

    def __init__(self, compute: Callable[[], list[T.Table]]) -> None:
        self._fn = compute

    def _compute(self) -> list[T.Table]:
        return self._fn()


def map_tables(source: Stream, per_table: Callable[[T.Table], T.Table | None]) -> Stream:
    """``per_table`` over each table of ``source``; tables it answers None for are dropped."""

    def compute() -> list[T.Table]:
        out = []
        for table in source.tables():
            result = per_table(table)
            if result is not None:
                out.append(result)
        return out

    return Derived(compute)
