"""The ``influxdata/influxdb/schema`` package: tag values, field keys and measurements.

Each is a bounded read (default: the last 30 days) whose series keys are listed instead of their
points; a series counts only if it has a point in the range.
"""

from __future__ import annotations

from .. import ast
from .. import tables as T
from ..interpreter import Call
from ..streams import Derived, Stream
from ..values import Closure, Duration
from .registry import signature
from .sources import from_
from .transformations import filter_


def _schema_values(call: Call, tag: str) -> Stream:
    interp = call.interp
    bucket_stream = from_(Call(interp, "from", {"bucket": call.string("bucket")}, call.loc))
    source = bucket_stream
    source.start = int(call.time("start", Duration(ns=-30 * 86400 * 10**9)))
    source.stop = int(call.time("stop", interp.now_ns))
    predicate = call.args.get("predicate")
    if predicate is not None:
        if not isinstance(predicate, Closure):
            raise call.error("predicate must be a function")
        source = filter_(Call(interp, "filter", {"fn": predicate, "tables": source}, call.loc))

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


@signature("bucket tag predicate start stop", "bucket tag", pipe=None)
def tag_values(call: Call) -> Stream:
    return _schema_values(call, call.string("tag"))


@signature("bucket predicate start stop", "bucket", pipe=None)
def field_keys(call: Call) -> Stream:
    return _schema_values(call, "_field")


@signature("bucket start stop", "bucket", pipe=None)
def measurements(call: Call) -> Stream:
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


@signature("bucket measurement tag start stop", "bucket measurement tag", pipe=None)
def measurement_tag_values(call: Call) -> Stream:
    return _schema_values(_in_measurement(call), call.string("tag"))


@signature("bucket measurement start stop", "bucket measurement", pipe=None)
def measurement_field_keys(call: Call) -> Stream:
    return _schema_values(_in_measurement(call), "_field")
