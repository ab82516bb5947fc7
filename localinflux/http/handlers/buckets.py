"""``/api/v2/buckets``: list (paged), create, get, update and delete buckets."""

from __future__ import annotations

import time
from urllib.parse import quote

from localinflux.http.godecode import BUCKET_UPDATE, POST_BUCKET, UNMARSHAL, decode
from localinflux.http.handlers.common import can_read_bucket, check_id, check_retention, require
from localinflux.http.shapes import bucket_json
from localinflux.http.wire import HttpError, Request, Response, json_response
from localinflux.permissions import Permission
from localinflux.registry import Bucket, shard_group_seconds


def buckets_list(app, req: Request) -> Response:
    reg = app.reg
    p = req.params
    try:
        limit = int(p.get("limit") or 20)
        offset = int(p.get("offset") or 0)
    except ValueError as exc:
        raise HttpError("invalid", "limit must be between 1 and 100", indent=True) from exc
    if not 1 <= limit <= 100:
        raise HttpError("invalid", "limit must be between 1 and 100", indent=True)
    buckets = list(reg.buckets.values())
    org = None
    if p.get("orgID"):
        check_id(p["orgID"])
        org = reg.orgs.get(p["orgID"])
        if org is None:
            raise HttpError("not found", "organization not found", indent=True)
    elif p.get("org"):
        org = reg.org_by_name(p["org"])
        if org is None:
            raise HttpError("not found", f'organization name "{p["org"]}" not found', indent=True)
    if org is not None:
        buckets = [b for b in buckets if b.org_id == org.id]
    if p.get("name"):
        buckets = [b for b in buckets if b.name == p["name"]]
        if not buckets and org is not None:
            raise HttpError("not found", f'bucket "{p["name"]}" not found', indent=True)
    if p.get("id"):
        buckets = [b for b in buckets if b.id == p["id"]]
    buckets = [b for b in buckets if can_read_bucket(req.auth, b)]
    buckets.sort(key=lambda b: b.id)
    if p.get("after"):
        buckets = [b for b in buckets if b.id > p["after"]]
    page = buckets[offset : offset + limit]
    filters = "".join(f"&{k}={quote(p[k])}" for k in ("name", "org", "orgID", "id") if p.get(k))
    links = {"self": f"/api/v2/buckets?descending=false{filters}&limit={limit}&offset={offset}"}
    if len(buckets) > offset + limit:
        links["next"] = (
            f"/api/v2/buckets?after={page[-1].id}&descending=false{filters}&limit={limit}"
        )
    if offset > 0:
        prev = max(0, offset - limit)
        links["prev"] = f"/api/v2/buckets?descending=false{filters}&limit={limit}&offset={prev}"
    return json_response(200, {"links": links, "buckets": [bucket_json(b) for b in page]})


def _check_rules(rules: list | None) -> None:
    """The handler's ``OK()`` of InfluxDB 2.7: rule count and signs, before any permission."""
    rules = rules or []
    if len(rules) > 1:
        raise HttpError(
            "unprocessable entity",
            "buckets cannot have more than one retention rule at this time",
            indent=True,
        )
    if rules:
        if (rules[0].get("everySeconds") or 0) < 0:
            raise HttpError(
                "unprocessable entity", "expiration seconds cannot be negative", indent=True
            )
        if (rules[0].get("shardGroupDurationSeconds") or 0) < 0:
            raise HttpError(
                "unprocessable entity",
                "shard-group duration seconds cannot be negative",
                indent=True,
            )


def _retention_from(rules: list | None) -> tuple[int, int]:
    if not rules:
        return 0, 0
    every = rules[0].get("everySeconds") or 0
    shard = rules[0].get("shardGroupDurationSeconds") or 0
    check_retention(every)
    return every, shard


def _check_bucket_name(name: str) -> None:
    if not name:
        raise HttpError("invalid", "bucket name is empty", indent=True)
    if name.startswith("_"):
        raise HttpError(
            "invalid",
            f"bucket name {name} is invalid. Buckets may not start with underscore",
            indent=True,
        )
    if '"' in name:
        raise HttpError(
            "invalid",
            f"bucket name {name} is invalid. Bucket names may not include quotation marks",
            indent=True,
        )


def buckets_create(app, req: Request) -> Response:
    data = decode(req, POST_BUCKET, prefix=UNMARSHAL)
    org_id = data.get("orgID") or ""
    if not org_id:
        raise HttpError("invalid", "organization id must be provided", indent=True)
    _check_rules(data.get("retentionRules"))
    name = data.get("name") or ""
    require(req, Permission("write", "buckets", None, org_id))
    if app.reg.orgs.get(org_id) is None:
        raise HttpError("not found", "organization not found", indent=True)
    _check_bucket_name(name)
    every, shard = _retention_from(data.get("retentionRules"))
    if app.reg.bucket_by_name(org_id, name) is not None:
        raise HttpError("conflict", f"bucket with name {name} already exists", indent=True)
    bucket = app.engine.create_bucket(
        org_id,
        name,
        every_seconds=every,
        shard_seconds=shard,
        description=data.get("description") or "",
        rp=data.get("rp") or "",
    )
    return json_response(201, bucket_json(bucket))


def _find_bucket(app, req: Request, id: str, action: str) -> Bucket:
    check_id(id)
    bucket = app.reg.buckets.get(id)
    if bucket is None:
        raise HttpError("not found", "bucket not found", indent=True)
    require(req, Permission(action, "buckets", bucket.id, bucket.org_id))
    return bucket


def buckets_get(app, req: Request, id: str) -> Response:
    return json_response(200, bucket_json(_find_bucket(app, req, id, "read")))


def buckets_patch(app, req: Request, id: str) -> Response:
    check_id(id)
    data = decode(req, BUCKET_UPDATE, prefix=UNMARSHAL)
    _check_rules(data.get("retentionRules"))
    bucket = _find_bucket(app, req, id, "write")
    changed = Bucket(**bucket.__dict__)
    if data.get("name") is not None and data["name"] != bucket.name:
        if bucket.type == "system":
            raise HttpError("invalid", "system buckets cannot be renamed", indent=True)
        _check_bucket_name(data["name"])
        if app.reg.bucket_by_name(bucket.org_id, data["name"]) is not None:
            raise HttpError(
                "conflict", f"bucket with name {data['name']} already exists", indent=True
            )
        changed.name = data["name"]
    if data.get("description") is not None:
        changed.description = data["description"]
    if data.get("retentionRules"):
        every, shard = _retention_from(data["retentionRules"])
        changed.every_seconds = every
        changed.shard_seconds = shard or shard_group_seconds(every)
    changed.updated = time.time_ns()
    app.engine.put_bucket(changed)
    return json_response(200, bucket_json(app.reg.buckets[bucket.id]))


def buckets_delete(app, req: Request, id: str) -> Response:
    bucket = _find_bucket(app, req, id, "write")
    if bucket.type == "system":
        raise HttpError("invalid", "system buckets cannot be deleted", indent=True)
    app.engine.delete_bucket(bucket.id)
    return Response(204)
