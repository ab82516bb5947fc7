"""A device's dashboard: every numeric field as window aggregates, with range statistics."""

from __future__ import annotations

from collections.abc import Sequence

from .flux import (
    DEVICE_TAGS,
    TELEMETRY_MEASUREMENT,
    _bounds,
    _columns,
    _device_ids,
    _only_fields,
    _telemetry_device_match,
    duration,
    quote,
)

# Result names of ``dashboard_data``.
DASH_SERIES_RESULT = "series"
DASH_STATS = ("min", "max", "mean", "count")


def dashboard_data(
    bucket: str, device_id: str, start, stop, every: str, fields: Sequence[str]
) -> str:
    """All of a dashboard's numeric ``fields`` in one query: the mean per window of each
    (``series``, at most range/every rows per series, no empty windows) and min, max, mean and
    count over the whole range (one row each per field and owner).

    ``start`` is a duration (a range relative to now) or a datetime; ``stop`` None or a
    datetime. Only fields whose values are numbers may be given: Flux's mean fails on others.
    """
    ids = _device_ids([device_id])
    if not fields:
        raise ValueError("dashboard_data needs at least one field")
    keep = f"  |> keep(columns: {_columns('_time', '_value', '_field', *DEVICE_TAGS)})\n"
    owner_group = f"  |> group(columns: {_columns('_field', *DEVICE_TAGS)})\n"
    query = (
        f"data = from(bucket: {quote(bucket)})\n"
        f"  |> range({_bounds(start, stop)})\n"
        f"  |> filter(fn: (r) => r._measurement == {quote(TELEMETRY_MEASUREMENT)}"
        f" and {_telemetry_device_match(ids)})\n" + _only_fields(fields) + "\n"
        f"data\n  |> aggregateWindow(every: {duration(every)}, fn: mean, createEmpty: false)\n"
        + keep
        + f"  |> yield(name: {quote(DASH_SERIES_RESULT)})\n"
    )
    for name in DASH_STATS:
        query += (
            f"\ndata\n{owner_group}  |> {name}()\n"
            f"  |> keep(columns: {_columns('_value', '_field', *DEVICE_TAGS)})\n"
            f"  |> yield(name: {quote(name)})\n"
        )
    return query
