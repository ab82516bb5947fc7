"""localinflux's own control API (operator token only): inject faults, read and reset counters."""

from __future__ import annotations

from localinflux.http.wire import HttpError, Request, Response, body_json, json_response
from localinflux.permissions import Permission

_FAULT_KEYWORDS = {"status", "retry_after", "delay", "drop", "count", "duration", "path", "method"}


def _require_operator(req: Request) -> None:
    if not req.auth.allows(Permission("write", "orgs")):
        raise HttpError("forbidden", "the operator token is required")


def control_faults(app, req: Request) -> Response:
    _require_operator(req)
    data = body_json(req, indent=False)
    faults = app.engine.faults
    if data.get("clear"):
        faults.clear()
        return json_response(200, {"active": 0}, indent=False)
    unknown = set(data) - _FAULT_KEYWORDS
    if unknown:
        raise HttpError("invalid", f"unknown fault keywords: {sorted(unknown)}")
    try:
        faults.add(**data)
    except (TypeError, ValueError) as exc:  # a value of the wrong type or out of range
        raise HttpError("invalid", str(exc)) from exc
    return json_response(200, {"active": faults.active()}, indent=False)


def control_stats(app, req: Request) -> Response:
    _require_operator(req)
    return json_response(200, app.engine.stats.to_json(), indent=False)


def control_stats_reset(app, req: Request) -> Response:
    _require_operator(req)
    app.engine.stats.reset()
    return Response(204)
