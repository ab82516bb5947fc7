"""InfluxDB 2.7's permission model: resource types, actions, and what a permission covers.

A token holds a list of ``Permission``s; a request needs one. ``Permission.covers`` is the one rule
(InfluxDB's ``Permission.Matches``) every handler's check goes through.
"""

from __future__ import annotations

from dataclasses import dataclass

# InfluxDB 2.7's resource types (``instance`` last: only setup-less tools hold it).
RESOURCE_TYPES = (
    "authorizations",
    "buckets",
    "dashboards",
    "orgs",
    "sources",
    "tasks",
    "telegrafs",
    "users",
    "variables",
    "scrapers",
    "secrets",
    "labels",
    "views",
    "documents",
    "notificationRules",
    "notificationEndpoints",
    "checks",
    "dbrp",
    "notebooks",
    "annotations",
    "remotes",
    "replications",
    "instance",
)
ACTIONS = ("read", "write")


@dataclass(frozen=True)
class Permission:
    action: str
    type: str
    id: str | None = None
    org_id: str | None = None

    def __str__(self) -> str:
        path = f"orgs/{self.org_id}/{self.type}" if self.org_id else self.type
        if self.id:
            path += f"/{self.id}"
        return f"{self.action}:{path}"

    def covers(self, want: Permission) -> bool:
        """Whether holding this permission allows ``want`` (InfluxDB's ``Permission.Matches``)."""
        if self.action != want.action:
            return False  # write does not imply read
        if self.type == "instance":
            return True
        if self.type != want.type:
            return False
        if self.id:
            return want.id == self.id
        if self.org_id:
            return want.org_id == self.org_id
        return True

    def to_state(self) -> dict:
        return {"action": self.action, "type": self.type, "id": self.id, "orgID": self.org_id}

    @classmethod
    def from_state(cls, d: dict) -> Permission:
        return cls(d["action"], d["type"], d.get("id"), d.get("orgID"))


def operator_permissions() -> list[Permission]:
    return [
        Permission(action, rtype)
        for rtype in RESOURCE_TYPES
        if rtype != "instance"
        for action in ACTIONS
    ]


def all_access_permissions(org_id: str, user_id: str) -> list[Permission]:
    perms = []
    for rtype in RESOURCE_TYPES:
        if rtype == "instance":
            continue
        for action in ACTIONS:
            if rtype == "orgs":
                perms.append(Permission(action, rtype, id=org_id))
            elif rtype == "users":
                perms.append(Permission(action, rtype, id=user_id))
            else:
                perms.append(Permission(action, rtype, org_id=org_id))
    return perms
