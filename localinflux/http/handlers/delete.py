"""``POST /api/v2/delete``: remove points in a time range, optionally matching a predicate."""

from __future__ import annotations

import json

from localinflux.delete import PredicateError, compile_predicate
from localinflux.http.handlers.common import resolve_org_param
from localinflux.http.wire import HttpError, Request, Response
from localinflux.permissions import Permission
from localinflux.registry import is_id
from localinflux.timefmt import parse_rfc3339


def delete(app, req: Request) -> Response:
    reg = app.reg
    org = resolve_org_param(reg, req)
    bucket_id = req.params.get("bucketID")
    name = req.params.get("bucket")
    if bucket_id:
        bucket = reg.buckets.get(bucket_id) if is_id(bucket_id) else None
        if bucket is None or bucket.org_id != org.id:
            raise HttpError("not found", "bucket not found")
    elif name:
        if is_id(name):
            # unlike write, a 16-hex bucket is an ID only
            bucket = reg.buckets.get(name)
            if bucket is None or bucket.org_id != org.id:
                raise HttpError("not found", "bucket not found")
        else:
            bucket = reg.bucket_by_name(org.id, name)
            if bucket is None:
                raise HttpError("not found", f'bucket "{name}" not found')
    else:
        raise HttpError("invalid", "Please provide either bucketID or bucket")
    try:
        data = json.loads(req.body or b"")
    except (ValueError, RecursionError) as exc:
        raise HttpError("invalid", "invalid request; error parsing request json") from exc
    if not isinstance(data, dict):
        raise HttpError("invalid", "invalid request; error parsing request json")
    bounds = {}
    for key in ("start", "stop"):
        value = data.get(key) or ""
        try:
            if not isinstance(value, str):
                raise ValueError(value)
            bounds[key] = parse_rfc3339(value, bounded=True)
        except ValueError as exc:
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
    app.engine.commit_delete(bucket.id, bounds["start"], bounds["stop"], predicate)
    return Response(204)
