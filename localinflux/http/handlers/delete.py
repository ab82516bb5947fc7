"""``POST /api/v2/delete``: remove points in a time range, optionally matching a predicate."""

from __future__ import annotations

from localinflux.delete import PredicateError, compile_predicate
from localinflux.http.godecode import go_unmarshal, string, struct
from localinflux.http.handlers.common import resolve_org_param
from localinflux.http.wire import HttpError, Request, Response
from localinflux.permissions import Permission
from localinflux.registry import is_id
from localinflux.timefmt import MAX_NS, MIN_NS, format_rfc3339, parse_rfc3339

# InfluxDB 2.7 (http/delete_handler.go) decodes the body first, before the org and bucket, into
# a struct whose UnmarshalJSON parses the times and the predicate; every error of that step
# reads "error decoding json body: <reason>" (as its own tests, http/delete_test.go, show).
DECODE = "error decoding json body"
DELETE_REQUEST = struct(
    "http.deleteRequestDecode", start=string(), stop=string(), predicate=string()
)
_BAD_TIME = (
    "invalid RFC3339Nano for field {}, please format your time with RFC3339Nano format, example: {}"
)
_EXAMPLE = {"start": "2009-01-02T23:00:00Z", "stop": "2009-01-01T23:00:00Z"}
_OUT_OF_RANGE = {
    "start": f"invalid start time, start time must not be before {format_rfc3339(MIN_NS)}",
    "stop": f"invalid stop time, stop time must not be after {format_rfc3339(MAX_NS)}",
}


def _decode(req: Request) -> tuple[dict[str, int], str]:
    """(start and stop in ns, predicate), or InfluxDB's 400 for the body."""
    try:
        data = go_unmarshal(req.body, DELETE_REQUEST)
    except ValueError as exc:
        message = str(exc)
        if message.startswith("json: cannot unmarshal"):  # the inner decode, wrapped once more
            message = f"Invalid delete predicate node request: {message}"
        raise HttpError("invalid", f"{DECODE}: {message}") from None
    bounds = {}
    for key in ("start", "stop"):
        try:
            bounds[key] = parse_rfc3339(data.get(key) or "")
        except ValueError:
            raise HttpError(
                "invalid", f"{DECODE}: {_BAD_TIME.format(key, _EXAMPLE[key])}"
            ) from None
        if not MIN_NS <= bounds[key] <= MAX_NS:
            raise HttpError("invalid", f"{DECODE}: {_OUT_OF_RANGE[key]}")
    predicate = data.get("predicate") or ""
    try:
        compile_predicate(predicate)
    except PredicateError as exc:
        # delete by field is refused after the decoding step: its message has no prefix
        message = exc.message if exc.status == 501 else f"{DECODE}: {exc.message}"
        raise HttpError(exc.code, message, status=exc.status) from exc
    return bounds, predicate


def delete(app, req: Request) -> Response:
    reg = app.reg
    bounds, predicate = _decode(req)
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
    if not req.auth.allows(Permission("write", "buckets", bucket.id, org.id)):
        message = "insufficient permissions to delete"
        if req.auth.status != "active":
            message += ": token is inactive"
        raise HttpError("forbidden", message)
    app.engine.commit_delete(bucket.id, bounds["start"], bounds["stop"], predicate)
    return Response(204)
