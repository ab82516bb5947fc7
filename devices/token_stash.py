"""The show-once token stash: new device credentials wait in the session for ONE display.

Registering or rotating stashes the credentials and redirects (POST-redirect-GET) to a token page;
the first token page that opens takes them out, so a reload, the back button or the other site's
token page finds nothing to show. Sessions live server-side (the database), and an entry not
picked up within ``TTL`` seconds is dropped, so a token never waits in the session table (and its
backups) until the session expires.
"""

from __future__ import annotations

import json
import time

from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers, patch_cache_control

from . import influx

# Session key: {device id: {"stashed", "title", "key", "token", "url", "org", "bucket"}}.
SESSION_KEY = "devices:pending-credentials"
TTL = 300


def _clock() -> float:
    return time.time()


def _pending(request: HttpRequest) -> dict:
    """The session's credentials waiting to be shown, without those older than the TTL."""
    pending = request.session.get(SESSION_KEY, {})
    fresh_after = _clock() - TTL
    fresh = {k: v for k, v in pending.items() if v.get("stashed", 0) >= fresh_after}
    if len(fresh) != len(pending):
        request.session[SESSION_KEY] = fresh
    return fresh


def stash(request: HttpRequest, creds: influx.DeviceCredentials, *, title: str) -> None:
    """Keep new credentials in the session for one display on a token page."""
    pending = _pending(request)
    pending[creds.device_id] = {
        "stashed": _clock(),
        "title": title,
        "key": creds.key,
        "token": creds.token,
        "url": creds.url,
        "org": creds.org,
        "bucket": creds.bucket,
    }
    request.session[SESSION_KEY] = pending


def take(request: HttpRequest, device_id: str) -> tuple[str, dict]:
    """Take the stashed credentials out of the session: ``(title, context)`` for a token page,
    with ``creds`` None once they were shown (here, or on the other token page)."""
    pending = _pending(request)
    entry = pending.pop(device_id, None)
    if entry is None:
        return "Token already shown", {"device_id": device_id, "creds": None}
    request.session[SESSION_KEY] = pending
    entry.pop("stashed")
    title = entry.pop("title")
    creds = influx.DeviceCredentials(device_id=device_id, **entry)
    config = creds.config()
    return title, {
        "device_id": device_id,
        "creds": creds,
        "config": config,
        "config_json": json.dumps(config, indent=2),
    }


def never_store(response: HttpResponse) -> HttpResponse:
    """A page with a token: no cache, no history copy."""
    add_never_cache_headers(response)
    patch_cache_control(response, no_store=True, private=True)
    return response
