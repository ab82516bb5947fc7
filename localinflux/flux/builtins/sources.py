"""``from`` and ``range``: where a pipeline's rows come from, and their time bounds."""

from __future__ import annotations

from .. import plan
from .. import tables as T
from ..errors import FluxError, NotSupported
from ..interpreter import Call
from ..streams import Stream
from ..values import Time
from .registry import signature, stream_arg, tables_map


@signature("bucket bucketID host org orgID token", pipe=None)
def from_(call: Call) -> Stream:
    for unsupported in ("host", "org", "orgID", "token"):
        if unsupported in call.args:
            raise NotSupported(f"from() with {unsupported}")
    ctx = call.interp.ctx
    bucket = call.string("bucket")
    bucket_id_arg = call.string("bucketID")
    if (bucket is None) == (bucket_id_arg is None):
        raise call.error("specify exactly one of bucket or bucketID")
    if bucket is not None:
        bucket_id = ctx.resolve_bucket(bucket)
        name = bucket
    else:
        bucket_id = ctx.resolve_bucket_id(bucket_id_arg)
        name = bucket_id_arg
    if bucket_id is None:
        raise FluxError(
            f'failed to initialize execute state: could not find bucket "{name}"',
            status=404,
            code="not found",
        )
    return plan.ReadSource(call.interp, name, bucket_id, call.loc)


@signature("start stop", required="start")
def range_(call: Call) -> Stream:
    source = stream_arg(call)
    start = int(call.time("start"))
    stop = int(call.time("stop", call.interp.now_ns))
    fused = plan.with_range(source, start, stop)
    if fused is not None:
        return fused
    plan.require_bounds(source)
    return tables_map(call, lambda table: range_table(table, start, stop))


def range_table(table: T.Table, start: int, stop: int) -> T.Table | None:
    ti = table.index("_time")
    if ti < 0:
        raise FluxError('range: missing column "_time"')
    times = table.data[ti]
    keep = [i for i, t in enumerate(times) if t is not None and start <= t < stop]
    result = table.take_rows(keep)
    for label in ("_start", "_stop"):
        value = Time(start if label == "_start" else stop)
        i = result.index(label)
        if i < 0:
            result.labels.insert(0 if label == "_start" else 1, label)
            result.types.insert(0 if label == "_start" else 1, T.TIME)
            result.data.insert(0 if label == "_start" else 1, [value] * len(keep))
        else:
            result.data[i] = [value] * len(keep)
        if label not in result.key:
            result.key.append(label)
        result.keyvals[label] = value
    return result if len(result) else None
