"""Windowing: ``aggregateWindow`` (fixed windows, a selector or aggregate per window)."""

from __future__ import annotations

from .. import plan
from .. import tables as T
from .. import windowed as W
from ..errors import NotSupported
from ..interpreter import Call
from ..streams import Stream
from ..values import Builtin, Duration
from .registry import signature, stream_arg, tables_map


@signature(
    "every fn period offset column timeSrc timeDst createEmpty location",
    required="every fn",
)
def aggregate_window(call: Call) -> Stream:
    source = stream_arg(call)
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
    if not isinstance(fn, Builtin) or fn.name not in W.SELECTORS + W.AGGREGATES:
        if isinstance(fn, Builtin):
            raise NotSupported(f'aggregateWindow with fn "{fn.name}"')
        raise NotSupported("aggregateWindow with a custom fn (use mean, min, max, ...)")
    column = call.string("column", "_value")
    time_src = call.string("timeSrc", "_stop")
    time_dst = call.string("timeDst", "_time")
    if time_src not in ("_start", "_stop"):
        raise NotSupported(f'aggregateWindow with timeSrc "{time_src}"')
    create_empty = call.boolean("createEmpty", True)
    pushed = plan.reads_whole_series(source)
    plan.require_bounds(source)

    def per_table(table: T.Table) -> T.Table | None:
        return W.aggregate_window(
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

    return tables_map(call, per_table)
