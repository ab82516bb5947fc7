"""The fleet overview at ``/``: registered, online, silent and never-seen devices, points of
the last hour, the most recently active devices with their latest key values and a sparkline,
and the ones that just went silent.

Two queries whatever the number of devices, and rows bounded by ``limit`` (the devices the page
shows), not by the fleet: InfluxDB counts (``queries.fleet_overview``), then one query reads
the active devices' values (``queries.fleet_details``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from devices import queries
from devices.ids import is_valid_device_id

from .client import get
from .dashboard import field_order, is_number
from .lowlevel import TELEMETRY_SETTING, now, query, telemetry_query
from .telemetry import owner
from .types import Reading

# Key values shown per active device (reference fields first).
KEY_FIELDS = 3
# The sparkline's SVG box (its viewBox; the template draws it at this size).
SPARK_WIDTH = 100
SPARK_HEIGHT = 24


@dataclass(frozen=True)
class FleetDevice:
    device_id: str
    last_seen: datetime | None
    readings: list[Reading] = field(default_factory=list)  # key values, newest first by rank
    points_last_hour: int = 0
    # The first key field's 2-minute means of the last hour, oldest first (``spark_field``).
    spark: list[tuple[datetime, float]] = field(default_factory=list)
    spark_field: str = ""

    @property
    def spark_points(self) -> str:
        """The sparkline as SVG polyline points in a ``SPARK_WIDTH`` x ``SPARK_HEIGHT`` box:
        x by time, y scaled between the series' min (bottom) and max (top)."""
        if len(self.spark) < 2:
            return ""
        t0, t1 = self.spark[0][0], self.spark[-1][0]
        # Halves: the span of any two finite floats (a device may write +-1e308) stays finite.
        lo, hi = min(v for _, v in self.spark) / 2, max(v for _, v in self.spark) / 2
        span_t = (t1 - t0).total_seconds() or 1.0
        span_v = (hi - lo) or 1.0
        pad = 1.0
        points = []
        for t, v in self.spark:
            x = (t - t0).total_seconds() / span_t * SPARK_WIDTH
            y = SPARK_HEIGHT - pad - (v / 2 - lo) / span_v * (SPARK_HEIGHT - 2 * pad)
            points.append(f"{x:.1f},{y:.1f}")
        return " ".join(points)

    @property
    def spark_range(self) -> tuple[float, float] | None:
        """(min, max) of the sparkline's means, for its text alternative."""
        if not self.spark:
            return None
        values = [v for _, v in self.spark]
        return min(values), max(values)


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


def _count(rows: list[dict], column: str = "_value") -> int:
    return sum(int(row.get(column) or 0) for row in rows)


def _means(windows: dict[datetime, list[float]]) -> list[tuple[datetime, float]]:
    """(time, mean of its values) oldest first, for the sparkline. Each value is divided
    before adding (two 1.7e308 would overflow their sum); a mean that is no finite number
    anyway (InfluxDB's own mean overflowed) is left out."""
    means = ((t, sum(v / len(vs) for v in vs)) for t, vs in sorted(windows.items()))
    return [(t, m) for t, m in means if math.isfinite(m)]


def _details(conn, device_ids: list[str]) -> dict[str, FleetDevice]:
    """Readings, points of the last hour and sparkline of each (valid) id: one query."""
    ids = [d for d in device_ids if is_valid_device_id(d)]
    if not ids:
        return {}
    rows = telemetry_query(
        conn, queries.fleet_details(conn.bucket, ids), "read the active devices' values"
    )
    wanted = set(ids)
    latest: dict[str, dict[str, Reading]] = {}
    hour: dict[str, dict[str, int]] = {}
    spark: dict[str, dict[str, dict[datetime, list[float]]]] = {}
    for row in rows:
        device_id, name = owner(row), row.get("_field")
        if device_id not in wanted or name is None:
            continue
        result, at, value = row.get("result"), row.get("_time"), row.get("_value")
        if result == queries.FLEET_DEVICE_HOUR_RESULT:
            counts = hour.setdefault(device_id, {})
            counts[name] = counts.get(name, 0) + int(value or 0)
        elif at is None or value is None:
            continue
        elif result == queries.FLEET_SPARK_RESULT:
            spark.setdefault(device_id, {}).setdefault(name, {}).setdefault(at, []).append(value)
        else:
            fields = latest.setdefault(device_id, {})
            if name not in fields or at > fields[name].time:
                fields[name] = Reading(field=name, value=value, time=at)
    out = {}
    for device_id in ids:
        fields = latest.get(device_id, {})
        numeric = [fields[n] for n in field_order(fields) if is_number(fields[n].value)]
        series = spark.get(device_id, {})
        first = next((r.field for r in numeric if r.field in series), "")
        out[device_id] = FleetDevice(
            device_id=device_id,
            last_seen=None,
            readings=numeric[:KEY_FIELDS],
            # A point is one time with several fields: the busiest field counts points.
            points_last_hour=max(hour.get(device_id, {}).values(), default=0),
            spark=_means(series.get(first, {})),
            spark_field=first,
        )
    return out


def fleet_overview(
    *, online_minutes: int = 5, limit: int = 10, details: bool = True
) -> FleetOverview:
    """The overview; ``details=False`` (the live refresh of its numbers) skips the second
    query, so the active devices come without readings, points or sparkline."""
    conn = get()
    at = now()
    online_since = at - timedelta(minutes=online_minutes)
    rows = query(
        conn,
        queries.fleet_overview(
            conn.bucket_auth, conn.bucket, online_since=online_since, limit=limit
        ),
        "read the fleet overview",
        # The registry is read too, but a missing bucket here is most likely the telemetry one.
        bucket=conn.bucket,
        setting=TELEMETRY_SETTING,
    )
    by_result: dict[str, list[dict]] = {}
    for row in rows:
        by_result.setdefault(row.get("result"), []).append(row)
    registered = _count(by_result.get(queries.FLEET_REGISTERED_RESULT, []))
    seen = _count(by_result.get(queries.FLEET_SEEN_RESULT, []), "owner")
    online = _count(by_result.get(queries.FLEET_ONLINE_RESULT, []), "owner")

    def shown(result: str) -> list[tuple[str, datetime]]:
        return [
            (row["owner"], row["_time"])
            for row in by_result.get(result, [])
            if row.get("owner") and row.get("_time")
        ]

    active = shown(queries.FLEET_ACTIVE_RESULT)
    info_of = _details(conn, [d for d, _ in active]) if details else {}
    return FleetOverview(
        registered=registered,
        online=online,
        silent=seen - online,
        never_seen=registered - seen,
        points_last_hour=_count(by_result.get(queries.FLEET_HOUR_RESULT, [])),
        online_minutes=online_minutes,
        active=[
            FleetDevice(
                device_id=d,
                last_seen=t,
                readings=(info := info_of.get(d, FleetDevice(d, None))).readings,
                points_last_hour=info.points_last_hour,
                spark=info.spark,
                spark_field=info.spark_field,
            )
            for d, t in active
        ],
        went_silent=[
            FleetDevice(device_id=d, last_seen=t) for d, t in shown(queries.FLEET_SILENT_RESULT)
        ],
        generated=at,
    )
