"""A device's alert panel (``templates/alerts/includes/device_panel.html``) for the live
dashboard: its markup for one viewer and a key of what it shows.

The markup is the viewer's (staff get Acknowledge forms with a CSRF token), so it is rendered
per request, never in the dashboard's shared render. ``key`` is a digest of the markup without
its per-request parts (the CSRF token, masked anew at every render, and the "(n minutes ago)"
texts): ``static/js/charts.js`` replaces the panel only when the key changes (an alert fired,
resolved or was acknowledged, a threshold rule changed, the database failed or recovered), so a
refresh does not replace an Acknowledge button under the viewer's pointer.
"""

from __future__ import annotations

import hashlib
import re

from django.http import HttpRequest
from django.template.loader import render_to_string

from .services import PageAlerts

TEMPLATE = "alerts/includes/device_panel.html"
# What differs between two renders of the same alerts: Django's masked CSRF token, and the
# times' "ago" texts (includes/time.html), which the page updates in place.
_PER_REQUEST = re.compile(
    r'(<input type="hidden" name="csrfmiddlewaretoken" value=")[^"]*(">)'
    r'|(<span class="ago">)[^<]*(</span>)'
)


def key_of(html: str) -> str:
    stable = _PER_REQUEST.sub(lambda m: "".join(g or "" for g in m.groups()), html)
    return hashlib.sha256(stable.encode()).hexdigest()[:20]


def device_panel(
    request: HttpRequest, device_id: str, page_alerts: PageAlerts, next_url: str
) -> dict:
    """``{"key", "html"}`` of the device's panel as ``request``'s user sees it; its Acknowledge
    forms come back to ``next_url`` (the dashboard page, not the data endpoint)."""
    ctx = {"device": {"device_id": device_id}, "page_alerts": page_alerts, "ack_next": next_url}
    html = render_to_string(TEMPLATE, ctx, request=request)
    return {"key": key_of(html), "html": html}
