"""Checks several API areas share: ids, permissions, the ``org``/``orgID`` parameters."""

from __future__ import annotations

from localinflux.http.wire import HttpError, Request
from localinflux.permissions import Permission
from localinflux.registry import Authorization, Bucket, Org, Registry, is_id


def require(req: Request, perm: Permission) -> None:
    """The authorizer layer of the REST services: 401 ``<perm> is unauthorized``."""
    if not req.auth.allows(perm):
        raise HttpError("unauthorized", f"{perm} is unauthorized", indent=True)


def check_id(value: str | None, *, indent: bool = True) -> str:
    if not is_id(value):
        raise HttpError("invalid", "id must have a length of 16 bytes", indent=indent)
    return value


def can_read_bucket(auth: Authorization, b: Bucket) -> bool:
    return auth.allows(Permission("read", "buckets", b.id, b.org_id))


def resolve_org_param(reg: Registry, req: Request, *, prefix: str = "") -> Org:
    """The ``org``/``orgID`` parameters of write, query and delete (no permission check)."""
    org_id = req.params.get("orgID")
    name = req.params.get("org")
    if org_id:
        org = reg.orgs.get(org_id) if is_id(org_id) else None
        if org is None:
            raise HttpError("not found", prefix + "organization not found")
        return org
    if name:
        if is_id(name):
            # a 16-hex org is an ID only, with no fallback to a name
            org = reg.orgs.get(name)
            if org is None:
                raise HttpError("not found", prefix + "organization not found")
            return org
        org = reg.org_by_name(name)
        if org is None:
            raise HttpError("not found", prefix + f'organization name "{name}" not found')
        return org
    raise HttpError("invalid", prefix + "Please provide either orgID or org")


def check_retention(seconds: int) -> None:
    """A bucket's retention as setup and the buckets API validate it."""
    if seconds < 0:
        raise HttpError(
            "unprocessable entity",
            "expiration seconds must be greater than or equal to zero",
            indent=True,
        )
    if 0 < seconds < 3600:
        raise HttpError(
            "internal error", "retention policy duration must be at least 1h0m0s", indent=True
        )
