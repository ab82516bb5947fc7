"""The fleet overview at ``/``: registered, online, silent and never-seen devices, points of
the last hour, the most recently active devices with their latest key values, and the ones
that just went silent. Two queries whatever the number of devices: the registered ids, then
every device's newest values and last hour's point counts (``queries.fleet_overview``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from devices import queries

from .client import get
from .dashboard import field_order, is_number
from .lowlevel import now, registry_query, telemetry_query
from .telemetry import owner
from .types import Reading

# Key values shown per active device (reference fields first).
KEY_FIELDS = 3


@dataclass(frozen=True)
class FleetDevice:
    device_id: str
    last_seen: datetime | None
    readings: list[Reading] = field(default_factory=list)  # key values, newest first by rank
    points_last_hour: int = 0


@dataclass(frozen=True)
class FleetOverview:
    registered: int
    online: int
    silent: int
    never_seen: int
    points_last_hour: int
    online_minutes: int
    active: list[FleetDevice]  # most recently active first
    went_silent: list[FleetDevice]  # silent, most recently seen first
    generated: datetime


def fleet_overview(*, online_minutes: int = 5, limit: int = 10) -> FleetOverview:
    conn = get()
    rows = registry_query(conn, queries.registry_ids(conn.bucket_auth), "list devices")
    registered = set(d for row in rows if (d := row.get("deviceId")))
    rows = telemetry_query(conn, queries.fleet_overview(conn.bucket), "read the fleet overview")
    latest: dict[str, dict[str, Reading]] = {}
    hour: dict[str, dict[str, int]] = {}
    for row in rows:
        device_id = owner(row)
        if device_id not in registered or row.get("_field") is None:
            continue
        name = row["_field"]
        if row.get("result") == queries.FLEET_HOUR_RESULT:
            counts = hour.setdefault(device_id, {})
            counts[name] = counts.get(name, 0) + int(row.get("_value") or 0)
            continue
        at, value = row.get("_time"), row.get("_value")
        if at is None or value is None:
            continue
        fields = latest.setdefault(device_id, {})
        if name not in fields or at > fields[name].time:
            fields[name] = Reading(field=name, value=value, time=at)
    at = now()
    online_since = at - timedelta(minutes=online_minutes)
    devices = []
    for device_id, fields in latest.items():
        seen = max(r.time for r in fields.values())
        numeric = [fields[n] for n in field_order(fields) if is_number(fields[n].value)]
        devices.append(
            FleetDevice(
                device_id=device_id,
                last_seen=seen,
                readings=numeric[:KEY_FIELDS],
                # A point is one time with several fields: the busiest field counts points.
                points_last_hour=max(hour.get(device_id, {}).values(), default=0),
            )
        )
    devices.sort(key=lambda d: (d.last_seen, d.device_id), reverse=True)
    online = [d for d in devices if d.last_seen >= online_since]
    silent = [d for d in devices if d.last_seen < online_since]
    return FleetOverview(
        registered=len(registered),
        online=len(online),
        silent=len(silent),
        never_seen=len(registered) - len(devices),
        points_last_hour=sum(d.points_last_hour for d in devices),
        online_minutes=online_minutes,
        active=online[:limit],
        went_silent=silent[:limit],
        generated=at,
    )
