"""localinflux's own control API (operator token only): inject faults, read and reset counters."""

from __future__ import annotations

from localinflux.http.wire import HttpError, Request, Response, body_json, json_response
from localinflux.permissions import Permission

# Each keyword of Faults.add and the JSON types its value may have (None: leave it unset).
_FAULT_KEYWORDS = {
    "status": (int,),
    "retry_after": (int, str),
    "delay": (int, float),
    "drop": (bool,),
    "count": (int,),
    "duration": (int, float),
    "path": (str,),
    "method": (str,),
}


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
    unknown = set(data) - _FAULT_KEYWORDS.keys()
    if unknown:
        raise HttpError("invalid", f"unknown fault keywords: {sorted(unknown)}")
    given = {key: value for key, value in data.items() if value is not None}
    for key, value in given.items():
        types = _FAULT_KEYWORDS[key]
        if not isinstance(value, types) or isinstance(value, bool) != (types == (bool,)):
            raise HttpError("invalid", f"fault keyword {key} has the wrong type")
    try:
        faults.add(**given)
    except ValueError as exc:  # Faults.add refuses a value out of range
        raise HttpError("invalid", str(exc)) from exc
    return json_response(200, {"active": faults.active()}, indent=False)


def control_stats(app, req: Request) -> Response:
    _require_operator(req)
    return json_response(200, app.engine.stats.to_json(), indent=False)


def control_stats_reset(app, req: Request) -> Response:
    _require_operator(req)
    app.engine.stats.reset()
    return Response(204)
