"""Template helpers for IoT Center pages: UTC times, relative ages, freshness, inline SVG charts.

Charts are drawn on the server as inline SVG so that pages need no JavaScript and no chart
library, and work offline.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

from devices.ids import is_valid_device_id

register = template.Library()

# Gauge scales and units per field, the ones the reference dashboards use.
FIELD_SCALES: dict[str, tuple[float, float, str]] = {
    "Temperature": (0, 40, "°C"),
    "Humidity": (0, 100, "%"),
    "Pressure": (970, 1050, "hPa"),
    "CO2": (400, 3000, "ppm"),
    "TVOC": (250, 2000, "ppb"),
}

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> timedelta:
    """``"-5m"``/``"15m"``/``"1d"`` -> timedelta (the simple forms used by ``RANGES``)."""
    text = text.lstrip("-")
    return timedelta(seconds=int(text[:-1]) * _UNIT_SECONDS[text[-1]])


def _now() -> datetime:
    return timezone.now()


@register.filter
def openable(device_id: str) -> bool:
    """Whether the id follows this app's rules, so its pages can be linked and opened.

    Other apps sharing the registry may have written ids we do not accept (``site/1``): those
    are listed, but without links that could not be built or would not open.
    """
    return is_valid_device_id(device_id)


@register.filter
def utc(value: datetime | None) -> str:
    """A timestamp as ``2026-11-26 13:14:05 UTC`` (all pages show UTC)."""
    if not value:
        return "—"
    if timezone.is_naive(value):
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@register.filter
def ago(value: datetime | None) -> str:
    """Relative age: ``just now``, ``5 minutes ago``; future times (clock skew): ``just now``."""
    if not value:
        return "never"
    now = _now()
    if now - value < timedelta(minutes=1):
        return "just now"
    return f"{timesince(value, now, depth=1)} ago"


def freshness_of(value: datetime | None, now: datetime | None = None) -> tuple[str, str]:
    """(label, css class) saying how old the last value is, as the reference gauges do."""
    if value is None:
        return "no data", "stale"
    age = (now or _now()) - value
    if age < timedelta(minutes=1):
        return "just now", "fresh"
    if age < timedelta(minutes=5):
        return "<5 min", "fresh"
    if age <= timedelta(hours=1):
        return ">5 min", "aging"
    return "long time ago", "stale"


@register.filter
def freshness(value: datetime | None) -> str:
    return freshness_of(value)[0]


@register.filter
def freshness_class(value: datetime | None) -> str:
    return freshness_of(value)[1]


@register.filter
def unit(field: str) -> str:
    return FIELD_SCALES.get(field, (0, 0, ""))[2]


@register.filter
def number(value) -> str:
    """Readings rounded for people: floats to 2 decimals, other values as they are."""
    if isinstance(value, bool) or value is None:
        return "—" if value is None else str(value).lower()
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


# ---- charts ---------------------------------------------------------------------------------


def nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round tick values covering [low, high] (1, 2, 5 times a power of ten apart)."""
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 10))
    return ticks


def _tick_label(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e6 else f"{value:.2e}"


CHART_W, CHART_H = 640, 200
PAD_L, PAD_R, PAD_T, PAD_B = 52, 12, 10, 26


def line_chart_geometry(points, *, start: datetime, end: datetime) -> dict:
    """Scale series points into SVG coordinates: the path, the axes and a text summary."""
    values = [p.value for p in points if p.value is not None]
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
        "min": min(values) if values else None,
        "max": max(values) if values else None,
        "last": values[-1] if values else None,
    }
    if points:
        end = max(end, points[-1].time)
        start = min(start, points[0].time)
    span = max((end - start).total_seconds(), 1.0)

    def x_of(t: datetime) -> float:
        return round(PAD_L + (t - start).total_seconds() / span * plot_w, 1)

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

    def y_of(v: float) -> float:
        return round(PAD_T + plot_h - (v - low) / (high - low) * plot_h, 1)

    geometry["yticks"] = [{"y": y_of(v), "label": _tick_label(v)} for v in ticks]
    # A missing window (value None) breaks the line instead of drawing across the gap.
    parts, run = [], []
    for p in points:
        if p.value is None:
            if len(run) == 1:
                geometry["dots"].append(run[0])
            run = []
            continue
        xy = (x_of(p.time), y_of(p.value))
        parts.append(f"{'L' if run else 'M'}{xy[0]},{xy[1]}")
        run.append({"x": xy[0], "y": xy[1]})
    if len(run) == 1:
        geometry["dots"].append(run[0])
    geometry["path"] = " ".join(parts)
    return geometry


@register.inclusion_tag("includes/line_chart.html")
def line_chart(field: str, points, range_value: str) -> dict:
    end = _now()
    geometry = line_chart_geometry(points, start=end - parse_duration(range_value), end=end)
    return {"field": field, "unit": unit(field), "chart": geometry}


def gauge_geometry(field: str, value) -> dict | None:
    """Semicircle gauge arcs for a numeric reading of a field with a known scale."""
    if field not in FIELD_SCALES or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    low, high, _ = FIELD_SCALES[field]
    fraction = min(max((value - low) / (high - low), 0.0), 1.0)
    cx, cy, r = 60, 60, 48

    def point(f: float) -> tuple[float, float]:
        angle = math.pi * (1 - f)
        return round(cx + r * math.cos(angle), 2), round(cy - r * math.sin(angle), 2)

    (x0, y0), (x1, y1), (xv, yv) = point(0), point(1), point(fraction)
    return {
        "track": f"M{x0},{y0} A{r},{r} 0 0 1 {x1},{y1}",
        "value": f"M{x0},{y0} A{r},{r} 0 0 1 {xv},{yv}" if fraction > 0 else "",
        "low": f"{low:g}",
        "high": f"{high:g}",
        "percent": round(fraction * 100),
    }


@register.inclusion_tag("includes/gauge.html")
def gauge(reading) -> dict:
    label, css = freshness_of(reading.time)
    return {
        "reading": reading,
        "unit": unit(reading.field),
        "arc": gauge_geometry(reading.field, reading.value),
        "freshness": label,
        "freshness_class": css,
    }
