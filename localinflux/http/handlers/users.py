"""``/api/v2/me`` and ``/api/v2/users``."""

from __future__ import annotations

from localinflux.http.handlers.common import check_id, require
from localinflux.http.shapes import user_json
from localinflux.http.wire import HttpError, Request, Response, json_response
from localinflux.permissions import Permission


def me(app, req: Request) -> Response:
    user = app.reg.users.get(req.auth.user_id)
    if user is None:
        raise HttpError("not found", "user not found", indent=True)
    return json_response(200, user_json(user))


def users_list(app, req: Request) -> Response:
    users = list(app.reg.users.values())
    if req.params.get("name"):
        users = [u for u in users if u.name == req.params["name"]]
    if req.params.get("id"):
        users = [u for u in users if u.id == req.params["id"]]
    users = [u for u in users if req.auth.allows(Permission("read", "users", u.id))]
    return json_response(
        200, {"links": {"self": "/api/v2/users"}, "users": [user_json(u) for u in users]}
    )


def users_get(app, req: Request, id: str) -> Response:
    check_id(id)
    user = app.reg.users.get(id)
    if user is None:
        raise HttpError("not found", "user not found", indent=True)
    require(req, Permission("read", "users", user.id))
    return json_response(200, user_json(user))
