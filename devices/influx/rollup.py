"""The hourly rollup kept by IoT Center (InfluxDB's downsampling pattern): per device, field and
completed hour, the sum, count, min and max of the raw points, so that long dashboard ranges
read a few hundred rollup rows instead of every raw point (``dashboard.py``).

A pass (``manage.py rollup``, ``run_pass``) recomputes the last ``ROLLUP_LOOKBACK_HOURS``
completed hours plus every completed hour not yet rolled up, at most ``ROLLUP_MAX_HOURS`` hours
per pass: first forward up to the current hour, then backward until ``ROLLUP_DAYS`` are
covered. What is covered is one contiguous span of hours, written as a marker point after the
rollup points it vouches for, so a reader never trusts an hour before its rollup is stored;
hours outside it are read raw (correct, slower). Queries go out in chunks of ``CHUNK_HOURS``.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings

from devices import queries
from devices.ids import is_valid_device_id
from devices.queries import rollup as rq

from .client import Conn, get
from .lowlevel import TELEMETRY_SETTING, now, telemetry_query, write
from .telemetry import owner

HOUR = timedelta(hours=1)
CHUNK_HOURS = 24  # hours per rollup query
DEVICE_CHUNK = 500  # device ids per query of a backfill refresh
WRITE_LINES = 5_000
MAX_ROWS = 100_000  # rows per rollup query, about (series x hours x 4 stats)


def _setting(name: str, default: int, low: int = 0) -> int:
    try:
        return max(low, int(getattr(settings, name, default)))
    except (TypeError, ValueError):
        return default


def lookback_hours() -> int:
    """Completed hours recomputed by every pass: late data younger than this is picked up."""
    return _setting("ROLLUP_LOOKBACK_HOURS", 3)


def max_hours() -> int:
    return _setting("ROLLUP_MAX_HOURS", 24 * 7, low=1)


def target_days() -> int:
    return _setting("ROLLUP_DAYS", 31, low=1)


def floor_hour(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def ceil_hour(t: datetime) -> datetime:
    floor = floor_hour(t)
    return floor if floor == t else floor + HOUR


@dataclass(frozen=True)
class Coverage:
    """Every device's completed hours in [start, stop) are rolled up; ``stamp`` is new at
    every marker write (None from markers written before it existed)."""

    start: datetime
    stop: datetime
    stamp: float | None = field(default=None, compare=False)


@dataclass(frozen=True)
class PassResult:
    covered_from: datetime
    covered_to: datetime
    hours: int  # hours computed by this pass
    points: int  # rollup lines written (one per device, stat and hour)
    done: bool  # caught up: up to the current hour and ROLLUP_DAYS back


def coverage_from_rows(rows: Iterable[dict]) -> Coverage | None:
    values = {row.get("_field"): row.get("_value") for row in rows}
    try:
        start, stop = (float(values[name]) for name in rq.COVERAGE_FIELDS)
    except (KeyError, TypeError, ValueError):
        return None
    if not (math.isfinite(start) and math.isfinite(stop)) or stop <= start:
        return None
    stamp = values.get(rq.COVERAGE_STAMP)
    stamp = float(stamp) if _is_number(stamp) and math.isfinite(stamp) else None
    return Coverage(datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(stop, UTC), stamp)


def read_coverage(conn: Conn | None = None) -> Coverage | None:
    conn = conn or get()
    rows = telemetry_query(conn, rq.rollup_coverage(conn.bucket), "read the rollup's coverage")
    return coverage_from_rows(rows)


def _write_lines(conn: Conn, lines: list[str], what: str) -> None:
    for i in range(0, len(lines), WRITE_LINES):
        write(conn, conn.bucket, lines[i : i + WRITE_LINES], what, setting=TELEMETRY_SETTING)


def write_coverage(conn: Conn, coverage: Coverage) -> None:
    """The marker, with a new ``stamp``: even the same span tells readers that hours were
    rewritten (their cached rollup parts are stale)."""
    start, stop = (int(t.timestamp()) for t in (coverage.start, coverage.stop))
    stamp = float(secrets.randbelow(2**52))
    line = (
        f"{rq.ROLLUP_MEASUREMENT},{rq.STAT_TAG}={rq.COVERAGE_STAT} "
        f"from={start}.0,to={stop}.0,{rq.COVERAGE_STAMP}={stamp!r} {stop * 10**9}"
    )
    _write_lines(conn, [line], "write the rollup's coverage")


def _field_key(name: str) -> str | None:
    """``name`` as a line protocol field key, or None if it has none. InfluxDB unescapes only
    ``\\,`` ``\\=`` ``\\ `` (and ``\\"``) in keys: a backslash is kept as it is, so doubling it
    would write another field. A backslash before one of those, or at the end, cannot be
    written back: such a field is left out of the rollup."""
    if name.endswith("\\") or any(f"\\{c}" in name for c in ',= "'):
        return None
    return name.replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _numeric_fields(rows: Iterable[dict]) -> list[str]:
    """Fields whose every series holds numbers (sum/min/max would fail the query on others)."""
    ok: dict[str, bool] = {}
    for row in rows:
        name = row.get("_field")
        if name is not None:
            ok[name] = ok.get(name, True) and _is_number(row.get("_value"))
    return sorted(name for name, numeric in ok.items() if numeric)


def _merge(rows: Iterable[dict]) -> dict[tuple, list]:
    """(owner, field, hour) -> [sum, count, min, max], the series of one owner merged."""
    out: dict[tuple, list] = {}
    for row in rows:
        stat, value, at = row.get("result"), row.get("_value"), row.get("_time")
        device_id = owner(row)
        if stat not in rq.ROLLUP_STATS or value is None or at is None:
            continue
        if not device_id or not is_valid_device_id(device_id):
            continue  # ids other apps wrote that break our rules: no dashboard reads them
        entry = out.setdefault((device_id, row.get("_field"), at), [0.0, 0, None, None])
        value = float(value)
        if stat == "sum":
            entry[0] += value
        elif stat == "count":
            entry[1] += int(value)
        elif stat == "min":
            entry[2] = value if entry[2] is None else min(entry[2], value)
        else:
            entry[3] = value if entry[3] is None else max(entry[3], value)
    return out


def _lines(merged: dict[tuple, list]) -> list[str]:
    by_point: dict[tuple, list[str]] = {}
    for (device_id, name, at), (total, count, low, high) in merged.items():
        values = (total, float(count), low, high)
        if not count or not all(v is not None and math.isfinite(v) for v in values):
            continue  # an overflowing sum is left out: that hour of the field is read raw
        key = _field_key(name)
        if key is None:
            continue
        for stat, value in zip(rq.ROLLUP_STATS, values, strict=True):
            by_point.setdefault((device_id, stat, at), []).append(f"{key}={value!r}")
    lines = []
    for (device_id, stat, at), fields in by_point.items():
        ns = int(at.timestamp()) * 10**9
        lines.append(
            f"{rq.ROLLUP_MEASUREMENT},{queries.CLIENT_ID_TAG}={device_id},"
            f"{queries.DEVICE_TAG}={device_id},{rq.STAT_TAG}={stat} {','.join(fields)} {ns}"
        )
    return lines


def compute(
    conn: Conn, start: datetime, stop: datetime, device_ids: list[str] | None = None
) -> int:
    """Recompute and write the rollup of the hours in [start, stop) (of ``device_ids`` only,
    if given); returns the rollup lines written. Chunks of ``CHUNK_HOURS`` hours."""
    written = 0
    at = floor_hour(start)
    while at < stop:
        end = min(stop, at + CHUNK_HOURS * HOUR)
        what = f"roll up {at:%Y-%m-%d %H:00}..{end:%Y-%m-%d %H:00}"
        types = telemetry_query(conn, rq.rollup_field_types(conn.bucket, at, end, device_ids), what)
        fields = _numeric_fields(types)
        # Bounded answers: a large fleet (many series) is read a few hours per query.
        step = max(1, min(CHUNK_HOURS, MAX_ROWS // (len(rq.ROLLUP_STATS) * max(1, len(types)))))
        part = at
        while fields and part < end:
            part_end = min(end, part + step * HOUR)
            rows = telemetry_query(
                conn, rq.rollup_source(conn.bucket, part, part_end, fields, device_ids), what
            )
            lines = _lines(_merge(rows))
            _write_lines(conn, lines, f"write the rollup {part:%Y-%m-%d %H:00}..")
            written += len(lines)
            part = part_end
        at = end
    return written


def _hours(a: datetime, b: datetime) -> int:
    return max(0, int((b - a) / HOUR))


def run_pass(at: datetime | None = None) -> PassResult:
    """One bounded pass; see the module's docstring."""
    conn = get()
    current = floor_hour(at or now())
    budget = max_hours()
    target = current - timedelta(days=target_days())
    cov = read_coverage(conn)
    start, stop = (cov.start, min(cov.stop, current)) if cov else (current, current)
    hours = points = 0
    left = budget
    # Forward: the lookback, then the hours since the last pass (at most the budget).
    if cov:
        fwd_start = max(start, stop - lookback_hours() * HOUR)
        fwd_stop = min(current, stop + budget * HOUR)
        if fwd_start < fwd_stop:
            points += compute(conn, fwd_start, fwd_stop)
            hours += _hours(fwd_start, fwd_stop)
        left -= _hours(stop, fwd_stop)
        stop = max(stop, fwd_stop)
    # Backward: older hours until ROLLUP_DAYS are covered (with what is left of the budget).
    if stop >= current and start > target and left > 0:
        back = max(target, start - left * HOUR)
        points += compute(conn, back, start)
        hours += _hours(back, start)
        start = back
    if start < stop:
        write_coverage(conn, Coverage(start, stop))
    return PassResult(start, stop, hours, points, done=stop >= current and start <= target)


def recompute_since(since: datetime, at: datetime | None = None) -> PassResult:
    """Recompute every completed hour from ``since`` (after a backfill, or late data older
    than the lookback); unbounded: the operator asked for it."""
    conn = get()
    current = floor_hour(at or now())
    since = floor_hour(since)
    cov = read_coverage(conn)
    points = compute(conn, since, current) if since < current else 0
    if cov is None or since <= cov.stop:
        start = min(since, cov.start) if cov else since
        if start < current:
            write_coverage(conn, Coverage(start, current))
    else:
        start = cov.start  # a gap [cov.stop, since) stays for the next pass to fill
    cov = read_coverage(conn)
    return PassResult(
        cov.start if cov else current,
        cov.stop if cov else current,
        _hours(since, current),
        points,
        done=False,
    )


def refresh_written(spans: dict[str, tuple[datetime, datetime]]) -> int:
    """After a backfill: recompute the covered hours the given devices' new points fall in
    (``spans``: device id -> (first, last) point written), so their long ranges stay fast.
    Spans within the lookback cost nothing: the next pass recomputes those hours anyway."""
    if not spans:
        return 0
    oldest = min(first for first, _ in spans.values())
    if oldest >= floor_hour(now()) - lookback_hours() * HOUR:
        return 0
    conn = get()
    cov = read_coverage(conn)
    if cov is None:
        return 0  # nothing is rolled up yet: the first passes will include these points
    start = max(cov.start, floor_hour(oldest))
    stop = min(cov.stop, floor_hour(max(last for _, last in spans.values())) + HOUR)
    if start >= stop:
        return 0
    ids = sorted(spans)
    written = sum(
        compute(conn, start, stop, ids[i : i + DEVICE_CHUNK])
        for i in range(0, len(ids), DEVICE_CHUNK)
    )
    write_coverage(conn, cov)  # the same span, a new stamp: cached rollup parts are stale
    return written
