"""Chart geometry for the server-drawn SVG charts (pure: no Django, no InfluxDB).

Devices write whatever they like, so every function here is total over floats: constant
series, nearly equal values, ``±1.7e308``, subnormals (``5e-324``), huge integers and
non-finite window means (a mean of two ``1.7e308`` overflows to ``inf``) all give a drawing.
No loop depends on the data's values (each is bounded by a small constant), no division can be
by zero, and no intermediate value can overflow: spans are computed as ``high/2 - low/2``.
"""

from __future__ import annotations

import math
import sys
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from math import isfinite

MAX_FLOAT = sys.float_info.max
MAX_TICKS = 8

CHART_W, CHART_H = 640, 200
PAD_L, PAD_R, PAD_T, PAD_B = 64, 12, 10, 26
TRACK_W, TRACK_H, TRACK_PAD = 360, 360, 16


def finite(value) -> float | None:
    """``value`` as a finite float, or None (missing, NaN, ±inf, not a number)."""
    if type(value) is float:  # the common case, first
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int beyond float range
        return None
    return number if math.isfinite(number) else None


def _half_span(low: float, high: float) -> float:
    """(high - low) / 2, which cannot overflow for finite floats."""
    return high / 2 - low / 2


def _lerp(low: float, high: float, f: float) -> float:
    """low + f * (high - low) without overflow, for 0 <= f <= 1."""
    return 2 * (low / 2 * (1 - f) + high / 2 * f)


def _linear_ticks(low: float, high: float, count: int) -> list[float]:
    inner = [_lerp(low, high, i / count) for i in range(1, count)]
    return [low, *(v for v in inner if low < v < high), high]


def widen(low: float, high: float) -> tuple[float, float]:
    """An axis range around [low, high] that is never empty (a constant gets a margin)."""
    if low > high:
        low, high = high, low
    scale = max(abs(low), abs(high))
    if _half_span(low, high) <= scale * 1e-12:
        pad = scale * 0.01
        if not pad or pad < 1e-300:
            pad = 1.0 if scale < 1e-300 else scale
        low, high = max(low - pad, -MAX_FLOAT), min(high + pad, MAX_FLOAT)
    return low, high


def nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round tick values covering [low, high] (1, 2, 5 times a power of ten apart).

    At most ``MAX_TICKS`` values, always at least two distinct ones, increasing; when round
    steps cannot be had (the range is at the ends of float precision) evenly spaced ones.
    """
    low, high = widen(float(low), float(high))
    raw = 2 * _half_span(low, high) / count
    if not (math.isfinite(raw) and raw > 0):
        return _linear_ticks(low, high, count)
    magnitude = 10.0 ** math.floor(math.log10(raw))
    if not (math.isfinite(magnitude) and magnitude > 0):
        return _linear_ticks(low, high, count)
    step = next((m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw), math.inf)
    if not math.isfinite(step):
        return _linear_ticks(low, high, count)
    first = math.floor(low / step) * step
    if first > low:  # low / step underflowed to 0
        first -= step
    ticks: list[float] = []
    for i in range(MAX_TICKS):
        value = first + i * step
        if not math.isfinite(value):
            break
        ticks.append(round(value, 10) if step > 1e-8 else value)
        if value >= high:
            break
    distinct = len(ticks) >= 2 and all(a < b for a, b in pairwise(ticks))
    if not distinct or ticks[0] > low or ticks[-1] < high:
        return _linear_ticks(low, high, count)
    return ticks


def tick_label(value: float) -> str:
    if value == 0:
        return "0"
    return f"{value:g}" if 1e-4 <= abs(value) < 1e6 else f"{value:.3g}"


def fraction(value: float, low: float, high: float) -> float:
    """Where ``value`` lies between ``low`` and ``high`` (0..1 inside), overflow-free."""
    half = _half_span(low, high)
    if not half:
        return 0.5
    return (value / 2 - low / 2) / half


def line_chart_geometry(points, *, start: datetime, end: datetime, xs: dict | None = None) -> dict:
    """Scale series points into SVG coordinates: the path, the axes and a text summary.

    A point whose value is missing or not finite breaks the line (it is counted in
    ``skipped``); the summary is over the finite values. ``xs``: a dict the charts of one
    page share, so that their common window times are placed once (x by axis and time).
    """
    # finite(), with its common case (a finite float) inline: this runs once per window.
    cleaned = [(t, v if type(v) is float and isfinite(v) else finite(v)) for t, v in points]
    values = [v for _, v in cleaned if v is not None]
    plot_w, plot_h = CHART_W - PAD_L - PAD_R, CHART_H - PAD_T - PAD_B
    geometry = {
        "width": CHART_W,
        "height": CHART_H,
        "plot": {"x": PAD_L, "y": PAD_T, "w": plot_w, "h": plot_h, "right": PAD_L + plot_w},
        "mid": {"x": PAD_L + plot_w / 2, "y": PAD_T + plot_h / 2},
        "label": {"x": PAD_L - 6, "y": CHART_H - 8},
        "path": "",
        "dots": [],
        "yticks": [],
        "xticks": [],
        "count": len(values),
        "skipped": sum(1 for p in points if p.value is not None) - len(values),
        "min": min(values) if values else None,
        "max": max(values) if values else None,
        "last": values[-1] if values else None,
    }
    if points:
        end = max(end, points[-1].time)
        start = min(start, points[0].time)
    span = max((end - start).total_seconds(), 1.0)

    scale = plot_w / span
    placed = {} if xs is None else xs.setdefault((start, span), {})

    def x_of(t: datetime) -> float:
        x = placed.get(t)
        if x is None:
            x = placed[t] = round(PAD_L + (t - start).total_seconds() * scale, 1)
        return x

    for i in range(5):
        t = start + timedelta(seconds=span * i / 4)
        fmt = "%H:%M" if span <= 2 * 86400 else "%m-%d %H:%M"
        # Edge labels anchor inwards so they are not cut off by the viewBox.
        anchor = "start" if i == 0 else "end" if i == 4 else "middle"
        label = t.astimezone(UTC).strftime(fmt)
        geometry["xticks"].append({"x": x_of(t), "label": label, "anchor": anchor})
    if not values:
        return geometry

    ticks = nice_ticks(min(values), max(values))
    low, high = ticks[0], ticks[-1]

    half, low_half = _half_span(low, high), low / 2

    def y_of(v: float) -> float:
        # fraction(v, low, high) clamped to [0, 1], inlined (called once per window).
        f = (v / 2 - low_half) / half if half else 0.5
        if f < 0.0:
            f = 0.0
        elif f > 1.0:
            f = 1.0
        return round(PAD_T + plot_h - f * plot_h, 1)

    geometry["yticks"] = [{"y": y_of(v), "label": tick_label(v)} for v in ticks]
    # A missing window (value None) breaks the line instead of drawing across the gap; a run
    # of one point is drawn as a dot. x_of and y_of inlined: this runs once per window.
    parts: list[str] = []
    dots = geometry["dots"]
    run, last = 0, None
    bottom, get_x = PAD_T + plot_h, placed.get
    for t, value in cleaned:
        if value is None:
            if run == 1:
                dots.append({"x": last[0], "y": round(last[1], 1)})
            run = 0
            continue
        x = get_x(t)
        if x is None:
            x = x_of(t)
        f = (value / 2 - low_half) / half if half else 0.5
        y = bottom - (0.0 if f < 0.0 else 1.0 if f > 1.0 else f) * plot_h
        last = (x, y)
        # "{:.1f}" writes what round(y, 1) would (and is much cheaper): coordinates are
        # within the viewBox, so never in exponent form.
        parts.append(f"L{x:.1f},{y:.1f}" if run else f"M{x:.1f},{y:.1f}")
        run += 1
    if run == 1:
        dots.append({"x": last[0], "y": round(last[1], 1)})
    geometry["path"] = " ".join(parts)
    return geometry


def gauge_fraction(value, low: float, high: float) -> float | None:
    number = finite(value)
    if number is None:
        return None
    return min(max(fraction(number, low, high), 0.0), 1.0)


def track_geometry(positions) -> dict:
    """Lat/Lon pairs ``[(time, lat, lon)]`` as one SVG track: the path, start/end/last marks.

    Positions outside ±90/±180 or not finite are left out (counted in ``skipped``). North is
    up; the box keeps the track's aspect (degrees of longitude shrink with latitude).
    """
    good = []
    for t, lat, lon in positions:
        la, lo = finite(lat), finite(lon)
        if la is None or lo is None or abs(la) > 90 or abs(lo) > 180:
            continue
        good.append((t, la, lo))
    geometry = {
        "width": TRACK_W,
        "height": TRACK_H,
        "path": "",
        "count": len(good),
        "skipped": len(positions) - len(good),
        "start": None,
        "end": None,
    }
    if not good:
        return geometry
    lats = [g[1] for g in good]
    lons = [g[2] for g in good]
    mid_lat = (min(lats) + max(lats)) / 2
    shrink = max(math.cos(math.radians(mid_lat)), 0.01)
    lat_low, lat_high = widen(min(lats), max(lats))
    lon_low, lon_high = widen(min(lons), max(lons))
    # One scale for both axes (in km-like units), centred.
    lat_span = lat_high - lat_low
    lon_span = (lon_high - lon_low) * shrink
    side = max(lat_span, lon_span)
    inner = TRACK_W - 2 * TRACK_PAD
    lat_mid, lon_mid = (lat_low + lat_high) / 2, (lon_low + lon_high) / 2

    def xy(lat: float, lon: float) -> tuple[float, float]:
        x = TRACK_W / 2 + (lon - lon_mid) * shrink / side * inner
        y = TRACK_H / 2 - (lat - lat_mid) / side * inner
        return x, y

    coords = [xy(la, lo) for _, la, lo in good]
    # "{:.1f}" writes what round(v, 1) would, cheaper (the coordinates are within the box).
    geometry["path"] = "M" + " L".join([f"{x:.1f},{y:.1f}" for x, y in coords])
    (x0, y0), (x1, y1) = coords[0], coords[-1]
    geometry["start"] = {"x": round(x0, 1), "y": round(y0, 1), "time": good[0][0]}
    geometry["end"] = {"x": round(x1, 1), "y": round(y1, 1), "time": good[-1][0]}
    return geometry
