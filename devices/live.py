"""What the live pages show, shaped for templates and for ``static/js/charts.js``.

``board_json`` is the dashboard's data as JSON (the data block of the page and the refresh
endpoint): times in epoch seconds, values as numbers or ``null`` (a missing window, or a
value JSON cannot carry: NaN, ±inf).

``shared_render``: a preset range of one device is read and shaped at most once
per ``SHARED_SECONDS`` per process (Django's cache, one lock per key so that viewers arriving
together wait for one read instead of each making it); with a shared cache backend, once for
all workers. The data holds nothing of the viewer (no user, no CSRF token): pages add those.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.urls import reverse

from . import influx
from .charts import finite, track_geometry
from .templatetags.iot import freshness_of, gauge_geometry, number, unit

# How often live pages ask for new data, and when a device counts as online.
REFRESH_SECONDS = 5
POSITION_FIELDS = ("Lat", "Lon")
# How long a live dashboard's data is shared by its viewers: one refresh interval.
SHARED_SECONDS = REFRESH_SECONDS
_LOCKS = [threading.Lock() for _ in range(64)]


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
                # The gauge's value arc (SVG path, "" at the scale's low end), as the page draws it.
                "arc": (gauge_geometry(r.field, r.value) or {}).get("value"),
            }
            for r in board.readings
        ],
        "last_seen": board.device.last_seen.isoformat() if board.device.last_seen else None,
        "non_numeric": board.non_numeric,
        "error": board.error,
    }


def page_context(
    board, thresholds: dict[str, list[float]] | None = None, data: dict | None = None
) -> dict:
    """``data``: ``board_json(board)`` when already made (``SharedRender.data``), not redone."""
    window = board.window
    charts = [c for c in board.charts if c.field not in POSITION_FIELDS]
    has_track = {"Lat", "Lon"} <= {c.field for c in board.charts}
    if not has_track:
        charts = board.charts
    track_rows = positions(board) if has_track else []
    data_url = reverse("devices:dashboard-data", args=[board.device.device_id])
    if data is None:
        data = board_json(board, thresholds)
    else:
        data = {**data, "thresholds": thresholds or {}}
    return {
        "charts": charts,
        "track": track_geometry(track_rows) if has_track else None,
        "track_rows": track_rows,
        "ranges": list(influx.RANGES),
        "range_key": window.range_key,
        "board_json": data,
        "data_url": data_url,
        "refresh_seconds": REFRESH_SECONDS,
    }


@dataclass(frozen=True)
class SharedRender:
    board: object  # influx.Dashboard
    data: dict  # board_json(board), without the viewer's or the alert rules' additions


def _shared_key(device_id: str, range_key: str) -> str:
    where = (settings.INFLUX_URL, settings.INFLUX_ORG, settings.INFLUX_BUCKET)
    digest = hashlib.sha256(repr((*where, device_id, range_key)).encode()).hexdigest()
    return f"iotcenter:dashboard:{digest}"


def forget(device_id: str) -> None:
    """Drop a device's shared dashboards (every preset), after this app changed its data: the
    page the operator is sent back to must show the change, not the last interval's read."""
    cache.delete_many([_shared_key(device_id, key) for key in influx.RANGES])


def _render(board) -> SharedRender:
    return SharedRender(board, board_json(board))


def shared_render(device_id: str, window) -> SharedRender:
    """The dashboard and its JSON; a preset range's is shared by every viewer for
    ``SHARED_SECONDS`` (see the module's docstring). Custom ranges and boards whose charts
    failed are not shared. Raises what ``influx.dashboard`` raises."""
    if not window.live or SHARED_SECONDS <= 0:
        return _render(influx.dashboard(device_id, window))
    key = _shared_key(device_id, window.range_key)
    found = cache.get(key)
    if found is not None:
        return found
    with _LOCKS[int(key[-8:], 16) % len(_LOCKS)]:
        found = cache.get(key)  # computed meanwhile by the viewer holding the lock
        if found is not None:
            return found
        shared = _render(influx.dashboard(device_id, window))
        if not shared.board.error:
            cache.set(key, shared, SHARED_SECONDS)
        return shared
