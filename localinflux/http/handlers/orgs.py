"""``/api/v2/orgs``: list, get, create and update (name, description) organizations."""

from __future__ import annotations

import time

from localinflux.http.godecode import ORGANIZATION, ORGANIZATION_UPDATE, UNMARSHAL, decode
from localinflux.http.handlers.common import check_id, require
from localinflux.http.shapes import org_json
from localinflux.http.wire import HttpError, Request, Response, json_response
from localinflux.permissions import Permission
from localinflux.registry import Org


def orgs_list(app, req: Request) -> Response:
    reg = app.reg
    name = req.params.get("org")
    org_id = req.params.get("orgID")
    orgs = list(reg.orgs.values())
    if name:
        orgs = [o for o in orgs if o.name == name]
        if not orgs:
            raise HttpError("not found", f'organization name "{name}" not found', indent=True)
    if org_id:
        check_id(org_id)
        orgs = [o for o in orgs if o.id == org_id]
        if not orgs:
            raise HttpError("not found", "organization not found", indent=True)
    user_id = req.params.get("userID")
    if user_id:
        owned = {a.org_id for a in reg.auths.values() if a.user_id == user_id}
        orgs = [o for o in orgs if o.id in owned]
    orgs = [o for o in orgs if req.auth.allows(Permission("read", "orgs", o.id, o.id))]
    orgs.sort(key=lambda o: o.id)
    return json_response(
        200, {"links": {"self": "/api/v2/orgs"}, "orgs": [org_json(o) for o in orgs]}
    )


def orgs_get(app, req: Request, id: str) -> Response:
    check_id(id)
    org = app.reg.orgs.get(id)
    if org is None:
        raise HttpError("not found", "organization not found", indent=True)
    require(req, Permission("read", "orgs", org.id, org.id))
    return json_response(200, org_json(org))


def orgs_create(app, req: Request) -> Response:
    data = decode(req, ORGANIZATION, prefix=UNMARSHAL)
    name = data.get("name") or ""
    require(req, Permission("write", "orgs"))
    if not name.strip():  # InfluxDB indexes org names trimmed
        raise HttpError("invalid", "org name is empty", indent=True)
    if app.reg.org_by_name(name) is not None:
        raise HttpError("conflict", f"organization with name {name} already exists", indent=True)
    org = app.engine.create_org(name, data.get("description") or "")
    return json_response(201, org_json(org))


def orgs_patch(app, req: Request, id: str) -> Response:
    """InfluxDB 2.7's order: id, body, ``write:orgs/<id>`` (before the lookup), then the org."""
    check_id(id)
    data = decode(req, ORGANIZATION_UPDATE, prefix=UNMARSHAL)
    require(req, Permission("write", "orgs", id, id))
    org = app.reg.orgs.get(id)
    if org is None:
        raise HttpError("not found", "organization not found", indent=True)
    name = data.get("Name")
    description = data.get("description")
    changed = Org(**org.__dict__)
    if name is not None and name != org.name:
        if not name.strip():
            raise HttpError("invalid", "org name is empty", indent=True)
        if app.reg.org_by_name(name.strip()) is not None:
            raise HttpError(
                "conflict", f"organization with name {name} already exists", indent=True
            )
        changed.name = name
    if description is not None:
        changed.description = description
    changed.updated = time.time_ns()
    app.engine.put_org(changed)
    return json_response(200, org_json(app.reg.orgs[org.id]))
