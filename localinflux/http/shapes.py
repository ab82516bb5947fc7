"""The JSON objects InfluxDB 2.7 answers with, field for field and in its order."""

from __future__ import annotations

from urllib.parse import quote

from localinflux.permissions import Permission
from localinflux.registry import Authorization, Bucket, Org, Registry, User
from localinflux.timefmt import format_rfc3339


def org_json(org: Org) -> dict:
    base = f"/api/v2/orgs/{org.id}"
    q = quote(org.name)
    return {
        "links": {
            "buckets": f"/api/v2/buckets?org={q}",
            "dashboards": f"/api/v2/dashboards?org={q}",
            "labels": f"{base}/labels",
            "logs": f"{base}/logs",
            "members": f"{base}/members",
            "owners": f"{base}/owners",
            "secrets": f"{base}/secrets",
            "self": base,
            "tasks": f"/api/v2/tasks?org={q}",
        },
        "id": org.id,
        "name": org.name,
        "description": org.description,
        "createdAt": format_rfc3339(org.created),
        "updatedAt": format_rfc3339(org.updated),
    }


def bucket_json(b: Bucket) -> dict:
    base = f"/api/v2/buckets/{b.id}"
    out: dict = {"id": b.id, "orgID": b.org_id, "type": b.type, "name": b.name}
    if b.description:
        out["description"] = b.description
    if b.rp:
        out["rp"] = b.rp
    out["retentionRules"] = [
        {
            "type": "expire",
            "everySeconds": b.every_seconds,
            "shardGroupDurationSeconds": b.shard_seconds,
        }
    ]
    out["createdAt"] = format_rfc3339(b.created)
    out["updatedAt"] = format_rfc3339(b.updated)
    out["links"] = {
        "labels": f"{base}/labels",
        "members": f"{base}/members",
        "org": f"/api/v2/orgs/{b.org_id}",
        "owners": f"{base}/owners",
        "self": base,
        "write": f"/api/v2/write?org={b.org_id}&bucket={b.id}",
    }
    out["labels"] = []
    return out


def user_json(u: User) -> dict:
    return {
        "links": {"self": f"/api/v2/users/{u.id}"},
        "id": u.id,
        "name": u.name,
        "status": u.status,
    }


def perm_json(reg: Registry, p: Permission) -> dict:
    resource: dict = {"type": p.type}
    if p.id:
        resource["id"] = p.id
        name = reg.resource_name(p.type, p.id)
        if name is not None:
            resource["name"] = name
    if p.org_id:
        resource["orgID"] = p.org_id
        org = reg.orgs.get(p.org_id)
        if org is not None:
            resource["org"] = org.name
    return {"action": p.action, "resource": resource}


def auth_json(reg: Registry, a: Authorization) -> dict:
    org = reg.orgs.get(a.org_id)
    user = reg.users.get(a.user_id)
    return {
        "id": a.id,
        "token": a.token,
        "status": a.status,
        "description": a.description,
        "orgID": a.org_id,
        "org": org.name if org else "",
        "userID": a.user_id,
        "user": user.name if user else "",
        "permissions": [perm_json(reg, p) for p in a.permissions],
        "links": {
            "self": f"/api/v2/authorizations/{a.id}",
            "user": f"/api/v2/users/{a.user_id}",
        },
        "createdAt": format_rfc3339(a.created),
        "updatedAt": format_rfc3339(a.updated),
    }
