"""``POST /api/v2/query``: Flux, answered by ``localinflux.flux`` over the store."""

from __future__ import annotations

import json
import time

from localinflux.flux import handle_query
from localinflux.http.handlers.common import can_read_bucket, resolve_org_param
from localinflux.http.wire import HttpError, Request, Response
from localinflux.model import QueryContext


def _flux_text(body: bytes, content_type: str) -> str:
    """The Flux source of a request, for the request log."""
    if "vnd.flux" in content_type:
        return body.decode("utf-8", "replace")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return ""
    return data.get("query", "") if isinstance(data, dict) else ""


def _code_from_body(body: bytes) -> str:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return ""
    return str(data.get("code") or "") if isinstance(data, dict) else ""


def query(app, req: Request) -> Response:
    reg = app.reg
    try:
        org = resolve_org_param(reg, req, prefix="failed to decode request body: ")
    except HttpError as exc:
        raise HttpError("invalid", exc.message) from exc
    content_type = req.headers.get("Content-Type") or "application/json"
    if req.record is not None:
        req.record.flux = _flux_text(req.body, content_type)
    auth = req.auth

    def resolve_bucket(name: str) -> str | None:
        b = reg.bucket_by_name(org.id, name)
        if b is None or not can_read_bucket(auth, b):
            return None
        return b.id

    def resolve_bucket_id(bucket_id: str) -> str | None:
        b = reg.buckets.get(bucket_id)
        if b is None or b.org_id != org.id or not can_read_bucket(auth, b):
            return None
        return b.id

    ctx = QueryContext(
        reader=app.engine.store,
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
