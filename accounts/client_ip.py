"""Which address a request comes from, for login and password reset throttling."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _address(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """REMOTE_ADDR, unless ``TRUSTED_PROXY_COUNT`` proxies stand in front of the app.

    X-Forwarded-For is written by whoever sends the request, so only its last
    ``TRUSTED_PROXY_COUNT`` entries (appended by our own proxies) are believed: the address the
    outermost trusted proxy saw is ``entries[-count]``. Without a count the header is ignored, so
    a client cannot pick a fresh address for every guess. Only real IP addresses are returned
    (the throttling tables store them as such); None when the connection has none (a socket).
    """
    remote = _address(request.META.get("REMOTE_ADDR") or "")
    count = settings.TRUSTED_PROXY_COUNT
    if count <= 0:
        return remote
    entries = [e for e in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if e.strip()]
    if len(entries) < count:
        # Fewer hops than proxies: the request did not come through all of them, so every
        # entry may be the client's own invention.
        return remote
    return _address(entries[-count]) or remote
