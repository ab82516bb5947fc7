"""``/health``, ``/ready``, ``/ping`` and ``/api/v2`` (the links root): no token needed."""

from __future__ import annotations

import json
import time

from localinflux.http.wire import COMMIT, VERSION, Request, Response, json_response
from localinflux.timefmt import format_duration, format_rfc3339


def health(app, req: Request) -> Response:
    # InfluxDB writes this body by hand, spaces and all.
    body = (
        '{"name":"influxdb", "message":"ready for queries and writes", "status":"pass", '
        f'"checks":[], "version": "{VERSION}", "commit": "{COMMIT}"}}\n'
    )
    return Response(200, body.encode())


def ready(app, req: Request) -> Response:
    up = (time.time_ns() - app.engine.started_ns) / 1e9
    obj = {
        "status": "ready",
        "started": format_rfc3339(app.engine.started_ns),
        "up": format_duration(up),
    }
    return Response(200, (json.dumps(obj, indent=4) + "\n").encode())


def ping(app, req: Request) -> Response:
    return Response(204)


def root(app, req: Request) -> Response:
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
