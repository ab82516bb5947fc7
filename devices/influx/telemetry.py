"""Reads of telemetry (selectors): latest readings, field statistics, chart series.

Telemetry belongs to the device named by its ``clientId`` tag when set (iot-center-v2, whose
``device`` tag names the board type), else by its ``device`` tag (the tutorial apps).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from devices import queries
from devices.ids import is_valid_device_id

from .client import Conn, get
from .lowlevel import check_id, telemetry_query
from .types import DEFAULT_RANGE, RANGES, FieldStats, Reading, SeriesPoint


def owner(row: dict) -> str | None:
    """Whose telemetry a row is: its ``clientId`` when set (iot-center-v2, whose ``device`` tag
    names the board type, e.g. "ESP8266"), else its ``device`` (the tutorial apps)."""
    return row.get(queries.CLIENT_ID_TAG) or row.get(queries.DEVICE_TAG)


def owned(rows: Iterable[dict], device_id: str) -> Iterator[dict]:
    """The rows of ``device_id`` among rows a device-or-clientId filter matched."""
    return (row for row in rows if owner(row) == device_id)


def note_seen(seen: dict[str, datetime], row: dict, wanted: set[str]) -> None:
    """Credit a telemetry row's time to its owner, if that is a device asked for."""
    time, device_id = row.get("_time"), owner(row)
    if time and device_id in wanted and (device_id not in seen or time > seen[device_id]):
        seen[device_id] = time


def time_range(range_key: str) -> tuple[str, str]:
    """(Flux start, aggregateWindow every) of a dashboard range key."""
    try:
        return RANGES[range_key]
    except KeyError:
        raise ValueError(f"unknown range {range_key!r}: use one of {', '.join(RANGES)}") from None


def readings_from(rows: Iterable[dict], device_id: str) -> list[Reading]:
    latest: dict[str, Reading] = {}
    for row in owned(rows, device_id):
        name, at, value = row.get("_field"), row.get("_time"), row.get("_value")
        if name is None or at is None or value is None:
            continue
        if name not in latest or at > latest[name].time:
            latest[name] = Reading(field=name, value=value, time=at)
    return [latest[name] for name in sorted(latest)]


def stats_from(rows: Iterable[dict], device_id: str) -> list[FieldStats]:
    acc: dict[str, dict] = {}
    for row in owned(rows, device_id):
        name = row.get("_field")
        if name is None:
            continue
        entry = acc.setdefault(name, {"count": 0, "min": None, "max": None, "last": None})
        result, value = row.get("result"), row.get("_value")
        # Several series can carry one field (other sensor tags): merge them.
        if result == "count":
            entry["count"] += int(value or 0)
        elif result == "min" and isinstance(value, int | float):
            entry["min"] = value if entry["min"] is None else min(entry["min"], value)
        elif result == "max" and isinstance(value, int | float):
            entry["max"] = value if entry["max"] is None else max(entry["max"], value)
        elif result == "last":
            at = row.get("_time")
            if at is not None and (entry["last"] is None or at > entry["last"]):
                entry["last"] = at
    return [
        FieldStats(
            field=name,
            count=entry["count"],
            min=float(entry["min"]) if entry["min"] is not None else None,
            max=float(entry["max"]) if entry["max"] is not None else None,
            last_time=entry["last"],
        )
        for name, entry in sorted(acc.items())
        if entry["count"]
    ]


def series_from(rows: Iterable[dict], device_id: str) -> dict[str, list[SeriesPoint]]:
    by_field: dict[str, dict[datetime, list[float]]] = {}
    for row in owned(rows, device_id):
        name, at, value = row.get("_field"), row.get("_time"), row.get("_value")
        if name is None or at is None:
            continue
        by_field.setdefault(name, {}).setdefault(at, [])
        if value is not None:
            by_field[name][at].append(float(value))
    return {
        name: [
            SeriesPoint(time=t, value=(sum(vs) / len(vs)) if vs else None)
            for t, vs in sorted(points.items())
        ]
        for name, points in sorted(by_field.items())
    }


def latest_readings(device_id: str) -> list[Reading]:
    """Latest value of each telemetry field of the device, sorted by field."""
    device_id = check_id(device_id)
    conn = get()
    rows = telemetry_query(
        conn,
        queries.latest_readings(conn.bucket, device_id),
        f"read the latest values of device {device_id!r}",
    )
    return readings_from(rows, device_id)


def field_stats(device_id: str, *, range_key: str = DEFAULT_RANGE) -> list[FieldStats]:
    """Per field count/min/max/last time over the range, sorted by field."""
    device_id = check_id(device_id)
    start, _every = time_range(range_key)
    conn = get()
    rows = telemetry_query(
        conn,
        queries.field_stats(conn.bucket, device_id, start),
        f"read the statistics of device {device_id!r}",
    )
    return stats_from(rows, device_id)


def telemetry_series(
    device_id: str, *, range_key: str = DEFAULT_RANGE
) -> dict[str, list[SeriesPoint]]:
    """Per numeric field, aggregateWindow(mean) over the range: what dashboard charts draw."""
    device_id = check_id(device_id)
    start, every = time_range(range_key)
    conn = get()
    rows = telemetry_query(
        conn,
        queries.telemetry_series(conn.bucket, device_id, start, every),
        f"read the chart data of device {device_id!r}",
    )
    return series_from(rows, device_id)


def last_seen(conn: Conn, device_ids: list[str]) -> dict[str, datetime]:
    """device id -> newest telemetry time, for the ids that have any. Ids written by other
    apps may break our rules; they can't be queried safely, so they show no last-seen time."""
    ids = [d for d in device_ids if is_valid_device_id(d)]
    if not ids:
        return {}
    rows = telemetry_query(conn, queries.last_seen(conn.bucket, ids), "read last telemetry times")
    seen: dict[str, datetime] = {}
    wanted = set(ids)
    for row in rows:
        note_seen(seen, row, wanted)
    return seen


# --- JSON API (iot-api-ui) ---


def measurements_csv(device_id: str, *, field: str, start: str, every: str, fn: str) -> str:
    """Annotated CSV (as InfluxDB answers it) of one field of the device, aggregated per
    window: what iot-api-ui's plots parse. The query is built by ``queries.measurements``."""
    from .deadline import bounded
    from .errors import bucket_missing, guard
    from .lowlevel import TELEMETRY_SETTING

    device_id = check_id(device_id)
    conn = get()
    flux = queries.measurements(conn.bucket, device_id, field, start, every, fn)
    what = f"read the {field} measurements of device {device_id!r}"

    def run() -> str:
        with guard(conn, what, not_found=bucket_missing(conn.bucket, TELEMETRY_SETTING)):
            return conn.query_api.query_raw(flux, org=conn.org).data.decode("utf-8")

    return bounded(conn, what, run)
