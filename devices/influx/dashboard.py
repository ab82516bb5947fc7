"""Reads for the live pages: a device's dashboard (any range) and the fleet overview.

Bounded work whatever the range, the amount of data or the fleet size:

* a dashboard costs two queries: the device with the latest value of every field (any type),
  then all of its numeric fields at once, as window means (at most ``MAX_POINTS`` windows per
  series, the window chosen from the range) with min/max/mean/count over the range;
* windows of an hour or more read the hourly rollup (``rollup.py``) for the completed hours it
  covers and raw points only for the rest (the partial first hour, the hours after the
  rollup's high-water mark): the first query also reads the rollup's coverage, the second adds
  up sums and counts per window, so the result is the raw computation's at any range;
* the rollup part's result (per field and window, sums and counts; min/max) is kept in
  Django's cache under the device, fields, window, covered hours and the coverage marker
  (with its per-pass stamp): a refresh within the hour reads only the raw parts;
* fields whose latest values are not numbers (a string or boolean a device wrote) are named,
  not aggregated: Flux's ``mean`` would fail the whole query on them;
* the overview costs two queries: the registered ids, then every device's newest values and
  its points of the last hour.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import repeat
from math import isfinite
from operator import truediv
from typing import ClassVar

from django.conf import settings
from django.core.cache import cache

from devices import queries
from devices.queries import rollup as rq

from . import rollup
from .client import Conn, get
from .devices import device_view, read_view
from .errors import InfluxError
from .lowlevel import check_id, now, telemetry_query
from .telemetry import owned, owner, series_from
from .types import RANGES, Device, DeviceView, Reading, SeriesPoint

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
WINDOW_SECONDS = {text: length for length, text in WINDOWS}
# Windows at least this long read the hourly rollup where it covers the range.
ROLLUP_WINDOW_S = 3600
# How long a rollup part stays cached: its key changes with the marker anyway.
PART_CACHE_SECONDS = 3600
# Custom ranges are refused beyond this (and before 1970 or in the far future).
MAX_SPAN = timedelta(days=366 * 10)


def reads_rollup(every: str) -> bool:
    """Whether windows ``every`` long are read from the hourly rollup where it covers the range
    (and a preset of them starts on the hour)."""
    return WINDOW_SECONDS.get(every, 0) >= ROLLUP_WINDOW_S


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
        """The preset ending now (or ``at``). Presets of hour-long windows or longer (7d, 30d)
        start on the hour before (up to 59 minutes more than the preset says): their completed
        hours are then read whole from the hourly rollup, and only the current hour raw."""
        start, every = RANGES[range_key]
        stop = at or now()
        seconds = int(start.lstrip("-")[:-1]) * {"m": 60, "h": 3600, "d": 86400}[start[-1]]
        begin = stop - timedelta(seconds=seconds)
        if reads_rollup(every):
            begin = rollup.floor_hour(begin)
        return cls(begin, stop, every, range_key)

    @classmethod
    def custom(cls, start: datetime, stop: datetime) -> TimeWindow:
        if stop <= start:
            raise ValueError("the stop must be after the start")
        return cls(start, stop, window_for(stop - start)[1])

    def flux_bounds(self) -> tuple[object, datetime | None]:
        """``range``'s bounds: a live preset ends at the server's now (stop None) and starts
        relative to it, or on the hour (``preset``); a custom range is fixed."""
        if self.range_key:
            if reads_rollup(self.every):
                return self.start, None
            return RANGES[self.range_key][0], None
        return self.start, self.stop


def _chart(field: str, times: list, values: list, *stats) -> Chart:
    points = [SeriesPoint(t, v) for t, v in zip(times, values, strict=True)]
    return Chart(field, points, *stats)


@dataclass(frozen=True)
class Chart:
    field: str
    points: list[SeriesPoint]
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    count: int = 0

    def __reduce__(self):
        # Pickled (the shared live-viewer cache) as plain lists: a 30-day board's 2,500
        # points as objects cost more to pickle than reading them. Times shared by the
        # charts (one datetime per window) stay shared in the pickle.
        times = [p.time for p in self.points]
        values = [p.value for p in self.points]
        return _chart, (self.field, times, values, self.min, self.max, self.mean, self.count)


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


def _view_with_coverage(conn: Conn, device_id: str) -> tuple[DeviceView, rollup.Coverage | None]:
    """``device_view`` (registry + latest values) and the rollup's coverage in one query."""
    flux = (
        queries.device_view(conn.bucket_auth, conn.bucket, device_id)
        + "\n\n"
        + rq.rollup_coverage(conn.bucket)
    )
    device, readings, by_result = read_view(conn, device_id, flux)
    coverage = rollup.coverage_from_rows(by_result.get(rq.COVERAGE_RESULT, []))
    return DeviceView(device=device, readings=readings), coverage


@dataclass(frozen=True)
class RollupPlan:
    """Which parts of a window are read how: raw ``head`` and ``tail`` (None when empty) around
    the ``rolled`` whole hours; ``stop`` is where the last window ends."""

    head: tuple[object, datetime] | None
    rolled: tuple[datetime, datetime]
    tail: tuple[datetime, datetime] | None
    stop: datetime


def rollup_plan(window: TimeWindow, coverage: rollup.Coverage | None) -> RollupPlan | None:
    """How ``window`` reads the rollup, or None when it should read raw points only (short
    windows, no rollup yet, or no completed covered hour inside the range)."""
    if coverage is None or not reads_rollup(window.every):
        return None
    # Whole seconds, as the raw path's time literals.
    start = window.start.astimezone(UTC).replace(microsecond=0)
    stop = window.stop.astimezone(UTC).replace(microsecond=0)
    first = max(rollup.ceil_hour(start), coverage.start)
    last = min(rollup.floor_hour(stop), coverage.stop)
    if first >= last:
        return None
    return RollupPlan(
        head=(start, first) if start < first else None,
        rolled=(first, last),
        tail=(last, stop) if last < stop else None,
        stop=stop,
    )


# tuple.__new__(SeriesPoint, (time, value)): a SeriesPoint, as SeriesPoint(time, value) makes
# it, without a Python-level call per point.
_new_point = tuple.__new__


def _window_end(at: datetime, every_s: int) -> int:
    """End (epoch seconds) of the epoch-aligned window a Flux window row (its _time: the
    window's stop, or the part's stop when that comes first) belongs to."""
    return math.ceil(at.timestamp() / every_s) * every_s


def _part_key(device: Device, every: str, shown, plan: RollupPlan, cov) -> str | None:
    """Cache key of a rollup part, or None (not cached) for a marker without a pass stamp.
    The device's registration time: a removed and registered again device gets new keys."""
    if cov.stamp is None:
        return None
    where = (settings.INFLUX_URL, settings.INFLUX_ORG, settings.INFLUX_BUCKET)
    created = device.created_at.timestamp() if device.created_at else None
    hours = tuple(t.timestamp() for t in (*plan.rolled, cov.start, cov.stop))
    ident = (*where, device.device_id, created, every, tuple(shown), hours, cov.stamp)
    return "iotcenter:rollup-part:v2:" + hashlib.sha256(repr(ident).encode()).hexdigest()


def _rolled_part(rows: list[dict], device_id: str, every: str, shown) -> dict:
    """The rollup part of ``queries.dashboard_rollup``'s rows as plain lists (cacheable, and
    cheap to pickle): ``ends``, the window ends (epoch seconds) in time order; ``fields``: per
    field ``(sums, counts)`` aligned with ``ends`` (None where the field has no rollup in that
    window); ``min``/``max``: per field."""
    every_s = WINDOW_SECONDS[every]
    by_end: dict[int, list[dict]] = {}
    picked: dict[str, dict[str, float]] = {"min": {}, "max": {}}
    wanted = set(shown)
    for row in rows:
        result = row.get("result")
        if result == rq.DASH_ROLLUP_WINDOWS:
            at = row.get("_time")
            if at is not None:
                by_end.setdefault(_window_end(at, every_s), []).append(row)
        elif result in (rq.DASH_ROLLUP_MIN, rq.DASH_ROLLUP_MAX):
            name, value = row.get("_field"), row.get("_value")
            if owner(row) != device_id or name not in wanted or not is_number(value):
                continue
            key, pick = ("min", min) if result == rq.DASH_ROLLUP_MIN else ("max", max)
            known = picked[key].get(name)
            picked[key][name] = float(value) if known is None else pick(known, float(value))
    ends = sorted(by_end)
    groups = [by_end[end] for end in ends]
    fields = {}
    if all(len(group) == 1 for group in groups):
        # One row per window (the pivot's row key is _time): each field's lists at once.
        single = [group[0] for group in groups]
        for name in shown:
            # Float columns (the rollup writes floats only): a number or None (the merge
            # skips a window missing either). dict.get mapped: one C call a row.
            sums = list(map(dict.get, single, repeat(f"{name}_sum")))
            counts = list(map(dict.get, single, repeat(f"{name}_count")))
            fields[name] = (sums, counts)
        return {"ends": ends, "fields": fields, **picked}
    for name in shown:
        sum_col, count_col = f"{name}_sum", f"{name}_count"
        sums: list[float | None] = []
        counts: list[float | None] = []
        for group in groups:
            total = count = None
            for row in group:
                t, c = row.get(sum_col), row.get(count_col)
                if t is None or c is None:
                    continue
                total, count = (t, c) if total is None else (total + t, count + c)
            sums.append(total)
            counts.append(count)
        fields[name] = (sums, counts)
    return {"ends": ends, "fields": fields, **picked}


def _raw_parts(rows: list[dict], device_id: str, every_s: int, shown) -> tuple[dict, dict]:
    """Per field, the raw parts' ``{window end: [sum, count]}`` and ``{"min", "max"}``."""
    windows: dict[str, dict[int, list[float]]] = {name: {} for name in shown}
    stats: dict[str, dict] = {name: {"min": None, "max": None} for name in shown}
    for row in rows:
        result, name, at = row.get("result") or "", row.get("_field"), row.get("_time")
        if not result.startswith(rq.DASH_PARTS):
            continue  # the rollup part: ``part``
        if owner(row) != device_id:
            continue  # raw rows of another owner (``device`` naming a board type)
        if name not in stats:
            continue
        value = row.get("_value")
        if not is_number(value):
            continue
        if result.endswith(("_sum", "_count")) and at is not None:
            slot = windows[name].setdefault(_window_end(at, every_s), [0.0, 0])
            if result.endswith("_sum"):
                slot[0] += value
            else:
                slot[1] += value
        elif result.endswith(("_min", "_max")):
            key, pick = ("min", min) if result.endswith("_min") else ("max", max)
            entry = stats[name]
            entry[key] = float(value) if entry[key] is None else pick(entry[key], float(value))
    return windows, stats


def _merged_charts(rows: list[dict], device_id: str, plan: RollupPlan, every: str, shown, part):
    """Per field: window means (sum of sums / sum of counts over every part) and the range's
    min/max/mean/count, from ``queries.dashboard_rollup``'s raw parts (``rows``) and the rollup
    part (``part``, from ``_rolled_part``: queried now or cached).

    The raw parts (the partial first hour, the hours after the rollup) touch few windows: the
    rollup part's lists are copied and those windows added in, instead of merging window by
    window in dictionaries."""
    raw, stats = _raw_parts(rows, device_id, WINDOW_SECONDS[every], shown)
    part_ends: list[int] = part["ends"]
    extra = set().union(*(raw[name].keys() for name in shown)).difference(part_ends)
    ends = sorted(extra.union(part_ends)) if extra else part_ends
    at = {end: i for i, end in enumerate(ends)}
    stop_s = plan.stop.timestamp()
    # One datetime per window, shared by the fields' points.
    times = [datetime.fromtimestamp(min(end, stop_s), UTC) for end in ends]
    n = len(ends)
    charts = []
    for name in shown:
        part_sums, part_counts = part["fields"].get(name) or ((), ())
        if ends is part_ends and part_sums:
            sums, counts = list(part_sums), list(part_counts)
        else:
            sums, counts = [None] * n, [None] * n
            for end, t, c in zip(part_ends, part_sums, part_counts, strict=False):
                sums[at[end]], counts[at[end]] = t, c
        for end, (t, c) in raw[name].items():
            j = at[end]
            if counts[j] is None or sums[j] is None:
                sums[j], counts[j] = t, c
            else:
                sums[j], counts[j] = sums[j] + t, counts[j] + c
        if None not in sums and all(counts) and all(map(isfinite, sums)):
            # Every window holds points and finite sums (the common case): the same points
            # and totals, made by C-level maps (a 30-day board has 2,520 points).
            means = map(truediv, sums, counts)
            points = list(map(_new_point, repeat(SeriesPoint), zip(times, means, strict=True)))
            total, count = sum(sums), int(sum(counts))
        else:
            # The windows holding points of the field (a count of None or 0: none; a rollup
            # without its sum is left out too).
            kept = [
                (when, t, c)
                for when, t, c in zip(times, sums, counts, strict=True)
                if c and t is not None
            ]
            points = [SeriesPoint(when, t / c if isfinite(t) else None) for when, t, c in kept]
            total = sum(t for _, t, _ in kept)
            count = int(sum(c for _, _, c in kept))
        entry = stats[name]
        for key, pick in (("min", min), ("max", max)):
            value = part[key].get(name)
            if value is not None:
                entry[key] = value if entry[key] is None else pick(entry[key], value)
        charts.append(
            Chart(
                field=name,
                points=points,
                min=entry["min"],
                max=entry["max"],
                mean=total / count if count and math.isfinite(total) else None,
                count=count,
            )
        )
    return charts


def _raw_charts(rows: list[dict], device_id: str, shown) -> list[Chart]:
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
    return charts


def dashboard(device_id: str, window: TimeWindow, *, use_rollup: bool = True) -> Dashboard:
    """The device, its latest readings and every numeric field over the window: two queries
    (``use_rollup=False``: raw points only, the reference the rollup path is tested against).
    Raises InvalidDeviceId, DeviceNotFound."""
    device_id = check_id(device_id)
    conn = get()
    coverage = None
    if use_rollup and reads_rollup(window.every):
        view, coverage = _view_with_coverage(conn, device_id)
    else:
        view = device_view(device_id)
    rank = {name: i for i, name in enumerate(field_order(r.field for r in view.readings))}
    readings = sorted(view.readings, key=lambda r: rank[r.field])
    numeric, non_numeric = numeric_fields(readings)
    shown, left_out = numeric[:MAX_FIELDS], max(0, len(numeric) - MAX_FIELDS)
    if not shown:
        return Dashboard(view.device, readings, window, [], non_numeric, 0)
    plan = rollup_plan(window, coverage)
    part = key = None
    if plan is None:
        start, stop = window.flux_bounds()
        flux = queries.dashboard_data(conn.bucket, device_id, start, stop, window.every, shown)
    else:
        key = _part_key(view.device, window.every, shown, plan, coverage)
        part = cache.get(key) if key else None
        flux = rq.dashboard_rollup(
            conn.bucket,
            device_id,
            window.every,
            shown,
            head=plan.head,
            rolled=plan.rolled if part is None else None,  # cached: only the raw parts
            tail=plan.tail,
        )
    try:
        rows = (
            telemetry_query(conn, flux, f"read the charts of device {device_id!r}") if flux else []
        )
    except InfluxError as exc:
        # The device is shown; the charts panel says what failed, the next refresh retries.
        return Dashboard(view.device, readings, window, [], non_numeric, left_out, error=str(exc))
    if plan is None:
        charts = _raw_charts(rows, device_id, shown)
    else:
        if part is None:
            part = _rolled_part(rows, device_id, window.every, shown)
            if key:
                cache.set(key, part, PART_CACHE_SECONDS)
        charts = _merged_charts(rows, device_id, plan, window.every, shown, part)
    return Dashboard(view.device, readings, window, charts, non_numeric, left_out)
