"""The telemetry bucket: last seen, latest readings, statistics, series, deletes."""

from __future__ import annotations

from collections.abc import Sequence

from devices.ids import validate_device_id

from .flux import (
    CLIENT_ID_TAG,
    DEVICE_TAG,
    DEVICE_TAGS,
    TELEMETRY_FIELDS,
    TELEMETRY_MEASUREMENT,
    _columns,
    _device_ids,
    _only_fields,
    _telemetry,
    duration,
    quote,
)


def last_seen(bucket: str, device_ids: Sequence[str]) -> str:
    """Newest point time per device and field for a page of devices (one query per page).

    ``last()`` per series is cheap in InfluxDB (it reads only the newest block), so the whole
    history can be searched. Rows keep both device tags (a column the series lacks is empty):
    the reader attributes each row to its owner (``clientId`` if set, else ``device``).
    """
    ids = _device_ids(device_ids)
    if not ids:
        raise ValueError("last_seen needs at least one device id")
    return (
        _telemetry(bucket, "0", ids) + "  |> last()\n"
        f"  |> keep(columns: {_columns('_time', '_field', *DEVICE_TAGS)})\n"
        "  |> group()"
    )


def latest_readings(bucket: str, device_id: str) -> str:
    """Latest value of every field the device ever wrote."""
    ids = _device_ids([device_id])
    return (
        _telemetry(bucket, "0", ids) + "  |> last()\n"
        f"  |> keep(columns: {_columns('_time', '_value', '_field', *DEVICE_TAGS)})"
    )


def field_stats(
    bucket: str, device_id: str, start: str, fields: Sequence[str] = TELEMETRY_FIELDS
) -> str:
    """count/min/max/last of each field over ``start``..now, as four named results."""
    ids = _device_ids([device_id])
    # Both device tags stay: the reader keeps only the rows this device owns (``device`` may
    # name a board type on iot-center-v2 points, whose owner is their ``clientId``).
    keep = f"  |> keep(columns: {_columns('_time', '_value', '_field', *DEVICE_TAGS)})\n"
    return (
        "data = "
        + _telemetry(bucket, start, ids)
        + _only_fields(fields)
        + "\n"
        + "data |> count()"
        + f" |> keep(columns: {_columns('_value', '_field', *DEVICE_TAGS)})"
        + ' |> yield(name: "count")\n'
        + "data |> min()\n"
        + keep
        + '  |> yield(name: "min")\n'
        + "data |> max()\n"
        + keep
        + '  |> yield(name: "max")\n'
        + "data |> last()\n"
        + keep
        + '  |> yield(name: "last")\n'
    )


def telemetry_series(
    bucket: str, device_id: str, start: str, every: str, fields: Sequence[str] = TELEMETRY_FIELDS
) -> str:
    """Mean per window of each field: what the dashboard charts draw."""
    ids = _device_ids([device_id])
    return (
        _telemetry(bucket, start, ids)
        + _only_fields(fields)
        + f"  |> aggregateWindow(every: {duration(every)}, fn: mean, createEmpty: false)\n"
        + f"  |> keep(columns: {_columns('_time', '_value', '_field', *DEVICE_TAGS)})"
    )


def last_point_time(bucket: str, device_id: str) -> str:
    """Newest telemetry point of one device per field: where the virtual device resumes."""
    ids = _device_ids([device_id])
    return (
        _telemetry(bucket, "0", ids)
        + f"  |> last()\n  |> keep(columns: {_columns('_time', '_field', *DEVICE_TAGS)})"
    )


def probe(bucket: str) -> str:
    """A query that returns at most one row: proves the token can read ``bucket``."""
    return f"from(bucket: {quote(bucket)})\n  |> range(start: -1m)\n  |> limit(n: 1)"


def telemetry_delete_predicate(device_id: str, tag: str = DEVICE_TAG) -> str:
    """Delete-API predicate for one device's telemetry tagged ``tag=<id>``.

    The delete grammar has no escapes worth trusting, so only validated ids get here (they
    contain no quotes or spaces).
    """
    device_id = validate_device_id(device_id)
    if tag not in DEVICE_TAGS:
        raise ValueError(f"not a device tag: {tag!r}")
    return f'_measurement="{TELEMETRY_MEASUREMENT}" AND {tag}="{device_id}"'


def shared_device_tag(bucket: str, device_id: str) -> str:
    """At most one row if some other device's telemetry carries ``device=<id>`` too.

    iot-center-v2 clients tag points ``clientId=<their id>`` and ``device=<board type>``
    ("ESP8266", "dart"): deleting by ``device="<id>"`` would then delete their data as well.
    """
    device_id = validate_device_id(device_id)
    return (
        f"from(bucket: {quote(bucket)})\n"
        "  |> range(start: 0)\n"
        f"  |> filter(fn: (r) => r._measurement == {quote(TELEMETRY_MEASUREMENT)}"
        f" and r[{quote(DEVICE_TAG)}] == {quote(device_id)})\n"
        f"  |> filter(fn: (r) => exists r[{quote(CLIENT_ID_TAG)}]"
        f" and r[{quote(CLIENT_ID_TAG)}] != {quote(device_id)})\n"
        "  |> last()\n"
        f"  |> keep(columns: {_columns(CLIENT_ID_TAG)})\n"
        "  |> group()\n"
        "  |> limit(n: 1)"
    )


def telemetry_delete_predicates(device_id: str) -> list[str]:
    """Predicates that together delete all of one device's telemetry: one per device tag, as
    the delete grammar has no OR, then one for its hourly rollup (``rollup.py``)."""
    from .rollup import rollup_delete_predicate

    return [telemetry_delete_predicate(device_id, tag) for tag in DEVICE_TAGS] + [
        rollup_delete_predicate(device_id)
    ]
