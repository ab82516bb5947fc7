"""A device's telemetry for the CSV download: every value of the range in time order."""

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


def export_rows(
    bucket: str,
    device_id: str,
    start,
    stop,
    *,
    fields: Sequence[str],
    limit: int,
    every: str | None = None,
) -> str:
    """The device's ``fields`` over ``start``..``stop``, oldest first: each series pivoted
    (a column named after its field instead of ``_value``), then all in one table sorted by
    time, at most ``limit`` rows (one value each).

    ``every`` given: the mean per window (numbers only: Flux's mean fails on others), as the
    dashboard charts them; else the stored points, of any type. Pivoting each series before
    merging is what lets fields of different types share the table (one ``_value`` column of
    two types is a schema collision). ``start``/``stop`` as ``dashboards.dashboard_data``. Rows
    keep both device tags: the reader keeps the rows the device owns and merges the rows of one
    time into one line.
    """
    ids = _device_ids([device_id])
    if not fields:
        raise ValueError("export_rows needs at least one field")
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise ValueError(f"limit must be a positive int, not {limit!r}")
    query = (
        f"from(bucket: {quote(bucket)})\n"
        f"  |> range({_bounds(start, stop)})\n"
        f"  |> filter(fn: (r) => r._measurement == {quote(TELEMETRY_MEASUREMENT)}"
        f" and {_telemetry_device_match(ids)})\n" + _only_fields(fields)
    )
    if every is not None:
        query += f"  |> aggregateWindow(every: {duration(every)}, fn: mean, createEmpty: false)\n"
    return query + (
        f"  |> keep(columns: {_columns('_time', '_value', '_field', *DEVICE_TAGS)})\n"
        '  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")\n'
        "  |> group()\n"
        '  |> sort(columns: ["_time"])\n'
        f"  |> limit(n: {limit})"
    )
