"""Template helpers for a device's data actions: the CSV download links of the shown range."""

from __future__ import annotations

from urllib.parse import urlencode

from django import template
from django.urls import reverse

from devices import influx
from devices.data_views import max_rows

register = template.Library()


@register.simple_tag
def csv_url(device_id: str, window=None, range_key: str = "", mode: str = "windowed") -> str:
    """The download URL of the range a page shows: its preset, or its custom start/stop."""
    window = window if isinstance(window, influx.TimeWindow) else None  # "" when not given
    if window is not None and not window.live:
        params = {
            "start": window.start.isoformat(timespec="seconds"),
            "stop": window.stop.isoformat(timespec="seconds"),
        }
    else:
        key = window.range_key if window is not None else range_key
        params = {"range": key if key in influx.RANGES else influx.DEFAULT_RANGE}
    params["mode"] = mode
    return reverse("devices:telemetry-csv", args=[device_id]) + "?" + urlencode(params)


@register.simple_tag
def csv_row_cap() -> int:
    return max_rows()


@register.simple_tag
def write_now_max_days() -> int:
    return influx.WRITE_NOW_MAX_DAYS
