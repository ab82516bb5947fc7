"""Template helpers for IoT Center pages: UTC times, relative ages, freshness, inline SVG charts.

Charts are drawn on the server as inline SVG (geometry in ``devices.charts``) so that pages
work without JavaScript and offline; ``static/js/charts.js`` adds hover and live refresh.
"""

from __future__ import annotations

import html
import math
from datetime import UTC, datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.safestring import SafeString
from django.utils.timesince import timesince

from devices.charts import gauge_fraction, line_chart_geometry, nice_ticks
from devices.ids import is_valid_device_id

register = template.Library()

__all__ = ["line_chart_geometry", "nice_ticks", "register"]

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
    # isoformat, not strftime: the same text, a few times cheaper (a 30-day board labels 360
    # windows); the first 19 characters are the date and time to the second.
    return f"{value.astimezone(UTC).isoformat(' ', 'seconds')[:19]} UTC"


@register.filter
def ago(value: datetime | None, now: datetime | None = None) -> str:
    """Relative age: ``just now``, ``5 minutes ago``; future times (clock skew): ``just now``.
    ``now``: the time it is (one reading for several labels), else the clock."""
    if not value:
        return "never"
    now = now or _now()
    if now - value < timedelta(minutes=1):
        return "just now"
    return f"{timesince(value, now, depth=1)} ago"


def clock() -> datetime:
    """The time the labels are relative to (one reading can be shared by several labels)."""
    return _now()


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
def fresh(value: datetime | None) -> tuple[str, str]:
    """``freshness_of`` for templates: ``{% with f=t|fresh %}`` gives the label ``f.0`` and its
    css class ``f.1`` from one reading of the clock (two readings could disagree)."""
    return freshness_of(value)


@register.filter
def unit(field: str) -> str:
    return FIELD_SCALES.get(field, (0, 0, ""))[2]


@register.filter
def number(value) -> str:
    """Readings rounded for people: floats to 2 decimals (from 1e15 on, as ``1.7e+308``: a
    device may write any float, and 309 digits help nobody), other values as they are."""
    if isinstance(value, bool) or value is None:
        return "—" if value is None else str(value).lower()
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 1e15 else f"{value:.6g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


# ---- charts ---------------------------------------------------------------------------------


def _utc_labels(context) -> dict:
    """This page render's escaped ``utc`` labels by time: the charts of one board share their
    window times (a 30-day board: 7 tables of 361 rows, 361 distinct times). A board's context
    brings its own dict (``iot_labels``), which its included templates (the track's
    coordinates table) see too; otherwise one per template render."""
    labels = context.get("iot_labels")
    if labels is not None:
        return labels
    labels = context.render_context.get("iot_utc_labels")
    if labels is None:
        labels = context.render_context["iot_utc_labels"] = {}
    return labels


def _cell(value) -> str:
    """``number(value)``, escaped: a number's text (digits, ``,.-+e``, ``inf``, ``nan``) needs
    no escaping, anything else is escaped."""
    if type(value) is float or type(value) is int:
        return number(value)
    return html.escape(number(value))


def table_rows(context, rows) -> SafeString:
    """``<tr>`` rows of ``(time, value, ...)``: the time as ``utc``, each value as ``number``,
    escaped; one pass in Python instead of template filters per cell (the 30-day tables)."""
    labels = _utc_labels(context)
    out = []
    for t, *values in rows:
        label = labels.get(t)
        if label is None:
            label = labels[t] = html.escape(utc(t))
        out.append(f"<tr><td>{label}</td>{''.join(map(_num_td, values))}</tr>")
    return SafeString("".join(out))


def _num_td(v) -> str:
    # A float as ``number`` writes it (the common case, inline), anything else by it.
    if type(v) is float and -1e15 < v < 1e15:
        return f'<td class="num">{v:,.2f}</td>'
    return f'<td class="num">{_cell(v)}</td>'


def series_rows(context, points) -> SafeString:
    """``table_rows`` of a chart's points (``(time, value)``), one value a row: the common
    case of ``table_rows`` without its per-row unpacking and join (a 30-day board: 2,520 rows)."""
    labels = _utc_labels(context)
    out = []
    append = out.append
    for t, v in points:
        label = labels.get(t)
        if label is None:
            label = labels[t] = html.escape(utc(t))
        append(f"<tr><td>{label}</td>{_num_td(v)}</tr>")
    return SafeString("".join(out))


@register.simple_tag(takes_context=True)
def track_table_rows(context, rows) -> SafeString:
    """The position track's coordinates table body: ``(time, lat, lon)`` rows."""
    return table_rows(context, rows)


@register.inclusion_tag("includes/line_chart.html", takes_context=True)
def line_chart(context, chart, window) -> dict:
    """A dashboard chart (``influx.Dashboard.charts``) over its window, with its data table."""
    xs = context.render_context.setdefault("iot_chart_xs", {})
    geometry = line_chart_geometry(chart.points, start=window.start, end=window.stop, xs=xs)
    rows = series_rows(context, chart.points)
    return {
        "field": chart.field,
        "unit": unit(chart.field),
        "chart": geometry,
        "data": chart,
        "rows": rows,
    }


def gauge_geometry(field: str, value) -> dict | None:
    """Semicircle gauge arcs for a numeric reading of a field with a known scale."""
    if field not in FIELD_SCALES or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    low, high, _ = FIELD_SCALES[field]
    fraction = gauge_fraction(value, low, high)
    if fraction is None:
        return None
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
