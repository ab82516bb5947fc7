"""HTTP layer: InfluxDB 2.7's routes, status codes, error bodies and headers.

Built on ``http.server.ThreadingHTTPServer`` with HTTP/1.1 keep-alive. Handlers take a ``Request``
and return a ``Response`` or raise ``HttpError``; the dispatcher adds the headers every InfluxDB
response carries, applies injected faults and records counters.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import re
import socket
import sys
import threading
import time
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlsplit

from localinflux.auth import (
    ACTIONS,
    RESOURCE_TYPES,
    Authorization,
    Bucket,
    Org,
    Permission,
    User,
    is_id,
    rfc3339,
    shard_group_seconds,
)
from localinflux.delete import PredicateError, compile_predicate
from localinflux.engine import Engine
from localinflux.faults import FAULT_MESSAGES, RequestRecord
from localinflux.lineprotocol import PRECISION_NS
from localinflux.model import QueryContext

VERSION = "v2.7.11"
COMMIT = "8b3a1a7ad6"
JSON_TYPE = "application/json; charset=utf-8"
BASE_HEADERS = (("X-Influxdb-Build", "OSS"), ("X-Influxdb-Version", VERSION))

CODE_STATUS = {
    "invalid": 400,
    "empty value": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not found": 404,
    "method not allowed": 405,
    "request too large": 413,
    "conflict": 422,
    "unprocessable entity": 422,
    "too many requests": 429,
    "internal error": 500,
    "not implemented": 501,
    "unavailable": 503,
}

MIN_NS = -9223372036854775806
MAX_NS = 9223372036854775806


class HttpError(Exception):
    def __init__(self, code: str, message: str, *, indent: bool = False, status: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or CODE_STATUS[code]
        self.indent = indent


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = JSON_TYPE
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Request:
    method: str
    path: str
    query: str
    params: dict[str, str]
    headers: object
    body: bytes
    auth: Authorization | None = None
    record: RequestRecord | None = None


def go_json(obj, indent: bool) -> bytes:
    """JSON as Go's encoder writes it: ``<``, ``>``, ``&`` escaped; tabs when indented."""
    text = json.dumps(
        obj, indent="\t" if indent else None, separators=None if indent else (",", ":")
    )
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return (text + "\n").encode()


def json_response(status: int, obj, *, indent: bool = True) -> Response:
    return Response(status, go_json(obj, indent))


def error_body(code: str, message: str, indent: bool = False) -> bytes:
    return go_json({"code": code, "message": message}, indent)


# ------------------------------------------------------------------------------------------------
# Time parsing for delete bounds.

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_rfc3339_ns(text: str) -> int:
    m = _RFC3339.fullmatch(text or "")
    if m is None:
        raise ValueError(text)
    y, mo, d, h, mi, s, frac, tz = m.groups()
    dt = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), tzinfo=UTC)
    secs = (dt - _EPOCH).days * 86400 + (dt - _EPOCH).seconds
    if tz not in ("Z", "z"):
        sign = 1 if tz[0] == "+" else -1
        secs -= sign * (int(tz[1:3]) * 3600 + int(tz[4:6]) * 60)
    ns = secs * 1_000_000_000 + (int(frac.ljust(9, "0")) if frac else 0)
    if not MIN_NS <= ns <= MAX_NS:
        raise ValueError(text)
    return ns


def format_duration(seconds: float) -> str:
    """Go's ``time.Duration.String()`` for the ``up`` field of /ready."""
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    out = ""
    if h:
        out += f"{int(h)}h"
    if h or m:
        out += f"{int(m)}m"
    return out + f"{s:.9f}".rstrip("0").rstrip(".") + "s"


# ------------------------------------------------------------------------------------------------


class Api:
    """The route handlers over one ``Engine``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.reg = engine.registry
        self._setup_lock = threading.Lock()
        e = self
        # (method, pattern, handler, needs auth)
        self.routes: list[tuple[str, re.Pattern, object, bool]] = [
            ("GET", "/health", e.health, False),
            ("GET", "/ready", e.ready, False),
            ("GET", "/ping", e.ping, False),
            ("HEAD", "/ping", e.ping, False),
            ("GET", "/api/v2", e.root, False),
            ("GET", "/api/v2/setup", e.setup_allowed, False),
            ("POST", "/api/v2/setup", e.setup, False),
            ("POST", "/api/v2/write", e.write, True),
            ("POST", "/api/v2/query", e.query, True),
            ("POST", "/api/v2/delete", e.delete, True),
            ("GET", "/api/v2/orgs", e.orgs_list, True),
            ("POST", "/api/v2/orgs", e.orgs_create, True),
            ("GET", "/api/v2/orgs/{id}", e.orgs_get, True),
            ("GET", "/api/v2/me", e.me, True),
            ("GET", "/api/v2/users", e.users_list, True),
            ("GET", "/api/v2/users/{id}", e.users_get, True),
            ("GET", "/api/v2/buckets", e.buckets_list, True),
            ("POST", "/api/v2/buckets", e.buckets_create, True),
            ("GET", "/api/v2/buckets/{id}", e.buckets_get, True),
            ("PATCH", "/api/v2/buckets/{id}", e.buckets_patch, True),
            ("DELETE", "/api/v2/buckets/{id}", e.buckets_delete, True),
            ("GET", "/api/v2/authorizations", e.auths_list, True),
            ("POST", "/api/v2/authorizations", e.auths_create, True),
            ("GET", "/api/v2/authorizations/{id}", e.auths_get, True),
            ("PATCH", "/api/v2/authorizations/{id}", e.auths_patch, True),
            ("DELETE", "/api/v2/authorizations/{id}", e.auths_delete, True),
            ("POST", "/api/v2/localinflux/faults", e.control_faults, True),
            ("GET", "/api/v2/localinflux/stats", e.control_stats, True),
            ("POST", "/api/v2/localinflux/stats/reset", e.control_stats_reset, True),
        ]
        self.routes = [
            (m, re.compile("^" + p.replace("{id}", "(?P<id>[^/]+)") + "/?$"), h, a)
            for m, p, h, a in self.routes
        ]

    # -- routing ---------------------------------------------------------------------------------

    def route(self, method: str, path: str):
        """(handler, needs_auth, path params) or raise 404/405."""
        path_matched = False
        for m, pattern, handler, needs_auth in self.routes:
            match = pattern.match(path)
            if match is None:
                continue
            path_matched = True
            if m == method:
                return handler, needs_auth, match.groupdict()
        if path_matched:
            raise HttpError("method not allowed", "method not allowed")
        raise HttpError("not found", "path not found")

    def authenticate(self, headers) -> Authorization:
        value = headers.get("Authorization") or ""
        scheme, _, token = value.strip().partition(" ")
        if scheme.lower() not in ("token", "bearer") or not token.strip():
            raise HttpError("unauthorized", "unauthorized access")
        auth = self.reg.auth_for_token(token.strip())
        if auth is None:
            raise HttpError("unauthorized", "unauthorized access")
        return auth

    # -- JSON shapes -----------------------------------------------------------------------------

    def org_json(self, org: Org) -> dict:
        base = f"/api/v2/orgs/{org.id}"
        q = quote(org.name)
        return {
            "links": {
                "buckets": f"/api/v2/buckets?org={q}",
                "dashboards": f"/api/v2/dashboards?org={q}",
                "labels": f"{base}/labels",
                "logs": f"{base}/logs",
                "members": f"{base}/members",
                "owners": f"{base}/owners",
                "secrets": f"{base}/secrets",
                "self": base,
                "tasks": f"/api/v2/tasks?org={q}",
            },
            "id": org.id,
            "name": org.name,
            "description": org.description,
            "createdAt": rfc3339(org.created),
            "updatedAt": rfc3339(org.updated),
        }

    def bucket_json(self, b: Bucket) -> dict:
        base = f"/api/v2/buckets/{b.id}"
        out: dict = {
            "id": b.id,
            "orgID": b.org_id,
            "type": b.type,
            "name": b.name,
        }
        if b.description:
            out["description"] = b.description
        if b.rp:
            out["rp"] = b.rp
        out["retentionRules"] = [
            {
                "type": "expire",
                "everySeconds": b.every_seconds,
                "shardGroupDurationSeconds": b.shard_seconds,
            }
        ]
        out["createdAt"] = rfc3339(b.created)
        out["updatedAt"] = rfc3339(b.updated)
        out["links"] = {
            "labels": f"{base}/labels",
            "members": f"{base}/members",
            "org": f"/api/v2/orgs/{b.org_id}",
            "owners": f"{base}/owners",
            "self": base,
            "write": f"/api/v2/write?org={b.org_id}&bucket={b.id}",
        }
        out["labels"] = []
        return out

    def user_json(self, u: User) -> dict:
        return {
            "links": {"self": f"/api/v2/users/{u.id}"},
            "id": u.id,
            "name": u.name,
            "status": u.status,
        }

    def perm_json(self, p: Permission) -> dict:
        resource: dict = {"type": p.type}
        if p.id:
            resource["id"] = p.id
            name = self.reg.resource_name(p.type, p.id)
            if name is not None:
                resource["name"] = name
        if p.org_id:
            resource["orgID"] = p.org_id
            org = self.reg.orgs.get(p.org_id)
            if org is not None:
                resource["org"] = org.name
        return {"action": p.action, "resource": resource}

    def auth_json(self, a: Authorization) -> dict:
        org = self.reg.orgs.get(a.org_id)
        user = self.reg.users.get(a.user_id)
        return {
            "id": a.id,
            "token": a.token,
            "status": a.status,
            "description": a.description,
            "orgID": a.org_id,
            "org": org.name if org else "",
            "userID": a.user_id,
            "user": user.name if user else "",
            "permissions": [self.perm_json(p) for p in a.permissions],
            "links": {
                "self": f"/api/v2/authorizations/{a.id}",
                "user": f"/api/v2/users/{a.user_id}",
            },
            "createdAt": rfc3339(a.created),
            "updatedAt": rfc3339(a.updated),
        }

    # -- helpers ---------------------------------------------------------------------------------

    @staticmethod
    def body_json(req: Request, *, indent: bool = True) -> dict:
        try:
            data = json.loads(req.body or b"{}")
        except ValueError as exc:
            raise HttpError(
                "invalid", f"failed to decode request body: {exc}", indent=indent
            ) from exc
        if not isinstance(data, dict):
            raise HttpError("invalid", "failed to decode request body", indent=indent)
        return data

    @staticmethod
    def require(req: Request, perm: Permission) -> None:
        """The authorizer layer of the REST services: 401 ``<perm> is unauthorized``."""
        if not req.auth.allows(perm):
            raise HttpError("unauthorized", f"{perm} is unauthorized", indent=True)

    @staticmethod
    def check_id(value: str | None, *, indent: bool = True) -> str:
        if not is_id(value):
            raise HttpError("invalid", "id must have a length of 16 bytes", indent=indent)
        return value

    def can_read_bucket(self, auth: Authorization, b: Bucket) -> bool:
        return auth.allows(Permission("read", "buckets", b.id, b.org_id))

    def resolve_org_param(self, req: Request, *, prefix: str = "") -> Org:
        """The ``org``/``orgID`` parameters of write, query and delete (no permission check)."""
        org_id = req.params.get("orgID")
        name = req.params.get("org")
        if org_id:
            org = self.reg.orgs.get(org_id) if is_id(org_id) else None
            if org is None:
                raise HttpError("not found", prefix + "organization not found")
            return org
        if name:
            if is_id(name):
                # a 16-hex org is an ID only, with no fallback to a name
                org = self.reg.orgs.get(name)
                if org is None:
                    raise HttpError("not found", prefix + "organization not found")
                return org
            org = self.reg.org_by_name(name)
            if org is None:
                raise HttpError("not found", prefix + f'organization name "{name}" not found')
            return org
        raise HttpError("invalid", prefix + "Please provide either orgID or org")

    # -- health ----------------------------------------------------------------------------------

    def health(self, req: Request) -> Response:
        body = (
            '{"name":"influxdb", "message":"ready for queries and writes", "status":"pass", '
            f'"checks":[], "version": "{VERSION}", "commit": "{COMMIT}"}}\n'
        )
        return Response(200, body.encode())

    def ready(self, req: Request) -> Response:
        up = (time.time_ns() - self.engine.started_ns) / 1e9
        obj = {
            "status": "ready",
            "started": rfc3339(self.engine.started_ns),
            "up": format_duration(up),
        }
        return Response(200, (json.dumps(obj, indent=4) + "\n").encode())

    def ping(self, req: Request) -> Response:
        return Response(204)

    def root(self, req: Request) -> Response:
        links = {
            "authorizations": "/api/v2/authorizations",
            "buckets": "/api/v2/buckets",
            "delete": "/api/v2/delete",
            "me": "/api/v2/me",
            "orgs": "/api/v2/orgs",
            "query": {"self": "/api/v2/query"},
            "setup": "/api/v2/setup",
            "users": "/api/v2/users",
            "write": "/api/v2/write",
        }
        return json_response(200, links)

    # -- setup -----------------------------------------------------------------------------------

    def setup_allowed(self, req: Request) -> Response:
        return json_response(200, {"allowed": not self.reg.onboarded()})

    def setup(self, req: Request) -> Response:
        if self.reg.onboarded():
            raise HttpError("conflict", "onboarding has already been completed", indent=True)
        data = self.body_json(req)
        username = data.get("username") or ""
        org = data.get("org") or ""
        bucket = data.get("bucket") or ""
        missing = [
            n for n, v in (("username", username), ("org", org), ("bucket", bucket)) if not v
        ]
        if missing:
            raise HttpError(
                "unprocessable entity",
                f"onboarding failed: missing required fields [{','.join(missing)}]",
                indent=True,
            )
        password = data.get("password") or ""
        if password and not 8 <= len(password) <= 72:
            raise HttpError(
                "invalid", "passwords must be between 8 and 72 characters long", indent=True
            )
        seconds = data.get("retentionPeriodSeconds")
        if seconds is None and data.get("retentionPeriodHrs") is not None:
            seconds = int(data["retentionPeriodHrs"]) * 3600
        seconds = int(seconds or 0)
        self.check_retention(seconds)
        token = data.get("token") or None
        with self._setup_lock:  # two racing setups: only the first one onboards
            if self.reg.onboarded():
                raise HttpError("conflict", "onboarding has already been completed", indent=True)
            user, org_obj, bucket_obj, auth = self.engine.onboard(
                username=username, org=org, bucket=bucket, retention_seconds=seconds, token=token
            )
        return json_response(
            201,
            {
                "user": {
                    "links": {"self": f"/api/v2/users/{user.id}"},
                    "id": user.id,
                    "name": user.name,
                    "status": user.status,
                },
                "org": self.org_json(org_obj),
                "bucket": self.bucket_json(bucket_obj),
                "auth": self.auth_json(auth),
            },
        )

    @staticmethod
    def check_retention(seconds: int) -> None:
        if seconds < 0:
            raise HttpError(
                "unprocessable entity",
                "expiration seconds must be greater than or equal to zero",
                indent=True,
            )
        if 0 < seconds < 3600:
            raise HttpError(
                "internal error", "retention policy duration must be at least 1h0m0s", indent=True
            )

    # -- write -----------------------------------------------------------------------------------

    def write(self, req: Request) -> Response:
        precision = req.params.get("precision") or "ns"
        if precision not in PRECISION_NS:
            raise HttpError(
                "invalid", "invalid precision; valid precision units are ns, us, ms, and s"
            )
        bucket_param = req.params.get("bucket") or req.params.get("bucketID")
        if not bucket_param:
            raise HttpError("not found", "bucket not found")
        org = self.resolve_org_param(req)
        bucket = None
        if is_id(bucket_param):
            candidate = self.reg.buckets.get(bucket_param)
            if candidate is not None and candidate.org_id == org.id:
                bucket = candidate
        if bucket is None:
            bucket = self.reg.bucket_by_name(org.id, bucket_param)
        if bucket is None:
            raise HttpError("not found", f'bucket "{bucket_param}" not found')
        auth = req.auth
        if not auth.allows(Permission("write", "buckets", bucket.id, org.id)):
            message = "insufficient permissions for write"
            if auth.status != "active":
                message += ": token is inactive"
            raise HttpError("forbidden", message)
        now = time.time_ns()
        try:
            text = req.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise HttpError("invalid", f"unable to parse body: {exc}") from exc
        points, errors = self.engine.parse_lines(text, precision, now)
        if errors:
            raise HttpError("invalid", "\n".join(errors))
        if not points:
            return Response(204)
        dropped_retention = 0
        if bucket.every_seconds:
            horizon = now - bucket.every_seconds * 1_000_000_000
            kept = [p for p in points if p[2] >= horizon]
            dropped_retention = len(points) - len(kept)
            points = kept
        result = self.engine.commit_write(bucket.id, precision, now, req.body, points)
        if req.record is not None:
            req.record.points = result.stored
        if result.dropped or dropped_retention:
            summary = result.conflict or "points beyond retention policy"
            dropped = result.dropped + dropped_retention
            raise HttpError(
                "unprocessable entity",
                f"failure writing points to database: partial write: {summary} dropped={dropped}",
            )
        return Response(204)

    # -- query -----------------------------------------------------------------------------------

    def query(self, req: Request) -> Response:
        try:
            org = self.resolve_org_param(req, prefix="failed to decode request body: ")
        except HttpError as exc:
            raise HttpError("invalid", exc.message) from exc
        content_type = req.headers.get("Content-Type") or "application/json"
        if req.record is not None:
            req.record.flux = _flux_text(req.body, content_type)
        try:
            from localinflux.flux import handle_query
        except ImportError as exc:
            raise HttpError("not implemented", f"query engine not available: {exc}") from exc
        auth = req.auth
        reg = self.reg

        def resolve_bucket(name: str) -> str | None:
            b = reg.bucket_by_name(org.id, name)
            if b is None or not self.can_read_bucket(auth, b):
                return None
            return b.id

        def resolve_bucket_id(bucket_id: str) -> str | None:
            b = reg.buckets.get(bucket_id)
            if b is None or b.org_id != org.id or not self.can_read_bucket(auth, b):
                return None
            return b.id

        ctx = QueryContext(
            reader=self.engine.store,
            resolve_bucket=resolve_bucket,
            resolve_bucket_id=resolve_bucket_id,
            now_ns=time.time_ns(),
            org_id=org.id,
        )
        result = handle_query(req.body, content_type, ctx)
        if req.record is not None:
            req.record.rows = ctx.rows_returned
        headers = []
        if result.status >= 400 and result.error_code:
            headers.append(("X-Platform-Error-Code", result.error_code))
        elif result.status >= 400:
            code = _code_from_body(result.body)
            if code:
                headers.append(("X-Platform-Error-Code", code))
        if result.status == 200 and "return-no-content" in (req.headers.get("Prefer") or ""):
            return Response(204, headers=headers)
        return Response(result.status, result.body, result.content_type, headers)

    # -- delete ----------------------------------------------------------------------------------

    def delete(self, req: Request) -> Response:
        org = self.resolve_org_param(req)
        bucket_id = req.params.get("bucketID")
        name = req.params.get("bucket")
        if bucket_id:
            bucket = self.reg.buckets.get(bucket_id) if is_id(bucket_id) else None
            if bucket is None or bucket.org_id != org.id:
                raise HttpError("not found", "bucket not found")
        elif name:
            if is_id(name):
                # unlike write, a 16-hex bucket is an ID only
                bucket = self.reg.buckets.get(name)
                if bucket is None or bucket.org_id != org.id:
                    raise HttpError("not found", "bucket not found")
            else:
                bucket = self.reg.bucket_by_name(org.id, name)
                if bucket is None:
                    raise HttpError("not found", f'bucket "{name}" not found')
        else:
            raise HttpError("invalid", "Please provide either bucketID or bucket")
        try:
            data = json.loads(req.body or b"")
        except ValueError as exc:
            raise HttpError("invalid", "invalid request; error parsing request json") from exc
        if not isinstance(data, dict):
            raise HttpError("invalid", "invalid request; error parsing request json")
        bounds = {}
        for key in ("start", "stop"):
            try:
                bounds[key] = parse_rfc3339_ns(data.get(key) or "")
            except (ValueError, TypeError) as exc:
                raise HttpError(
                    "invalid",
                    f"invalid RFC3339Nano for field {key}, please format your time with "
                    "RFC3339Nano format, example: 2009-01-02T23:00:00Z",
                ) from exc
        predicate = data.get("predicate") or ""
        if not isinstance(predicate, str):
            raise HttpError("invalid", "invalid request; error parsing request json")
        try:
            compile_predicate(predicate)
        except PredicateError as exc:
            raise HttpError(exc.code, exc.message, status=exc.status) from exc
        if not req.auth.allows(Permission("write", "buckets", bucket.id, org.id)):
            message = "insufficient permissions to delete"
            if req.auth.status != "active":
                message += ": token is inactive"
            raise HttpError("forbidden", message)
        self.engine.commit_delete(bucket.id, bounds["start"], bounds["stop"], predicate)
        return Response(204)

    # -- orgs ------------------------------------------------------------------------------------

    def orgs_list(self, req: Request) -> Response:
        name = req.params.get("org")
        org_id = req.params.get("orgID")
        orgs = list(self.reg.orgs.values())
        if name:
            orgs = [o for o in orgs if o.name == name]
            if not orgs:
                raise HttpError("not found", f'organization name "{name}" not found', indent=True)
        if org_id:
            self.check_id(org_id)
            orgs = [o for o in orgs if o.id == org_id]
            if not orgs:
                raise HttpError("not found", "organization not found", indent=True)
        user_id = req.params.get("userID")
        if user_id:
            owned = {a.org_id for a in self.reg.auths.values() if a.user_id == user_id}
            orgs = [o for o in orgs if o.id in owned]
        orgs = [o for o in orgs if req.auth.allows(Permission("read", "orgs", o.id, o.id))]
        orgs.sort(key=lambda o: o.id)
        return json_response(
            200, {"links": {"self": "/api/v2/orgs"}, "orgs": [self.org_json(o) for o in orgs]}
        )

    def orgs_get(self, req: Request, id: str) -> Response:
        self.check_id(id)
        org = self.reg.orgs.get(id)
        if org is None:
            raise HttpError("not found", "organization not found", indent=True)
        self.require(req, Permission("read", "orgs", org.id, org.id))
        return json_response(200, self.org_json(org))

    def orgs_create(self, req: Request) -> Response:
        data = self.body_json(req)
        name = data.get("name") or ""
        if not name:
            raise HttpError("empty value", "org name is empty", indent=True)
        self.require(req, Permission("write", "orgs"))
        if self.reg.org_by_name(name) is not None:
            raise HttpError(
                "conflict", f"organization with name {name} already exists", indent=True
            )
        org = self.engine.create_org(name, data.get("description") or "")
        return json_response(201, self.org_json(org))

    # -- users -----------------------------------------------------------------------------------

    def me(self, req: Request) -> Response:
        user = self.reg.users.get(req.auth.user_id)
        if user is None:
            raise HttpError("not found", "user not found", indent=True)
        return json_response(200, self.user_json(user))

    def users_list(self, req: Request) -> Response:
        users = list(self.reg.users.values())
        if req.params.get("name"):
            users = [u for u in users if u.name == req.params["name"]]
        if req.params.get("id"):
            users = [u for u in users if u.id == req.params["id"]]
        users = [u for u in users if req.auth.allows(Permission("read", "users", u.id))]
        return json_response(
            200, {"links": {"self": "/api/v2/users"}, "users": [self.user_json(u) for u in users]}
        )

    def users_get(self, req: Request, id: str) -> Response:
        self.check_id(id)
        user = self.reg.users.get(id)
        if user is None:
            raise HttpError("not found", "user not found", indent=True)
        self.require(req, Permission("read", "users", user.id))
        return json_response(200, self.user_json(user))

    # -- buckets ---------------------------------------------------------------------------------

    def buckets_list(self, req: Request) -> Response:
        p = req.params
        try:
            limit = int(p.get("limit") or 20)
            offset = int(p.get("offset") or 0)
        except ValueError as exc:
            raise HttpError("invalid", "limit must be between 1 and 100", indent=True) from exc
        if not 1 <= limit <= 100:
            raise HttpError("invalid", "limit must be between 1 and 100", indent=True)
        buckets = list(self.reg.buckets.values())
        org = None
        if p.get("orgID"):
            self.check_id(p["orgID"])
            org = self.reg.orgs.get(p["orgID"])
            if org is None:
                raise HttpError("not found", "organization not found", indent=True)
        elif p.get("org"):
            org = self.reg.org_by_name(p["org"])
            if org is None:
                raise HttpError(
                    "not found", f'organization name "{p["org"]}" not found', indent=True
                )
        if org is not None:
            buckets = [b for b in buckets if b.org_id == org.id]
        if p.get("name"):
            buckets = [b for b in buckets if b.name == p["name"]]
            if not buckets and org is not None:
                raise HttpError("not found", f'bucket "{p["name"]}" not found', indent=True)
        if p.get("id"):
            buckets = [b for b in buckets if b.id == p["id"]]
        buckets = [b for b in buckets if self.can_read_bucket(req.auth, b)]
        buckets.sort(key=lambda b: b.id)
        if p.get("after"):
            buckets = [b for b in buckets if b.id > p["after"]]
        page = buckets[offset : offset + limit]
        filters = "".join(f"&{k}={quote(p[k])}" for k in ("name", "org", "orgID", "id") if p.get(k))
        links = {"self": f"/api/v2/buckets?descending=false{filters}&limit={limit}&offset={offset}"}
        if len(buckets) > offset + limit:
            links["next"] = (
                f"/api/v2/buckets?after={page[-1].id}&descending=false{filters}&limit={limit}"
            )
        if offset > 0:
            prev = max(0, offset - limit)
            links["prev"] = f"/api/v2/buckets?descending=false{filters}&limit={limit}&offset={prev}"
        return json_response(200, {"links": links, "buckets": [self.bucket_json(b) for b in page]})

    def _retention_from(self, rules) -> tuple[int, int]:
        if rules is None:
            return 0, 0
        if not isinstance(rules, list):
            raise HttpError("invalid", "invalid retention rules", indent=True)
        if len(rules) > 1:
            raise HttpError(
                "unprocessable entity", "expected no more than 1 retention rule", indent=True
            )
        if not rules:
            return 0, 0
        rule = rules[0] or {}
        every = int(rule.get("everySeconds") or 0)
        shard = int(rule.get("shardGroupDurationSeconds") or 0)
        if shard < 0:
            raise HttpError(
                "unprocessable entity",
                "shard-group duration seconds must be greater than or equal to zero",
                indent=True,
            )
        self.check_retention(every)
        return every, shard

    @staticmethod
    def _check_bucket_name(name: str) -> None:
        if not name:
            raise HttpError("invalid", "bucket name is empty", indent=True)
        if name.startswith("_"):
            raise HttpError(
                "invalid",
                f"bucket name {name} is invalid. Buckets may not start with underscore",
                indent=True,
            )
        if '"' in name:
            raise HttpError(
                "invalid",
                f"bucket name {name} is invalid. Bucket names may not include quotation marks",
                indent=True,
            )

    def buckets_create(self, req: Request) -> Response:
        data = self.body_json(req)
        org_id = data.get("orgID") or ""
        if not org_id:
            raise HttpError("invalid", "organization id must be provided", indent=True)
        self.check_id(org_id)
        name = data.get("name") or ""
        self.require(req, Permission("write", "buckets", None, org_id))
        if self.reg.orgs.get(org_id) is None:
            raise HttpError("not found", "organization not found", indent=True)
        self._check_bucket_name(name)
        every, shard = self._retention_from(data.get("retentionRules"))
        if self.reg.bucket_by_name(org_id, name) is not None:
            raise HttpError("conflict", f"bucket with name {name} already exists", indent=True)
        bucket = self.engine.create_bucket(
            org_id,
            name,
            every_seconds=every,
            shard_seconds=shard,
            description=data.get("description") or "",
            rp=data.get("rp") or "",
        )
        return json_response(201, self.bucket_json(bucket))

    def _find_bucket(self, req: Request, id: str, action: str) -> Bucket:
        self.check_id(id)
        bucket = self.reg.buckets.get(id)
        if bucket is None:
            raise HttpError("not found", "bucket not found", indent=True)
        self.require(req, Permission(action, "buckets", bucket.id, bucket.org_id))
        return bucket

    def buckets_get(self, req: Request, id: str) -> Response:
        return json_response(200, self.bucket_json(self._find_bucket(req, id, "read")))

    def buckets_patch(self, req: Request, id: str) -> Response:
        bucket = self._find_bucket(req, id, "write")
        data = self.body_json(req)
        changed = Bucket(**bucket.__dict__)
        if data.get("name") is not None and data["name"] != bucket.name:
            if bucket.type == "system":
                raise HttpError("invalid", "system buckets cannot be renamed", indent=True)
            self._check_bucket_name(data["name"])
            if self.reg.bucket_by_name(bucket.org_id, data["name"]) is not None:
                raise HttpError(
                    "conflict", f"bucket with name {data['name']} already exists", indent=True
                )
            changed.name = data["name"]
        if data.get("description") is not None:
            changed.description = data["description"]
        if data.get("retentionRules") is not None:
            every, shard = self._retention_from(data["retentionRules"])
            changed.every_seconds = every
            changed.shard_seconds = shard or shard_group_seconds(every)
        changed.updated = time.time_ns()
        self.engine.put_bucket(changed)
        return json_response(200, self.bucket_json(self.reg.buckets[bucket.id]))

    def buckets_delete(self, req: Request, id: str) -> Response:
        bucket = self._find_bucket(req, id, "write")
        if bucket.type == "system":
            raise HttpError("invalid", "system buckets cannot be deleted", indent=True)
        self.engine.delete_bucket(bucket.id)
        return Response(204)

    # -- authorizations --------------------------------------------------------------------------

    def auths_list(self, req: Request) -> Response:
        p = req.params
        auths = list(self.reg.auths.values())
        if p.get("userID"):
            auths = [a for a in auths if a.user_id == p["userID"]]
        if p.get("user"):
            user = self.reg.user_by_name(p["user"])
            if user is None:
                raise HttpError("not found", "user not found", indent=True)
            auths = [a for a in auths if a.user_id == user.id]
        if p.get("orgID"):
            auths = [a for a in auths if a.org_id == p["orgID"]]
        if p.get("org"):
            org = self.reg.org_by_name(p["org"])
            if org is None:
                raise HttpError(
                    "not found", f'organization name "{p["org"]}" not found', indent=True
                )
            auths = [a for a in auths if a.org_id == org.id]
        if p.get("id"):
            auths = [a for a in auths if a.id == p["id"]]
        auths = [
            a
            for a in auths
            if req.auth.allows(Permission("read", "authorizations", a.id, a.org_id))
        ]
        auths.sort(key=lambda a: a.created)
        return json_response(
            200,
            {
                "links": {"self": "/api/v2/authorizations"},
                "authorizations": [self.auth_json(a) for a in auths],
            },
        )

    def _parse_permissions(self, raw, org_id: str) -> list[Permission]:
        if not isinstance(raw, list) or not raw:
            raise HttpError("invalid", "authorization must include permissions", indent=True)
        perms = []
        for item in raw:
            if not isinstance(item, dict) or not isinstance(item.get("resource"), dict):
                raise HttpError("invalid", "invalid permission", indent=True)
            action = item.get("action")
            res = item["resource"]
            rtype = res.get("type")
            if action not in ACTIONS:
                raise HttpError("invalid", f"unknown action {action!r}", indent=True)
            if rtype not in RESOURCE_TYPES or rtype == "instance":
                raise HttpError("invalid", f"invalid resource type {rtype!r}", indent=True)
            rid = res.get("id") or None
            rorg = res.get("orgID") or None
            if rid is not None:
                self.check_id(rid)
            perm = Permission(action, rtype, rid, rorg)
            if rorg is not None and rorg != org_id:
                raise HttpError(
                    "invalid", f"permission {perm} is not for org id {org_id}", indent=True
                )
            perms.append(perm)
        return perms

    def auths_create(self, req: Request) -> Response:
        data = self.body_json(req)
        org_id = data.get("orgID") or ""
        if not org_id:
            raise HttpError("invalid", "org id required: invalid ID", indent=True)
        self.check_id(org_id)
        perms = self._parse_permissions(data.get("permissions"), org_id)
        status = data.get("status") or "active"
        if status not in ("active", "inactive"):
            raise HttpError("invalid", "invalid authorization status", indent=True)
        user_id = data.get("userID") or req.auth.user_id
        self.require(req, Permission("write", "authorizations", None, org_id))
        self.require(req, Permission("write", "users", user_id))
        for perm in perms:
            if not req.auth.allows(perm):
                raise HttpError("forbidden", f"permission {perm} is not allowed", indent=True)
        if self.reg.orgs.get(org_id) is None:
            raise HttpError("not found", "organization not found", indent=True)
        if self.reg.users.get(user_id) is None:
            raise HttpError("not found", "user not found", indent=True)
        auth = self.engine.create_auth(
            org_id, user_id, perms, description=data.get("description") or "", status=status
        )
        return json_response(201, self.auth_json(auth))

    def _find_auth(self, req: Request, id: str, action: str) -> Authorization:
        self.check_id(id)
        auth = self.reg.auths.get(id)
        if auth is None:
            raise HttpError("not found", "authorization not found", indent=True)
        self.require(req, Permission(action, "authorizations", auth.id, auth.org_id))
        return auth

    def auths_get(self, req: Request, id: str) -> Response:
        return json_response(200, self.auth_json(self._find_auth(req, id, "read")))

    def auths_patch(self, req: Request, id: str) -> Response:
        auth = self._find_auth(req, id, "write")
        data = self.body_json(req)
        changed = Authorization(**auth.__dict__)
        changed.permissions = list(auth.permissions)
        if data.get("status") is not None:
            changed.status = str(data["status"])
        if data.get("description") is not None:
            changed.description = str(data["description"])
        changed.updated = time.time_ns()
        self.engine.put_auth(changed)
        return json_response(200, self.auth_json(self.reg.auths[auth.id]))

    def auths_delete(self, req: Request, id: str) -> Response:
        auth = self._find_auth(req, id, "write")
        self.engine.delete_auth(auth.id)
        return Response(204)

    # -- localinflux control (operator token only) -----------------------------------------------

    def _require_operator(self, req: Request) -> None:
        if not req.auth.allows(Permission("write", "orgs")):
            raise HttpError("forbidden", "the operator token is required")

    def control_faults(self, req: Request) -> Response:
        self._require_operator(req)
        data = self.body_json(req, indent=False)
        if data.get("clear"):
            self.engine.faults.clear()
            return json_response(200, {"active": 0}, indent=False)
        allowed = {"status", "retry_after", "delay", "drop", "count", "duration", "path", "method"}
        unknown = set(data) - allowed
        if unknown:
            raise HttpError("invalid", f"unknown fault keywords: {sorted(unknown)}")
        try:
            self.engine.faults.add(**data)
        except (TypeError, ValueError) as exc:
            raise HttpError("invalid", str(exc)) from exc
        return json_response(200, {"active": self.engine.faults.active()}, indent=False)

    def control_stats(self, req: Request) -> Response:
        self._require_operator(req)
        return json_response(200, self.engine.stats.to_json(), indent=False)

    def control_stats_reset(self, req: Request) -> Response:
        self._require_operator(req)
        self.engine.stats.reset()
        return Response(204)


def _flux_text(body: bytes, content_type: str) -> str:
    if "vnd.flux" in content_type:
        return body.decode("utf-8", "replace")
    try:
        data = json.loads(body)
    except ValueError:
        return ""
    return data.get("query", "") if isinstance(data, dict) else ""


def _code_from_body(body: bytes) -> str:
    try:
        return str(json.loads(body).get("code") or "")
    except (ValueError, AttributeError):
        return ""


# ------------------------------------------------------------------------------------------------
# The socket side.


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "localinflux"
    sys_version = ""

    # BaseHTTPRequestHandler logs through log_message; the server logs its own line instead.
    def log_message(self, format, *args):
        pass

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PATCH(self):
        self._dispatch("PATCH")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_HEAD(self):
        self._dispatch("HEAD")

    def do_OPTIONS(self):
        self._dispatch("OPTIONS")

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            parts = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(parts)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def setup(self):
        super().setup()
        # Small responses must not wait for a delayed ACK (Nagle): that costs ~40 ms a request.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _send(self, resp: Response, *, gzip_ok: bool = False) -> None:
        body = resp.body
        self.send_response(resp.status)
        for name, value in BASE_HEADERS:
            self.send_header(name, value)
        for name, value in resp.headers:
            self.send_header(name, value)
        if resp.status != 204 and resp.status != 304:
            if body and gzip_ok:
                body = gzip.compress(body, compresslevel=5)
                self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Type", resp.content_type)
            self.send_header("Content-Length", str(len(body)))
        self.send_header("Date", self.date_time_string())
        if self.close_connection:
            self.send_header("Connection", "close")
        # Headers and body leave in one write.
        self._headers_buffer.append(b"\r\n")
        if body and self.command != "HEAD" and resp.status != 204:
            self._headers_buffer.append(body)
        self.wfile.write(b"".join(self._headers_buffer))
        self._headers_buffer = []

    def send_response(self, code, message=None):
        # Like send_response but without the Server header InfluxDB does not send.
        self.send_response_only(code, message)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _dispatch(self, method: str) -> None:
        stats = self.server.api.engine.stats  # type: ignore[attr-defined]
        stats.enter()
        try:
            self._handle(method)
        finally:
            stats.leave()

    def _handle(self, method: str) -> None:
        srv: LocalInfluxHTTPServer = self.server  # type: ignore[assignment]
        api = srv.api
        engine = api.engine
        started = time.perf_counter()
        split = urlsplit(self.path)
        path = split.path
        params = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        control = path.startswith("/api/v2/localinflux/")
        record = RequestRecord(method=method, path=path, query=split.query, status=0)
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self._drop()
            return
        gzip_ok = False
        if not control:
            fault = engine.faults.take(method, path)
            if fault is not None:
                if fault.delay:
                    time.sleep(fault.delay)
                if fault.drop:
                    record.status = 0
                    engine.stats.record(record)
                    srv.log(method, path, 0, started)
                    self._drop()
                    return
                if fault.status is not None:
                    code, message = FAULT_MESSAGES.get(
                        fault.status, (_code_for_status(fault.status), "injected fault")
                    )
                    headers = [("X-Platform-Error-Code", code)]
                    if fault.retry_after is not None:
                        headers.append(("Retry-After", str(fault.retry_after)))
                    resp = Response(fault.status, error_body(code, message), headers=headers)
                    self._finish(resp, record, started, control, gzip_ok=False)
                    return
        try:
            handler, needs_auth, path_args = api.route(method, path)
            encoding = (self.headers.get("Content-Encoding") or "").lower()
            if encoding in ("gzip", "x-gzip") and body:
                try:
                    body = gzip.decompress(body)
                except (OSError, EOFError, zlib.error) as exc:
                    raise HttpError("invalid", f"unable to decode gzip body: {exc}") from exc
            req = Request(method, path, split.query, params, self.headers, body, record=record)
            if needs_auth:
                req.auth = api.authenticate(self.headers)
            if handler == api.query:
                gzip_ok = "gzip" in (self.headers.get("Accept-Encoding") or "").lower()
            resp = handler(req, **path_args)
        except HttpError as exc:
            resp = Response(
                exc.status,
                error_body(exc.code, exc.message, exc.indent),
                headers=[("X-Platform-Error-Code", exc.code)],
            )
        except Exception as exc:  # a bug must not kill the connection thread silently
            srv.log_error(f"internal error on {method} {path}: {exc!r}")
            resp = Response(
                500,
                error_body("internal error", f"internal error: {exc}"),
                headers=[("X-Platform-Error-Code", "internal error")],
            )
        self._finish(resp, record, started, control, gzip_ok=gzip_ok and resp.status == 200)

    def _finish(self, resp, record, started, control, *, gzip_ok) -> None:
        srv: LocalInfluxHTTPServer = self.server  # type: ignore[assignment]
        record.status = resp.status
        record.ms = (time.perf_counter() - started) * 1000
        if not control:
            srv.api.engine.stats.record(record)
        srv.log(record.method, record.path, resp.status, started)
        self._send(resp, gzip_ok=gzip_ok)


def _code_for_status(status: int) -> str:
    for code, value in CODE_STATUS.items():
        if value == status:
            return code
    return "internal error"


class LocalInfluxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address, api: Api, *, log_requests: bool = False) -> None:
        self.api = api
        self.log_requests = log_requests
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        self.stopping = False
        super().__init__(address, Handler)

    def log(self, method: str, path: str, status: int, started: float) -> None:
        if self.log_requests:
            ms = (time.perf_counter() - started) * 1000
            sys.stderr.write(f"{method} {path} {status} {ms:.1f}ms\n")

    def log_error(self, message: str) -> None:
        sys.stderr.write(message + "\n")

    def process_request(self, request, client_address):
        with self._conn_lock:
            if self.stopping:
                self.shutdown_request(request)
                return
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self._conn_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address):
        # Clients that hang up mid-request are normal here (timeouts, dropped faults).
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError | OSError):
            return
        super().handle_error(request, client_address)

    def close_all_connections(self) -> None:
        """Cut open keep-alive connections so a stopped server answers nothing more."""
        with self._conn_lock:
            self.stopping = True
            conns = list(self._connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
