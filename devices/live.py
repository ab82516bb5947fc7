"""What the live pages show, shaped for templates and for ``static/js/charts.js``.

``board_json`` is the dashboard's data as JSON (the data block of the page and the refresh
endpoint): times in epoch seconds, values as numbers or ``null`` (a missing window, or a
value JSON cannot carry: NaN, ±inf).
"""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from . import influx
from .charts import finite, track_geometry
from .templatetags.iot import freshness_of, number, unit

# How often live pages ask for new data, and when a device counts as online.
REFRESH_SECONDS = 5
POSITION_FIELDS = ("Lat", "Lon")


def online_minutes() -> int:
    value = getattr(settings, "FLEET_ONLINE_MINUTES", 5)
    try:
        return max(1, int(value))
    except (TypeError, ValueError):
        return 5


def _chart_json(chart) -> dict:
    return {
        "field": chart.field,
        "unit": unit(chart.field),
        "t": [int(p.time.timestamp()) for p in chart.points],
        "v": [finite(p.value) for p in chart.points],
        "min": finite(chart.min),
        "max": finite(chart.max),
        "mean": finite(chart.mean),
        "count": chart.count,
    }


def positions(board) -> list[tuple]:
    """(time, lat, lon) of the windows that have both, oldest first."""
    by_field = {c.field: {p.time: p.value for p in c.points} for c in board.charts}
    lat, lon = by_field.get("Lat", {}), by_field.get("Lon", {})
    return [(t, lat[t], lon[t]) for t in sorted(lat.keys() & lon.keys())]


def board_json(board, thresholds: dict[str, list[float]] | None = None) -> dict:
    """``thresholds``: field -> values of the alert rules' threshold lines on its chart."""
    window = board.window
    return {
        "device": board.device.device_id,
        "start": int(window.start.timestamp()),
        "stop": int(window.stop.timestamp()),
        "every": window.every,
        "live": window.live,
        "refresh": REFRESH_SECONDS,
        "charts": [_chart_json(c) for c in board.charts],
        "thresholds": thresholds or {},
        "readings": [
            {
                "field": r.field,
                "value": number(r.value),
                "unit": unit(r.field),
                "freshness": freshness_of(r.time)[0],
                "freshness_class": freshness_of(r.time)[1],
                "time": r.time.isoformat(),
            }
            for r in board.readings
        ],
        "last_seen": board.device.last_seen.isoformat() if board.device.last_seen else None,
        "non_numeric": board.non_numeric,
        "error": board.error,
    }


def page_context(board, thresholds: dict[str, list[float]] | None = None) -> dict:
    window = board.window
    charts = [c for c in board.charts if c.field not in POSITION_FIELDS]
    has_track = {"Lat", "Lon"} <= {c.field for c in board.charts}
    if not has_track:
        charts = board.charts
    data_url = reverse("devices:dashboard-data", args=[board.device.device_id])
    return {
        "charts": charts,
        "track": track_geometry(positions(board)) if has_track else None,
        "track_rows": positions(board) if has_track else [],
        "ranges": list(influx.RANGES),
        "range_key": window.range_key,
        "board_json": board_json(board, thresholds),
        "data_url": data_url,
        "refresh_seconds": REFRESH_SECONDS,
    }
