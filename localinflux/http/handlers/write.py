"""``POST /api/v2/write``: line protocol into a bucket.

The way a write reaches storage: this handler resolves org and bucket, checks the token, parses
the body (any bad line rejects the whole request, as InfluxDB 2.7 does), then hands the points to
``Engine.commit_write``, which logs the request to the WAL and applies it to the ``Store``.
"""

from __future__ import annotations

import time

from localinflux.http.handlers.common import resolve_org_param
from localinflux.http.wire import HttpError, Request, Response
from localinflux.lineprotocol import PRECISION_NS
from localinflux.permissions import Permission
from localinflux.registry import is_id


def write(app, req: Request) -> Response:
    reg = app.reg
    precision = req.params.get("precision") or "ns"
    if precision not in PRECISION_NS:
        raise HttpError("invalid", "invalid precision; valid precision units are ns, us, ms, and s")
    bucket_param = req.params.get("bucket") or req.params.get("bucketID")
    if not bucket_param:
        raise HttpError("not found", "bucket not found")
    org = resolve_org_param(reg, req)
    bucket = None
    if is_id(bucket_param):
        candidate = reg.buckets.get(bucket_param)
        if candidate is not None and candidate.org_id == org.id:
            bucket = candidate
    if bucket is None:
        bucket = reg.bucket_by_name(org.id, bucket_param)
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
    points, errors = app.engine.parse_lines(text, precision, now)
    if errors:
        raise HttpError("invalid", "\n".join(errors))
    if not points:
        return Response(204)
    result = app.engine.commit_write(
        bucket.id, precision, now, req.body, points, retention_seconds=bucket.every_seconds
    )
    if req.record is not None:
        req.record.points = result.stored
    if result.dropped or result.expired:
        summary = result.conflict or "points beyond retention policy"
        raise HttpError(
            "unprocessable entity",
            "failure writing points to database: partial write: "
            f"{summary} dropped={result.dropped + result.expired}",
        )
    return Response(204)
