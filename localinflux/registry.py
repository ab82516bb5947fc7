"""Orgs, users, buckets and authorizations (tokens): the server's metadata.

The ``Registry`` holds them. It changes only through ``apply(op)`` with a JSON-able operation, so
the engine can log the very same operation to the WAL first and replay it at start. Who may do
what with them is in ``permissions.py``.
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass, field

from localinflux.permissions import Permission

SYSTEM_BUCKETS = (("_monitoring", 604800), ("_tasks", 259200))


def new_id() -> str:
    return secrets.token_hex(8)


def new_token() -> str:
    # 64 random bytes in URL-safe base64: 88 characters ending in "==", like InfluxDB's.
    return base64.urlsafe_b64encode(os.urandom(64)).decode()


def is_id(value: str | None) -> bool:
    return bool(value) and len(value) == 16 and all(c in "0123456789abcdef" for c in value)


@dataclass
class Org:
    id: str
    name: str
    description: str = ""
    created: int = 0
    updated: int = 0


@dataclass
class User:
    id: str
    name: str
    status: str = "active"
    password: str = ""  # stored only so setup can be inspected; never sent back
    created: int = 0


@dataclass
class Bucket:
    id: str
    org_id: str
    name: str
    type: str = "user"
    description: str = ""
    rp: str = ""
    every_seconds: int = 0
    shard_seconds: int = 0
    created: int = 0
    updated: int = 0


@dataclass
class Authorization:
    id: str
    token: str
    org_id: str
    user_id: str
    permissions: list[Permission] = field(default_factory=list)
    status: str = "active"
    description: str = ""
    created: int = 0
    updated: int = 0

    def allows(self, want: Permission) -> bool:
        if self.status != "active":
            return False
        if want.type == "users" and want.id == self.user_id:
            return True  # every token may read and change its own user
        return any(p.covers(want) for p in self.permissions)


def shard_group_seconds(every_seconds: int) -> int:
    if every_seconds == 0 or every_seconds >= 180 * 86400:
        return 604800
    if every_seconds >= 2 * 86400:
        return 86400
    return 3600


class Registry:
    """Metadata. Reads are plain dict lookups; the server serializes ``apply`` calls."""

    def __init__(self) -> None:
        self.orgs: dict[str, Org] = {}
        self.users: dict[str, User] = {}
        self.buckets: dict[str, Bucket] = {}
        self.auths: dict[str, Authorization] = {}
        self.tokens: dict[str, str] = {}  # token -> authorization id

    # -- lookups ---------------------------------------------------------------------------------

    def onboarded(self) -> bool:
        return bool(self.users or self.orgs)

    def auth_for_token(self, token: str) -> Authorization | None:
        auth_id = self.tokens.get(token)
        return self.auths.get(auth_id) if auth_id else None

    def org_by_name(self, name: str) -> Org | None:
        for org in list(self.orgs.values()):
            if org.name == name:
                return org
        return None

    def bucket_by_name(self, org_id: str, name: str) -> Bucket | None:
        for bucket in list(self.buckets.values()):
            if bucket.org_id == org_id and bucket.name == name:
                return bucket
        return None

    def user_by_name(self, name: str) -> User | None:
        for user in list(self.users.values()):
            if user.name == name:
                return user
        return None

    def resource_name(self, rtype: str, rid: str | None) -> str | None:
        if not rid:
            return None
        if rtype == "buckets":
            b = self.buckets.get(rid)
            return b.name if b else None
        if rtype == "orgs":
            o = self.orgs.get(rid)
            return o.name if o else None
        if rtype == "users":
            u = self.users.get(rid)
            return u.name if u else None
        return None

    # -- changes ---------------------------------------------------------------------------------

    def apply(self, op: dict) -> None:
        kind = op["op"]
        obj = op.get("obj", {})
        if kind == "put_org":
            self.orgs[obj["id"]] = Org(**obj)
        elif kind == "put_user":
            self.users[obj["id"]] = User(**obj)
        elif kind == "put_bucket":
            self.buckets[obj["id"]] = Bucket(**obj)
        elif kind == "del_bucket":
            self.buckets.pop(op["id"], None)
        elif kind == "put_auth":
            data = dict(obj)
            data["permissions"] = [Permission.from_state(p) for p in data["permissions"]]
            old = self.auths.get(data["id"])
            if old is not None:
                self.tokens.pop(old.token, None)
            auth = Authorization(**data)
            self.auths[auth.id] = auth
            self.tokens[auth.token] = auth.id
        elif kind == "del_auth":
            old = self.auths.pop(op["id"], None)
            if old is not None:
                self.tokens.pop(old.token, None)
        else:
            raise ValueError(f"unknown registry operation {kind!r}")


def org_state(org: Org) -> dict:
    return dict(org.__dict__)


def user_state(user: User) -> dict:
    return dict(user.__dict__)


def bucket_state(bucket: Bucket) -> dict:
    return dict(bucket.__dict__)


def auth_state(auth: Authorization) -> dict:
    data = dict(auth.__dict__)
    data["permissions"] = [p.to_state() for p in auth.permissions]
    return data
