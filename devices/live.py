"""What the live pages show, shaped for templates and for ``static/js/charts.js``.

``board_json`` is the dashboard's data as JSON (the data block of the page and the refresh
endpoint): times in epoch seconds, values as numbers or ``null`` (a missing window, or a
value JSON cannot carry: NaN, ±inf).

``shared_render``: a preset range of one device is read and shaped at most once
per ``SHARED_SECONDS`` per process (Django's cache, one lock per key so that viewers arriving
together wait for one read instead of each making it); with a shared cache backend, once for
all workers. Shaped means the JSON (as text) and the live board's markup (gauges, track, charts
and their data tables: most of a page's rendering), so that a viewer's page or refresh only adds
its own parts. The data holds nothing of the viewer (no user, no CSRF token): pages add those.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import secrets
import threading
from math import isfinite

from django.conf import settings
from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

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


def _chart_json(chart, stamps: dict) -> dict:
    """``stamps``: epoch seconds by time, shared by the charts of a board (one time per
    window for all of them)."""
    times = []
    for p in chart.points:
        stamp = stamps.get(p.time)
        if stamp is None:
            stamp = stamps[p.time] = int(p.time.timestamp())
        times.append(stamp)
    return {
        "field": chart.field,
        "unit": unit(chart.field),
        "t": times,
        # finite(), its common case (a finite float) inline.
        "v": [v if type(v) is float and isfinite(v) else finite(v) for _, v in chart.points],
        "min": finite(chart.min),
        "max": finite(chart.max),
        "mean": finite(chart.mean),
        "count": chart.count,
    }


def positions(board) -> list[tuple]:
    """(time, lat, lon) of the windows that have both, oldest first."""
    by_field = {
        c.field: {p.time: p.value for p in c.points}
        for c in board.charts
        if c.field in POSITION_FIELDS
    }
    lat, lon = by_field.get("Lat", {}), by_field.get("Lon", {})
    return [(t, lat[t], lon[t]) for t in sorted(lat.keys() & lon.keys())]


def board_json(board, thresholds: dict[str, list[float]] | None = None) -> dict:
    """``thresholds``: field -> values of the alert rules' threshold lines on its chart."""
    window = board.window
    stamps: dict = {}
    return {
        "device": board.device.device_id,
        "start": int(window.start.timestamp()),
        "stop": int(window.stop.timestamp()),
        "every": window.every,
        "live": window.live,
        "refresh": REFRESH_SECONDS,
        "charts": [_chart_json(c, stamps) for c in board.charts],
        "thresholds": thresholds or {},
        "readings": [
            {
                "field": r.field,
                "value": number(r.value),
                "unit": unit(r.field),
                # Label and class from one reading of the clock: two could straddle a threshold
                # ("<5 min" shown as aging).
                "freshness": label,
                "freshness_class": css,
                "time": r.time.isoformat(),
                # The gauge's value arc (SVG path, "" at the scale's low end), as the page draws it.
                "arc": (gauge_geometry(r.field, r.value) or {}).get("value"),
            }
            for r in board.readings
            for label, css in [freshness_of(r.time)]
        ],
        "last_seen": board.device.last_seen.isoformat() if board.device.last_seen else None,
        "non_numeric": board.non_numeric,
        "error": board.error,
    }


def _has_track(board) -> bool:
    return set(POSITION_FIELDS) <= {c.field for c in board.charts}


def _charts(board) -> list:
    """The line charts: every chart but Lat and Lon when they are drawn as the track."""
    if not _has_track(board):
        return board.charts
    return [c for c in board.charts if c.field not in POSITION_FIELDS]


def board_context(board) -> dict:
    """The live board's template context (``includes/live_board.html``): nothing of the viewer
    or of the alert rules."""
    window = board.window
    has_track = _has_track(board)
    track_rows = positions(board) if has_track else []
    return {
        "board": board,
        "device": board.device,
        "charts": _charts(board),
        "track": track_geometry(track_rows) if has_track else None,
        "track_rows": track_rows,
        "range_key": window.range_key,
        "data_url": reverse("devices:dashboard-data", args=[board.device.device_id]),
        "refresh_seconds": REFRESH_SECONDS,
        "iot_labels": {},  # time labels shared by the charts' and the track's tables
    }


# What json_script escapes so that the JSON cannot end its <script> element.
_SCRIPT_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}


class SharedRender:
    """A dashboard read and shaped once: ``board`` (``influx.Dashboard``), ``data``
    (``board_json(board)``, no threshold lines) and ``data_json`` (the same as JSON text,
    without the ``thresholds`` key). The live board's markup is made the first time a page
    asks (``board_html``), not for a refresh, which needs only the JSON; it is then shared
    under ``key`` (None: not shared) and ``token`` (this read's).

    Pickled (Django's cache) with the board as bytes of its own: a refresh, which needs only the
    JSON, does not rebuild the board's objects (a 1-day board: ~2,000 points)."""

    def __init__(self, board, data: dict, data_json: str, key=None, token=None, board_bytes=None):
        self._board, self._board_bytes = board, board_bytes
        self.data, self.data_json = data, data_json
        self.key, self.token = key, token or secrets.token_hex(8)

    @property
    def board(self):
        if self._board is None:
            self._board = pickle.loads(self._board_bytes)  # noqa: S301 -- our own cache's bytes
        return self._board

    def __reduce__(self):
        board_bytes = self._board_bytes
        if board_bytes is None:
            board_bytes = pickle.dumps(self._board, pickle.HIGHEST_PROTOCOL)
        args = (None, self.data, self.data_json, self.key, self.token, board_bytes)
        return SharedRender, args

    def json(self, thresholds: dict[str, list[float]] | None, extra: dict | None = None) -> str:
        """The dashboard's JSON with the alert rules' threshold lines and the viewer's ``extra``
        keys (the alerts panel), without encoding the shared part again."""
        more = {"thresholds": thresholds or {}, **(extra or {})}
        return f"{self.data_json[:-1]}, {json.dumps(more, cls=DjangoJSONEncoder)[1:]}"


def _board_markup(board) -> SafeString:
    return SafeString(render_to_string("includes/live_board.html", board_context(board)))


def board_html(shared: SharedRender) -> SafeString:
    """The live board's markup (gauges, track, charts and their data tables): made once per
    shared read for all the pages that show it."""
    if shared.key is None:
        return _board_markup(shared.board)
    key = f"{shared.key}:html:{shared.token}"
    found = cache.get(key)
    if found is not None:
        return SafeString(found)
    with _lock(key):
        found = cache.get(key)  # made meanwhile by the viewer holding the lock
        if found is None:
            found = _board_markup(shared.board)
            cache.set(key, str(found), SHARED_SECONDS)
    return SafeString(found)


def page_context(
    shared: SharedRender, thresholds: dict[str, list[float]] | None = None, extra=None
) -> dict:
    """What the dashboard page adds around the shared live board: the range picker's choices,
    the data block with the threshold lines and the viewer's ``extra`` keys."""
    board = shared.board
    script = shared.json(thresholds, extra).translate(_SCRIPT_ESCAPES)
    return {
        "charts": _charts(board),
        "ranges": list(influx.RANGES),
        "range_key": board.window.range_key,
        "board_json": {**shared.data, "thresholds": thresholds or {}, **(extra or {})},
        "board_json_script": format_html(
            '<script id="board-data" type="application/json">{}</script>', SafeString(script)
        ),
        "live_board": board_html(shared),
        "refresh_seconds": REFRESH_SECONDS,
    }


def _shared_key(device_id: str, range_key: str) -> str:
    where = (settings.INFLUX_URL, settings.INFLUX_ORG, settings.INFLUX_BUCKET)
    digest = hashlib.sha256(repr((*where, device_id, range_key)).encode()).hexdigest()
    return f"iotcenter:dashboard:{digest}"


def forget(device_id: str) -> None:
    """Drop a device's shared dashboards (every preset), after this app changed its data: the
    page the operator is sent back to must show the change, not the last interval's read."""
    cache.delete_many([_shared_key(device_id, key) for key in influx.RANGES])


def _lock(key: str) -> threading.Lock:
    return _LOCKS[int(hashlib.sha256(key.encode()).hexdigest()[-8:], 16) % len(_LOCKS)]


def _render(board, key: str | None = None) -> SharedRender:
    data = board_json(board)
    shared = {k: v for k, v in data.items() if k != "thresholds"}
    return SharedRender(board, data, json.dumps(shared, cls=DjangoJSONEncoder), key)


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
    with _lock(key):
        found = cache.get(key)  # computed meanwhile by the viewer holding the lock
        if found is not None:
            return found
        shared = _render(influx.dashboard(device_id, window), key)
        if shared.board.error:
            shared.key = None  # not shared: nor is its markup
        else:
            cache.set(key, shared, SHARED_SECONDS)
        return shared
