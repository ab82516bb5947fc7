"""The show-once token stash: new device credentials wait for ONE display, at most ``TTL``.

Registering or rotating stashes the credentials and redirects (POST-redirect-GET) to a token page;
the first token page that opens takes them out, so a reload, the back button or the other site's
token page finds nothing to show.

The credentials never enter the session: they wait in their own table
(``devices.stash.models.PendingCredentials``) under a random id, and the session keeps only that
id. ``sweep`` deletes every row past its ``TTL``; the ``TokenStashSweepMiddleware`` runs it on any
request of any client (load balancers' ``/healthz`` probes included), so a token nobody picked
up leaves the database within ``TTL`` seconds (plus the time to the next request) whatever its
session does next: the table is shared by every worker and host, sessions are not searched.
"""

from __future__ import annotations

import json
import secrets
import time
from datetime import UTC, datetime, timedelta

from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers, patch_cache_control

from . import influx
from .ids import validate_device_id
from .stash.models import PendingCredentials

# Session key: {device id: stash id of its PendingCredentials row}.
SESSION_KEY = "devices:pending-credentials"
TTL = 300


def _clock() -> float:
    return time.time()


def _now() -> datetime:
    return datetime.fromtimestamp(_clock(), UTC)


def sweep() -> int:
    """Delete the credentials nobody picked up within ``TTL``; how many were deleted.

    A read first, so the common case (nothing expired) takes no write lock.
    """
    expired = PendingCredentials.objects.filter(expires_at__lte=_now())
    if not expired.exists():
        return 0
    count, _ = expired.delete()
    return count


def stash(request: HttpRequest, creds: influx.DeviceCredentials, *, title: str) -> None:
    """Keep new credentials for one display on a token page of this session."""
    sweep()
    pending = dict(request.session.get(SESSION_KEY, {}))
    if creds.device_id in pending:  # an older, unshown token of the same device: superseded
        PendingCredentials.objects.filter(stash_id=pending[creds.device_id]).delete()
    row = PendingCredentials.objects.create(
        stash_id=secrets.token_urlsafe(32),
        device_id=creds.device_id,
        title=title,
        key=creds.key,
        token=creds.token,
        url=creds.url,
        org=creds.org,
        bucket=creds.bucket,
        expires_at=_now() + timedelta(seconds=TTL),
    )
    pending[creds.device_id] = row.stash_id
    request.session[SESSION_KEY] = pending


def _take_row(request: HttpRequest, device_id: str) -> PendingCredentials | None:
    pending = dict(request.session.get(SESSION_KEY, {}))
    stash_id = pending.pop(device_id, None)
    if stash_id is None:
        return None
    request.session[SESSION_KEY] = pending
    row = PendingCredentials.objects.filter(
        stash_id=stash_id, device_id=device_id, expires_at__gt=_now()
    ).first()
    # Deleted whether fresh or not; only the request whose delete removed it shows it (two
    # token pages opened at once show it once).
    deleted, _ = PendingCredentials.objects.filter(stash_id=stash_id).delete()
    return row if deleted else None


def check_id(device_id: str) -> None:
    """An id that cannot be a device's answers 404, as on every other device URL."""
    try:
        validate_device_id(device_id)
    except ValueError as exc:
        raise influx.InvalidDeviceId(str(exc)) from None


def head(device_id: str) -> HttpResponse:
    """HEAD of a token page: the status only. It must not use up the one display (link
    prefetchers and monitors send HEAD), so nothing is taken."""
    check_id(device_id)
    return never_store(HttpResponse())


def take(request: HttpRequest, device_id: str) -> tuple[str, dict]:
    """Take the stashed credentials out: ``(title, context)`` for a token page, with ``creds``
    None once they were shown (here, or on the other token page) or left too long.

    An id that cannot be a device's answers 404 (``check_id``).
    """
    check_id(device_id)
    row = _take_row(request, device_id)
    if row is None:
        return "Token already shown", {"device_id": device_id, "creds": None}
    creds = influx.DeviceCredentials(
        device_id=device_id,
        key=row.key,
        token=row.token,
        url=row.url,
        org=row.org,
        bucket=row.bucket,
    )
    config = creds.config()
    return row.title, {
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
