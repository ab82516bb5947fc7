"""Reads for the live pages: a device's dashboard (any range) and the fleet overview.

Bounded work whatever the range, the amount of data or the fleet size:

* a dashboard costs two queries: the device with the latest value of every field (any type),
  then all of its numeric fields at once, as window means (at most ``MAX_POINTS`` windows per
  series, the window chosen from the range) with min/max/mean/count over the range;
* fields whose latest values are not numbers (a string or boolean a device wrote) are named,
  not aggregated: Flux's ``mean`` would fail the whole query on them;
* the overview costs two queries: the registered ids, then every device's newest values and
  its points of the last hour.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import ClassVar

from devices import queries

from .client import get
from .devices import device_view
from .errors import InfluxError
from .lowlevel import check_id, now, telemetry_query
from .telemetry import owned, series_from
from .types import RANGES, Device, Reading, SeriesPoint

# At most this many windows per series: the window grows with the range.
MAX_POINTS = 500
# At most this many fields are charted (reference fields first): a device writing thousands of
# field names still gets a page of bounded size.
MAX_FIELDS = 24
# Round window lengths, in seconds.
WINDOWS = [
    (1, "1s"), (2, "2s"), (5, "5s"), (10, "10s"), (15, "15s"), (30, "30s"), (60, "1m"),
    (120, "2m"), (300, "5m"), (600, "10m"), (900, "15m"), (1800, "30m"), (3600, "1h"),
    (7200, "2h"), (10800, "3h"), (21600, "6h"), (43200, "12h"), (86400, "1d"), (172800, "2d"),
    (604800, "7d"), (1209600, "14d"), (2592000, "30d"),
]  # fmt: skip
# Custom ranges are refused beyond this (and before 1970 or in the far future).
MAX_SPAN = timedelta(days=366 * 10)


def window_for(span: timedelta) -> tuple[int, str]:
    """(seconds, Flux duration) of the smallest round window giving at most MAX_POINTS."""
    seconds = max(span.total_seconds(), 1.0)
    for length, text in WINDOWS:
        if seconds / length <= MAX_POINTS:
            return length, text
    length, text = WINDOWS[-1]
    return length, text


@dataclass(frozen=True)
class TimeWindow:
    """What a dashboard shows: a preset relative to now (live) or a fixed start/stop."""

    start: datetime
    stop: datetime
    every: str
    range_key: str = ""  # the preset, "" for a custom range
    MAX_SPAN: ClassVar[timedelta] = MAX_SPAN

    @property
    def live(self) -> bool:
        return bool(self.range_key)

    @classmethod
    def preset(cls, range_key: str, at: datetime | None = None) -> TimeWindow:
        start, every = RANGES[range_key]
        stop = at or now()
        seconds = int(start.lstrip("-")[:-1]) * {"m": 60, "h": 3600, "d": 86400}[start[-1]]
        return cls(stop - timedelta(seconds=seconds), stop, every, range_key)

    @classmethod
    def custom(cls, start: datetime, stop: datetime) -> TimeWindow:
        if stop <= start:
            raise ValueError("the stop must be after the start")
        return cls(start, stop, window_for(stop - start)[1])

    def flux_bounds(self) -> tuple[object, datetime | None]:
        if self.range_key:
            return RANGES[self.range_key][0], None
        return self.start, self.stop


@dataclass(frozen=True)
class Chart:
    field: str
    points: list[SeriesPoint]
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    count: int = 0


@dataclass(frozen=True)
class Dashboard:
    device: Device
    readings: list[Reading]
    window: TimeWindow
    charts: list[Chart] = field(default_factory=list)
    non_numeric: list[str] = field(default_factory=list)  # fields holding strings/booleans
    fields_left_out: int = 0  # numeric fields beyond MAX_FIELDS
    error: str = ""  # why the charts could not be read (the device could)


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# The environment first, in the reference apps' order; then anything else alphabetically.
REFERENCE_ORDER = ("Temperature", "Humidity", "Pressure", "CO2", "TVOC")


def field_order(names, first=REFERENCE_ORDER) -> list[str]:
    """Reference fields first (in ``first``'s order), then the others alphabetically."""
    rank = {name: i for i, name in enumerate(first)}
    return sorted(names, key=lambda n: (rank.get(n, len(rank)), n))


def numeric_fields(readings: list[Reading]) -> tuple[list[str], list[str]]:
    """(numeric fields, non-numeric fields) from the newest value of each field."""
    numeric = field_order([r.field for r in readings if is_number(r.value)])
    return numeric, sorted(r.field for r in readings if not is_number(r.value))


def _merge_stats(rows: list[dict], device_id: str) -> dict[str, dict]:
    out: dict[str, dict] = {}
    sums: dict[str, list[float]] = {}
    for row in owned(rows, device_id):
        name, value, result = row.get("_field"), row.get("_value"), row.get("result")
        if name is None or not is_number(value):
            continue
        entry = out.setdefault(name, {"min": None, "max": None, "count": 0})
        value = float(value) if result != "count" else int(value)
        if result == "min":
            entry["min"] = value if entry["min"] is None else min(entry["min"], value)
        elif result == "max":
            entry["max"] = value if entry["max"] is None else max(entry["max"], value)
        elif result == "count":
            entry["count"] += value
        elif result == "mean":
            sums.setdefault(name, []).append(value)
    for name, means in sums.items():
        # One mean per owner group: several only when both device tags name the device.
        finite = [m for m in means if math.isfinite(m)]
        out[name]["mean"] = sum(finite) / len(finite) if finite else None
    return out


def dashboard(device_id: str, window: TimeWindow) -> Dashboard:
    """The device, its latest readings and every numeric field over the window: two queries.
    Raises InvalidDeviceId, DeviceNotFound."""
    device_id = check_id(device_id)
    view = device_view(device_id)
    rank = {name: i for i, name in enumerate(field_order(r.field for r in view.readings))}
    readings = sorted(view.readings, key=lambda r: rank[r.field])
    numeric, non_numeric = numeric_fields(readings)
    shown, left_out = numeric[:MAX_FIELDS], max(0, len(numeric) - MAX_FIELDS)
    if not shown:
        return Dashboard(view.device, readings, window, [], non_numeric, 0)
    conn = get()
    start, stop = window.flux_bounds()
    try:
        rows = telemetry_query(
            conn,
            queries.dashboard_data(conn.bucket, device_id, start, stop, window.every, shown),
            f"read the charts of device {device_id!r}",
        )
    except InfluxError as exc:
        # The device is shown; the charts panel says what failed, the next refresh retries.
        return Dashboard(view.device, readings, window, [], non_numeric, left_out, error=str(exc))
    series_rows = [r for r in rows if r.get("result") == queries.DASH_SERIES_RESULT]
    series = series_from(series_rows, device_id)
    stats = _merge_stats([r for r in rows if r.get("result") in queries.DASH_STATS], device_id)
    charts = []
    for name in shown:
        s = stats.get(name, {})
        charts.append(
            Chart(
                field=name,
                points=series.get(name, []),
                min=s.get("min"),
                max=s.get("max"),
                mean=s.get("mean"),
                count=s.get("count", 0),
            )
        )
    return Dashboard(view.device, readings, window, charts, non_numeric, left_out)
