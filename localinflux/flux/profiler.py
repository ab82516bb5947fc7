"""Flux's ``profiler`` package: the ``_profiler`` result InfluxDB adds when asked.

``import "profiler"`` with ``option profiler.enabledProfilers = ["query", "operator"]`` (what
influxdb-client's ``QueryOptions(profilers=[...])`` sends in the extern) adds, after the query's
own results, a result named ``_profiler`` with one table per enabled profiler, laid out as
Flux's ``execute/profiler.go`` lays them out:

- ``profiler/query``: one row, ``_measurement`` (the group key), ``TotalDuration``,
  ``CompileDuration``, ``QueueDuration``, ``PlanDuration``, ``RequeueDuration``,
  ``ExecuteDuration``, ``Concurrency``, ``MaxAllocated``, ``TotalAllocated`` (ints, ns/bytes)
  and ``RuntimeErrors`` (string). Durations are measured here: compile = parsing, plan =
  evaluating the script into table streams, execute = computing and writing the results.
  Queueing does not exist here (0); allocation is not tracked (0). InfluxDB's extra metadata
  columns (storage scan counters, the plan text) are left out.
- ``profiler/operator``: a row per built-in call whose table stream was computed: ``Type``
  (the function), ``Label`` (function and call number, e.g. ``filter3``), ``Count`` (1),
  ``MinDuration``/``MaxDuration``/``DurationSum`` (its own time, without its inputs') and
  ``MeanDuration`` (float). Steps fused into a storage read (``range``, ``filter``, ``last``
  ...) are one operator there, as InfluxDB's pushed-down reads are; it has the last step's name.

Other names in ``enabledProfilers`` are ignored, as Flux ignores them.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from . import tables as T
from .streams import Stream, step_timer

PROFILER_RESULT = "_profiler"
PROFILERS = ("query", "operator")


class StepTimer:
    """Each computed stream's own time: its computation minus the streams computed inside it."""

    def __init__(self) -> None:
        self._children: list[int] = []
        self.own_ns: dict[int, int] = {}

    def run(self, stream: Stream, compute: Callable[[], list]) -> list:
        start = time.perf_counter_ns()
        self._children.append(0)
        try:
            return compute()
        finally:
            inner = self._children.pop()
            total = time.perf_counter_ns() - start
            if self._children:
                self._children[-1] += total
            self.own_ns[id(stream)] = self.own_ns.get(id(stream), 0) + total - inner


class QueryProfile:
    """What one query's profilers need: phase times, the built-in steps, the step timer."""

    def __init__(self, enabled: list[str], started_ns: int) -> None:
        self.enabled = [name for name in PROFILERS if name in enabled]
        self.started_ns = started_ns
        self.compile_ns = 0
        self.plan_ns = 0
        self.execute_started_ns = 0
        self.steps: list[tuple[str, Stream]] = []
        self.timer = StepTimer()
        self.rows = 0  # rows of the profiler tables, not counted as the query's own

    def __bool__(self) -> bool:
        return bool(self.enabled)

    def result(self) -> tuple[str, Callable[[], list[T.Table]]]:
        return PROFILER_RESULT, self.tables

    def tables(self) -> list[T.Table]:
        now = time.perf_counter_ns()
        out = []
        if "query" in self.enabled:
            out.append(self._query_table(now))
        if "operator" in self.enabled:
            out.append(self._operator_table())
        self.rows = sum(len(table) for table in out)
        return out

    def _query_table(self, now: int) -> T.Table:
        columns = [
            ("_measurement", T.STRING, "profiler/query"),
            ("TotalDuration", T.LONG, now - self.started_ns),
            ("CompileDuration", T.LONG, self.compile_ns),
            ("QueueDuration", T.LONG, 0),
            ("PlanDuration", T.LONG, self.plan_ns),
            ("RequeueDuration", T.LONG, 0),
            ("ExecuteDuration", T.LONG, now - self.execute_started_ns),
            ("Concurrency", T.LONG, 1),
            ("MaxAllocated", T.LONG, 0),
            ("TotalAllocated", T.LONG, 0),
            ("RuntimeErrors", T.STRING, ""),
        ]
        return T.Table(
            [c[0] for c in columns],
            [c[1] for c in columns],
            ["_measurement"],
            {"_measurement": "profiler/query"},
            [[c[2]] for c in columns],
        )

    def _operator_table(self) -> T.Table:
        rows = []
        for number, (name, stream) in enumerate(self.steps):
            own = self.timer.own_ns.get(id(stream))
            if own is not None:
                rows.append((name, f"{name}{number}", own))
        labels = ["_measurement", "Type", "Label", "Count", "MinDuration", "MaxDuration"]
        labels += ["DurationSum", "MeanDuration"]
        types = [T.STRING, T.STRING, T.STRING, T.LONG, T.LONG, T.LONG, T.LONG, T.DOUBLE]
        data = [
            ["profiler/operator"] * len(rows),
            [r[0] for r in rows],
            [r[1] for r in rows],
            [1] * len(rows),
            [r[2] for r in rows],
            [r[2] for r in rows],
            [r[2] for r in rows],
            [float(r[2]) for r in rows],
        ]
        return T.Table(labels, types, ["_measurement"], {"_measurement": "profiler/operator"}, data)


def timing_streams(profile: QueryProfile):
    """Context-variable token: stream computations are timed until ``reset``."""
    return step_timer.set(profile.timer if "operator" in profile.enabled else None)


def reset(token) -> None:
    step_timer.reset(token)
