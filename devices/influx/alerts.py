"""Reads for the alert evaluator (``alerts.services``): a field over a window for every device,
and every device's last telemetry time. Each is one query, whatever the number of devices."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from devices import queries
from devices.ids import is_valid_device_id

from .client import get
from .lowlevel import telemetry_query
from .telemetry import owner


@dataclass
class WindowStats:
    """One device's values of one field over a window (several series merged)."""

    count: int = 0
    min: float | None = None
    max: float | None = None
    first: datetime | None = None
    last: datetime | None = None
    last_value: float | None = None


def _merge(stats: WindowStats, result: str, row: dict) -> None:
    value, at = row.get("_value"), row.get("_time")
    if result == "count":
        stats.count += int(value or 0)
    elif not isinstance(value, int | float):
        return
    elif result == "min":
        stats.min = float(value) if stats.min is None else min(stats.min, float(value))
    elif result == "max":
        stats.max = float(value) if stats.max is None else max(stats.max, float(value))
    elif result == "first" and at is not None and (stats.first is None or at < stats.first):
        stats.first = at
    elif result == "last" and at is not None and (stats.last is None or at > stats.last):
        stats.last, stats.last_value = at, float(value)


def window_stats(field: str, minutes: int) -> dict[str, WindowStats]:
    """device id -> ``WindowStats`` of ``field`` over the last ``minutes`` (devices with data)."""
    conn = get()
    flux = queries.alert_window(conn.bucket, field, f"-{int(minutes)}m")
    rows = telemetry_query(conn, flux, f"read {field} of all devices for alerts")
    out: dict[str, WindowStats] = {}
    for row in rows:
        device_id = owner(row)
        if device_id and is_valid_device_id(device_id):
            _merge(out.setdefault(device_id, WindowStats()), row.get("result", ""), row)
    return {d: s for d, s in out.items() if s.count}


def fleet_last_seen() -> dict[str, datetime]:
    """device id -> newest telemetry time, for every device that ever wrote."""
    conn = get()
    rows = telemetry_query(conn, queries.alert_last_seen(conn.bucket), "read last telemetry times")
    seen: dict[str, datetime] = {}
    for row in rows:
        device_id, at = owner(row), row.get("_time")
        fresh = device_id not in seen or (at and at > seen[device_id])
        if device_id and at and is_valid_device_id(device_id) and fresh:
            seen[device_id] = at
    return seen
