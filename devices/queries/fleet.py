"""The fleet overview at ``/``: counts and the few devices shown, computed by InfluxDB.

Two queries whatever the fleet size, each returning rows bounded by the number of devices the
page shows (``limit``), not by the number of devices:

1. ``fleet_overview``: how many devices are registered, seen, online; points of the last hour;
   the ``limit`` most recently active and the ``limit`` most recently gone silent.
2. ``fleet_details``: for the active devices only, their newest value of each field, their
   points of the last hour and the window means of the last hour (the sparklines).

Telemetry belongs to its ``clientId`` when set, else its ``device`` (as ``owner`` in
``devices.influx.telemetry``); only registered, not removed devices count, by an inner join
(``join.inner``) of each device's newest point time with the registered ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from .flux import (
    CLIENT_ID_TAG,
    DEVICE_TAG,
    DEVICE_TAGS,
    TELEMETRY_FIELDS,
    TELEMETRY_MEASUREMENT,
    _columns,
    _only_fields,
    _telemetry,
    duration,
    quote,
    time_literal,
)
from .registry import _live_ids

# Result names of ``fleet_overview``.
FLEET_REGISTERED_RESULT = "registered"
FLEET_SEEN_RESULT = "seen"
FLEET_ONLINE_RESULT = "online"
FLEET_HOUR_RESULT = "hour"
FLEET_ACTIVE_RESULT = "active"
FLEET_SILENT_RESULT = "silent"
# Result names of ``fleet_details``.
FLEET_LATEST_RESULT = "latest"
FLEET_DEVICE_HOUR_RESULT = "hour"
FLEET_SPARK_RESULT = "spark"

# Sparkline: the last hour in 2-minute means (30 points).
SPARK_START = "-1h"
SPARK_EVERY = "2m"

_OWNER = f"if exists r.{CLIENT_ID_TAG} then r.{CLIENT_ID_TAG} else r.{DEVICE_TAG}"


def _registered_join(left: str, right: str, out: str) -> str:
    return (
        f"join.inner(left: {left}, right: {right}, on: (l, r) => l.owner == r._value,"
        f" as: (l, r) => ({{{out}}}))"
    )


def fleet_overview(bucket_auth: str, bucket: str, *, online_since: datetime, limit: int) -> str:
    """Counts and the shown devices of the overview, in one query (named results).

    ``registered``, ``seen`` (registered devices with any telemetry), ``online`` (newest point
    at or after ``online_since``): one row each, the count in ``_value``/``owner``. ``hour``:
    one row, the points of the last hour of registered devices (a point is one time with
    several fields: per device the busiest field counts). ``active`` / ``silent``: at most
    ``limit`` rows each (``owner``, ``_time`` = newest point), newest first.

    ``_value`` is dropped before ``group()``: fields of different types (other apps' strings)
    cannot share a table.
    """
    limit = int(limit)
    if limit < 1:
        raise ValueError("fleet_overview needs limit >= 1")
    since = time_literal(online_since)
    env = (
        f"from(bucket: {quote(bucket)})\n"
        "  |> range(start: {start})\n"
        f"  |> filter(fn: (r) => r._measurement == {quote(TELEMETRY_MEASUREMENT)})\n"
    )
    newest = (
        env.replace("{start}", "0") + "  |> last()\n"
        f"  |> keep(columns: {_columns('_time', *DEVICE_TAGS)})\n"
        "  |> group()\n"
        f"  |> map(fn: (r) => ({{owner: {_OWNER}, _time: r._time}}))\n"
        '  |> sort(columns: ["_time"], desc: true)\n'
        '  |> unique(column: "owner")'
    )
    hour = (
        env.replace("{start}", "-1h") + "  |> count()\n"
        f"  |> keep(columns: {_columns('_value', '_field', *DEVICE_TAGS)})\n"
        "  |> group()\n"
        f"  |> map(fn: (r) => ({{owner: {_OWNER}, _field: r._field, _value: r._value}}))\n"
        '  |> group(columns: ["owner", "_field"])\n'
        "  |> sum()\n"
        '  |> group(columns: ["owner"])\n'
        "  |> max()\n"
        "  |> group()"
    )
    newest_first = f'sort(columns: ["_time", "owner"], desc: true) |> limit(n: {limit})'
    return (
        'import "join"\n\n'
        f'registered = {_live_ids(bucket_auth)}\n  |> distinct(column: "deviceId")\n\n'
        f"newest = {newest}\n\n"
        f"hour = {hour}\n\n"
        "live = "
        + _registered_join("newest", "registered", "owner: l.owner, _time: l._time")
        + "\n"
        "hourly = "
        + _registered_join("hour", "registered", "owner: l.owner, _value: l._value")
        + "\n\n"
        f"registered |> count() |> yield(name: {quote(FLEET_REGISTERED_RESULT)})\n"
        'live |> count(column: "owner")'
        f" |> yield(name: {quote(FLEET_SEEN_RESULT)})\n"
        f'live |> filter(fn: (r) => r._time >= {since}) |> count(column: "owner")'
        f" |> yield(name: {quote(FLEET_ONLINE_RESULT)})\n"
        f"hourly |> sum() |> yield(name: {quote(FLEET_HOUR_RESULT)})\n"
        f"live |> filter(fn: (r) => r._time >= {since}) |> {newest_first}"
        f" |> yield(name: {quote(FLEET_ACTIVE_RESULT)})\n"
        f"live |> filter(fn: (r) => r._time < {since}) |> {newest_first}"
        f" |> yield(name: {quote(FLEET_SILENT_RESULT)})"
    )


def fleet_details(bucket: str, device_ids: Sequence[str]) -> str:
    """What the overview shows of each active device, in one query (named results):
    ``latest`` (newest value of each field), ``hour`` (points per series in the last hour),
    ``spark`` (2-minute means of the last hour of the numeric reference fields). Rows grow with
    the devices asked for (the page's ``limit``), never with the fleet."""
    keep_values = f"  |> keep(columns: {_columns('_time', '_value', '_field', *DEVICE_TAGS)})\n"
    return (
        _telemetry(bucket, "0", device_ids)
        + "  |> last()\n"
        + keep_values
        + f"  |> yield(name: {quote(FLEET_LATEST_RESULT)})\n\n"
        + _telemetry(bucket, "-1h", device_ids)
        + "  |> count()\n"
        + f"  |> keep(columns: {_columns('_value', '_field', *DEVICE_TAGS)})\n"
        + f"  |> yield(name: {quote(FLEET_DEVICE_HOUR_RESULT)})\n\n"
        + _telemetry(bucket, duration(SPARK_START), device_ids)
        + _only_fields(TELEMETRY_FIELDS)
        + f"  |> aggregateWindow(every: {duration(SPARK_EVERY)}, fn: mean, createEmpty: false)\n"
        + keep_values
        + f"  |> yield(name: {quote(FLEET_SPARK_RESULT)})"
    )
