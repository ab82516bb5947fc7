"""Who may call the JSON API: a session (CSRF checked on changes) or an API key.

An API key comes as ``Authorization: Bearer <key>`` or as a path segment,
``/api/k/<key>/...``: the form iot-api-ui's server-side rewrite forwards when its ``API_URL``
is ``<IoT Center>/api/k/<key>`` (``PathKeyMiddleware``). A request that carries a key is judged
by the key alone: no CSRF check (no browser sends it by itself), no fallback to a session.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest
from ninja.errors import HttpError
from ninja.security import HttpBearer, SessionAuth

from . import keys

_PATH_KEY_RE = re.compile(r"^/api/k/(?P<key>[^/]+)(?P<rest>/.*)?$")


@dataclass(frozen=True)
class Caller:
    user: AbstractBaseUser
    read_only: bool  # a read-only key: never changes anything, whoever owns it

    @property
    def may_change(self) -> bool:
        return self.user.is_staff and not self.read_only


class KeyAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Caller | None:
        key = keys.authenticate(token)
        if key is None:
            return None
        return Caller(user=key.owner, read_only=key.read_only)


class SessionCsrfAuth(SessionAuth):
    """The browser session, CSRF checked on unsafe methods; not tried when a key was sent."""

    def __call__(self, request: HttpRequest) -> Caller | None:
        if "Authorization" in request.headers:
            return None
        return super().__call__(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> Caller | None:
        if request.user.is_authenticated:
            return Caller(user=request.user, read_only=False)
        return None


AUTH = [KeyAuth(), SessionCsrfAuth()]


def require_change_rights(request: HttpRequest) -> None:
    caller: Caller = request.auth
    if caller.read_only:
        raise HttpError(403, "This API key is read-only.")
    if not caller.user.is_staff:
        raise HttpError(403, "Only staff may change devices.")


class PathKeyMiddleware:
    """``/api/k/<key>/<rest>`` is ``/api/<rest>`` with ``Authorization: Bearer <key>``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        match = _PATH_KEY_RE.match(request.path_info)
        if match:
            rest = match["rest"] or "/"
            request.path_info = "/api" + rest
            request.path = request.path_info
            request.META["PATH_INFO"] = request.path_info
            request.META["HTTP_AUTHORIZATION"] = f"Bearer {match['key']}"
            request.__dict__.pop("headers", None)  # re-read from META
        return self.get_response(request)
