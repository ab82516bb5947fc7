"""``/api/v2/authorizations``: tokens, with InfluxDB 2.7's rules on who may grant what."""

from __future__ import annotations

import time

from localinflux.http.godecode import AUTHORIZATION_UPDATE, POST_AUTHORIZATION, decode
from localinflux.http.handlers.common import check_id, require
from localinflux.http.shapes import auth_json
from localinflux.http.wire import HttpError, Request, Response, json_response
from localinflux.permissions import ACTIONS, RESOURCE_TYPES, Permission
from localinflux.registry import Authorization


def auths_list(app, req: Request) -> Response:
    reg = app.reg
    p = req.params
    auths = list(reg.auths.values())
    if p.get("userID"):
        auths = [a for a in auths if a.user_id == p["userID"]]
    if p.get("user"):
        user = reg.user_by_name(p["user"])
        if user is None:
            raise HttpError("not found", "user not found", indent=True)
        auths = [a for a in auths if a.user_id == user.id]
    if p.get("orgID"):
        auths = [a for a in auths if a.org_id == p["orgID"]]
    if p.get("org"):
        org = reg.org_by_name(p["org"])
        if org is None:
            raise HttpError("not found", f'organization name "{p["org"]}" not found', indent=True)
        auths = [a for a in auths if a.org_id == org.id]
    if p.get("id"):
        auths = [a for a in auths if a.id == p["id"]]
    auths = [
        a for a in auths if req.auth.allows(Permission("read", "authorizations", a.id, a.org_id))
    ]
    auths.sort(key=lambda a: a.created)
    return json_response(
        200,
        {
            "links": {"self": "/api/v2/authorizations"},
            "authorizations": [auth_json(reg, a) for a in auths],
        },
    )


def _parse_permissions(raw, org_id: str) -> list[Permission]:
    if not isinstance(raw, list) or not raw:
        raise HttpError("invalid", "authorization must include permissions", indent=True)
    perms = []
    for item in raw:  # decoded: every item and resource is an object
        action = item.get("action")
        res = item.get("resource") or {}
        rtype = res.get("type")
        if action not in ACTIONS:
            raise HttpError("invalid", f"unknown action {action!r}", indent=True)
        if rtype not in RESOURCE_TYPES or rtype == "instance":
            raise HttpError("invalid", f"invalid resource type {rtype!r}", indent=True)
        rid = res.get("id") or None
        rorg = res.get("orgID") or None
        if rid is not None:
            check_id(rid)
        perm = Permission(action, rtype, rid, rorg)
        if rorg is not None and rorg != org_id:
            raise HttpError("invalid", f"permission {perm} is not for org id {org_id}", indent=True)
        perms.append(perm)
    return perms


def auths_create(app, req: Request) -> Response:
    data = decode(req, POST_AUTHORIZATION, prefix="invalid json structure")
    org_id = data.get("orgID") or ""
    if not org_id:
        raise HttpError("invalid", "org id required: invalid ID", indent=True)
    check_id(org_id)
    perms = _parse_permissions(data.get("permissions"), org_id)
    status = data.get("status") or "active"
    if status not in ("active", "inactive"):
        raise HttpError("invalid", "invalid authorization status", indent=True)
    user_id = data.get("userID") or req.auth.user_id
    require(req, Permission("write", "authorizations", None, org_id))
    require(req, Permission("write", "users", user_id))
    for perm in perms:
        if not req.auth.allows(perm):
            raise HttpError("forbidden", f"permission {perm} is not allowed", indent=True)
    if app.reg.orgs.get(org_id) is None:
        raise HttpError("not found", "organization not found", indent=True)
    if app.reg.users.get(user_id) is None:
        raise HttpError("not found", "user not found", indent=True)
    auth = app.engine.create_auth(
        org_id, user_id, perms, description=data.get("description") or "", status=status
    )
    return json_response(201, auth_json(app.reg, auth))


def _find_auth(app, req: Request, id: str, action: str) -> Authorization:
    check_id(id)
    auth = app.reg.auths.get(id)
    if auth is None:
        raise HttpError("not found", "authorization not found", indent=True)
    require(req, Permission(action, "authorizations", auth.id, auth.org_id))
    return auth


def auths_get(app, req: Request, id: str) -> Response:
    return json_response(200, auth_json(app.reg, _find_auth(app, req, id, "read")))


def auths_patch(app, req: Request, id: str) -> Response:
    check_id(id)
    # InfluxDB 2.7 hands this decoder's error on bare: a body of the wrong shape is a 500.
    data = decode(req, AUTHORIZATION_UPDATE, prefix=None)
    auth = _find_auth(app, req, id, "write")
    changed = Authorization(**auth.__dict__)
    changed.permissions = list(auth.permissions)
    if data.get("status") is not None:
        changed.status = str(data["status"])
    if data.get("description") is not None:
        changed.description = str(data["description"])
    changed.updated = time.time_ns()
    app.engine.put_auth(changed)
    return json_response(200, auth_json(app.reg, app.reg.auths[auth.id]))


def auths_delete(app, req: Request, id: str) -> Response:
    auth = _find_auth(app, req, id, "write")
    app.engine.delete_auth(auth.id)
    return Response(204)
