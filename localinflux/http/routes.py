"""The routing table: which handler answers which method and path, and who must be signed in.

A path that matches no route is 404 ``path not found``; a known path with another method is 405.
Routes that need a token authenticate it here (``Authorization: Token <t>`` or ``Bearer <t>``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from localinflux.http.handlers import (
    authorizations,
    buckets,
    control,
    delete,
    health,
    orgs,
    query,
    setup,
    users,
    write,
)
from localinflux.http.wire import HttpError
from localinflux.registry import Authorization, Registry


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern
    handler: Callable
    auth: bool = True  # the request needs a valid token
    gzip: bool = False  # a 200 answer may be gzip-compressed if the client accepts it


def _route(method: str, path: str, handler: Callable, **flags) -> Route:
    pattern = re.compile("^" + path.replace("{id}", "(?P<id>[^/]+)") + "/?$")
    return Route(method, pattern, handler, **flags)


ROUTES: tuple[Route, ...] = (
    _route("GET", "/health", health.health, auth=False),
    _route("GET", "/ready", health.ready, auth=False),
    _route("GET", "/ping", health.ping, auth=False),
    _route("HEAD", "/ping", health.ping, auth=False),
    _route("GET", "/api/v2", health.root, auth=False),
    _route("GET", "/api/v2/setup", setup.setup_allowed, auth=False),
    _route("POST", "/api/v2/setup", setup.setup, auth=False),
    _route("POST", "/api/v2/write", write.write),
    _route("POST", "/api/v2/query", query.query, gzip=True),
    _route("POST", "/api/v2/delete", delete.delete),
    _route("GET", "/api/v2/orgs", orgs.orgs_list),
    _route("POST", "/api/v2/orgs", orgs.orgs_create),
    _route("GET", "/api/v2/orgs/{id}", orgs.orgs_get),
    _route("PATCH", "/api/v2/orgs/{id}", orgs.orgs_patch),
    _route("GET", "/api/v2/me", users.me),
    _route("GET", "/api/v2/users", users.users_list),
    _route("GET", "/api/v2/users/{id}", users.users_get),
    _route("GET", "/api/v2/buckets", buckets.buckets_list),
    _route("POST", "/api/v2/buckets", buckets.buckets_create),
    _route("GET", "/api/v2/buckets/{id}", buckets.buckets_get),
    _route("PATCH", "/api/v2/buckets/{id}", buckets.buckets_patch),
    _route("DELETE", "/api/v2/buckets/{id}", buckets.buckets_delete),
    _route("GET", "/api/v2/authorizations", authorizations.auths_list),
    _route("POST", "/api/v2/authorizations", authorizations.auths_create),
    _route("GET", "/api/v2/authorizations/{id}", authorizations.auths_get),
    _route("PATCH", "/api/v2/authorizations/{id}", authorizations.auths_patch),
    _route("DELETE", "/api/v2/authorizations/{id}", authorizations.auths_delete),
    _route("POST", "/api/v2/localinflux/faults", control.control_faults),
    _route("GET", "/api/v2/localinflux/stats", control.control_stats),
    _route("POST", "/api/v2/localinflux/stats/reset", control.control_stats_reset),
)


def route(method: str, path: str) -> tuple[Route, dict[str, str]]:
    """The route for a request and its path parameters, or 404/405."""
    path_matched = False
    for r in ROUTES:
        match = r.pattern.match(path)
        if match is None:
            continue
        path_matched = True
        if r.method == method:
            return r, match.groupdict()
    if path_matched:
        raise HttpError("method not allowed", "method not allowed")
    raise HttpError("not found", "path not found")


def authenticate(reg: Registry, headers) -> Authorization:
    value = headers.get("Authorization") or ""
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() not in ("token", "bearer") or not token.strip():
        raise HttpError("unauthorized", "unauthorized access")
    auth = reg.auth_for_token(token.strip())
    if auth is None:
        raise HttpError("unauthorized", "unauthorized access")
    return auth
