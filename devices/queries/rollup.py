"""The hourly rollup: computing it from raw telemetry, its coverage marker, and the dashboard
query that reads rollups for the completed hours it covers and raw points for the rest.

Rollup points (measurement ``ROLLUP_MEASUREMENT``, in the telemetry bucket): per device, field
and completed hour, at the hour's start, four series told apart by the ``stat`` tag (``sum``,
``count``, ``min``, ``max``), every value a float; both device tags name the owner (as IoT
Center's virtual devices write them), so reads match them as they match raw telemetry. The
coverage marker is one point per pass (``stat=coverage``, no device tags, fields ``from`` and
``to`` in epoch seconds, at the time ``to``): every device's hours in ``[from, to)`` are
rolled up. Its field ``stamp`` is new at every write (a random number): hours rewritten under
the same ``from``/``to`` (the lookback, ``rollup --since``, a backfill's refresh) still change
the marker, which keys the dashboard's cache of rollup parts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from .flux import (
    CLIENT_ID_TAG,
    DEVICE_TAGS,
    TELEMETRY_MEASUREMENT,
    _bounds,
    _columns,
    _device_ids,
    _only_fields,
    _telemetry_device_match,
    duration,
    quote,
    time_literal,
)

ROLLUP_MEASUREMENT = "environment_1h"
STAT_TAG = "stat"
ROLLUP_STATS = ("sum", "count", "min", "max")
COVERAGE_STAT = "coverage"
COVERAGE_FIELDS = ("from", "to")
COVERAGE_STAMP = "stamp"
COVERAGE_RESULT = "rollup_coverage"
# Result names of ``rollup_source``: one per stat.
SOURCE_RESULTS = ROLLUP_STATS
# Result names of ``dashboard_rollup``: per raw part (head, tail) and for the rollup part.
DASH_PARTS = ("head", "tail")
DASH_ROLLUP_WINDOWS = "rollup_windows"
DASH_ROLLUP_MIN = "rollup_min"
DASH_ROLLUP_MAX = "rollup_max"


def rollup_delete_predicate(device_id: str) -> str:
    """Delete-API predicate for one device's rollup points: their ``clientId`` is always the
    owner, so this never touches another device's rollups."""
    device_id = _device_ids([device_id])[0]
    return f'_measurement="{ROLLUP_MEASUREMENT}" AND {CLIENT_ID_TAG}="{device_id}"'


def rollup_coverage(bucket: str) -> str:
    """The newest coverage marker: rows ``_field`` in ``COVERAGE_FIELDS``, ``_value`` seconds."""
    return (
        f"from(bucket: {quote(bucket)})\n"
        "  |> range(start: 0)\n"
        f"  |> filter(fn: (r) => r._measurement == {quote(ROLLUP_MEASUREMENT)}"
        f" and r[{quote(STAT_TAG)}] == {quote(COVERAGE_STAT)})\n"
        "  |> last()\n"
        f"  |> keep(columns: {_columns('_time', '_value', '_field')})\n"
        f"  |> yield(name: {quote(COVERAGE_RESULT)})\n"
    )


def _raw(bucket: str, start, stop, device_ids: Sequence[str] | None) -> str:
    match = f" and {_telemetry_device_match(_device_ids(device_ids))}" if device_ids else ""
    return (
        f"from(bucket: {quote(bucket)})\n"
        f"  |> range({_bounds(start, stop)})\n"
        f"  |> filter(fn: (r) => r._measurement == {quote(TELEMETRY_MEASUREMENT)}{match})\n"
    )


def rollup_field_types(
    bucket: str, start: datetime, stop: datetime, device_ids: Sequence[str] | None = None
) -> str:
    """The newest value of every raw series in [start, stop): tells numeric fields apart."""
    return (
        _raw(bucket, start, stop, device_ids)
        + "  |> last()\n"
        + f"  |> keep(columns: {_columns('_value', '_field')})\n"
        + "  |> group()\n"
    )


def rollup_source(
    bucket: str,
    start: datetime,
    stop: datetime,
    fields: Sequence[str],
    device_ids: Sequence[str] | None = None,
) -> str:
    """Per raw series and hour of [start, stop): sum, count, min and max (one result each),
    at the hour's start. The caller merges the series of one owner (other sensor tags)."""
    if not fields:
        raise ValueError("rollup_source needs at least one field")
    keep = f"  |> keep(columns: {_columns('_time', '_value', '_field', *DEVICE_TAGS)})\n"
    query = "data = " + _raw(bucket, start, stop, device_ids) + _only_fields(fields) + "\n"
    for name in ROLLUP_STATS:
        query += (
            "data\n"
            f'  |> aggregateWindow(every: 1h, fn: {name}, createEmpty: false, timeSrc: "_start")\n'
            + keep
            + f"  |> yield(name: {quote(name)})\n"
        )
    return query


def dashboard_rollup(
    bucket: str,
    device_id: str,
    every: str,
    fields: Sequence[str],
    *,
    head: tuple[object, datetime] | None,
    rolled: tuple[datetime, datetime] | None,
    tail: tuple[datetime, datetime | None] | None,
) -> str:
    """A dashboard's numeric ``fields`` from rollups over ``rolled`` (whole hours) and raw
    points over ``head`` and ``tail`` (each ``(start, stop)``, or None when empty: None for
    ``rolled`` when the caller has that part cached), in one query ("" when every part is
    None).

    Raw parts: ``<part>_sum`` and ``<part>_count`` per window, ``<part>_min``/``_max`` per
    series (not regrouped per owner: the caller takes the min/max of an owner's rows; a
    ``group`` per part cost more than the few extra rows of devices with sensor tags).
    Rollup part: ``rollup_windows`` (per window the sum of the hourly sums and of the
    counts, pivoted into columns ``<field>_sum`` and ``<field>_count``: one row per window
    for all fields), ``rollup_min``/``rollup_max`` (per series, likewise). Windows are
    Flux's (aligned to the epoch); the caller adds up what each part gave a window.
    """
    ids = _device_ids([device_id])
    if not fields:
        raise ValueError("dashboard_rollup needs at least one field")
    every = duration(every)
    match = _telemetry_device_match(ids)
    owner_keep = f"  |> keep(columns: {_columns('_value', '_field', *DEVICE_TAGS)})\n"
    window_keep = f"  |> keep(columns: {_columns('_time', '_value', '_field', *DEVICE_TAGS)})\n"
    query = ""
    for name, part in zip(DASH_PARTS, (head, tail), strict=True):
        if part is None:
            continue
        start, stop = part
        query += (
            f"{name} = from(bucket: {quote(bucket)})\n"
            f"  |> range({_bounds(start, stop)})\n"
            f"  |> filter(fn: (r) => r._measurement == {quote(TELEMETRY_MEASUREMENT)}"
            f" and {match})\n" + _only_fields(fields) + "\n"
        )
        for fn in ("sum", "count"):
            query += (
                f"{name}\n  |> aggregateWindow(every: {every}, fn: {fn}, createEmpty: false)\n"
                + window_keep
                + f"  |> yield(name: {quote(f'{name}_{fn}')})\n"
            )
        for fn in ("min", "max"):
            query += (
                f"{name}\n  |> {fn}()\n"
                + owner_keep
                + f"  |> yield(name: {quote(f'{name}_{fn}')})\n"
            )
    if rolled is None:
        return query
    start, stop = rolled
    stat = f"r[{quote(STAT_TAG)}]"
    query += (
        f"rolled = from(bucket: {quote(bucket)})\n"
        f"  |> range(start: {time_literal(start)}, stop: {time_literal(stop)})\n"
        f"  |> filter(fn: (r) => r._measurement == {quote(ROLLUP_MEASUREMENT)} and {match})\n"
        + _only_fields(fields)
        + "\nrolled\n"
        f'  |> filter(fn: (r) => {stat} == "sum" or {stat} == "count")\n'
        f"  |> aggregateWindow(every: {every}, fn: sum, createEmpty: false)\n"
        # Every rollup point read here is the device's (both tags name the owner): no tags.
        f"  |> keep(columns: {_columns('_time', '_value', '_field', STAT_TAG)})\n"
        f'  |> pivot(rowKey: ["_time"], columnKey: ["_field", {quote(STAT_TAG)}],'
        ' valueColumn: "_value")\n'
        f"  |> yield(name: {quote(DASH_ROLLUP_WINDOWS)})\n"
    )
    for fn, result in (("min", DASH_ROLLUP_MIN), ("max", DASH_ROLLUP_MAX)):
        query += (
            f"rolled\n  |> filter(fn: (r) => {stat} == {quote(fn)})\n"
            + f"  |> {fn}()\n"
            + owner_keep
            + f"  |> yield(name: {quote(result)})\n"
        )
    return query
