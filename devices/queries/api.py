"""The JSON API (iot-api-ui): measurements with an aggregate."""

from __future__ import annotations

from .flux import (
    TELEMETRY_FIELDS,
    _device_ids,
    _only_fields,
    _telemetry,
    duration,
    quote,
)

# Aggregates iot-api-ui's plots may ask for (``aggregateWindow(fn: ...)``).
MEASUREMENT_FUNCTIONS = ("mean", "median", "min", "max", "first", "last", "count", "sum")


def measurements(bucket: str, device_id: str, field: str, start: str, every: str, fn: str) -> str:
    """One field of one device, aggregated per window: the query iot-api-ui's plots send,
    rebuilt from its parts (``devices.api.measurements`` parses them out of the UI's text)."""
    ids = _device_ids([device_id])
    if field not in TELEMETRY_FIELDS:
        raise ValueError(f"not a telemetry field: {field!r}")
    if fn not in MEASUREMENT_FUNCTIONS:
        raise ValueError(f"not an aggregate: {fn!r}")
    return (
        _telemetry(bucket, start, ids)
        + _only_fields([field])
        + f"  |> aggregateWindow(every: {duration(every)}, fn: {fn}, createEmpty: false)\n"
        + f"  |> yield(name: {quote(fn)})"
    )
