"""Device authorizations in InfluxDB: create, revoke, list a device's, reconcile, orphans.

A device's authorization carries the reference apps' description ``IoTCenterDevice: <id>`` and
permissions on the telemetry bucket only (never the registry): write, plus read only where
``INFLUX_DEVICE_TOKEN_READ`` asks for it.
"""

from __future__ import annotations

import json
import logging

from django.conf import settings
from influxdb_client.domain.authorization import Authorization
from influxdb_client.domain.permission import Permission
from influxdb_client.domain.permission_resource import PermissionResource
from influxdb_client.rest import ApiException
from influxdb_client.service.authorizations_service import AuthorizationsService

from .client import Conn
from .errors import InfluxError, guard
from .lowlevel import org_id, telemetry_bucket_id
from .types import OrphanAuthorization, Registration

logger = logging.getLogger("devices.influx")

AUTH_DESCRIPTION_PREFIX = "IoTCenterDevice: "


def device_token_reads() -> bool:
    """True when device tokens may also read the telemetry bucket (INFLUX_DEVICE_TOKEN_READ)."""
    return bool(getattr(settings, "INFLUX_DEVICE_TOKEN_READ", False))


def create_authorization(
    conn: Conn, device_id: str, *, bucket_id: str | None = None
) -> Authorization:
    """A token that can write the telemetry bucket (and read it, if INFLUX_DEVICE_TOKEN_READ):
    never the registry."""
    org = org_id(conn)
    bucket_id = bucket_id or telemetry_bucket_id(conn)
    resource = PermissionResource(type="buckets", id=bucket_id, org_id=org)
    actions = ["read", "write"] if device_token_reads() else ["write"]
    auth = Authorization(
        org_id=org,
        description=f"{AUTH_DESCRIPTION_PREFIX}{device_id}",
        permissions=[Permission(action=a, resource=resource) for a in actions],
    )
    with guard(conn, "create a device authorization"):
        return conn.client.authorizations_api().create_authorization(authorization=auth)


def delete_authorization(conn: Conn, key: str) -> None:
    """Revoke an authorization; one that is already gone is fine."""
    if not key:
        return
    with guard(conn, f"delete authorization {key}"):
        try:
            conn.client.authorizations_api().delete_authorization(key)
        except ApiException as exc:
            # 404: already deleted (e.g. in the InfluxDB UI). 400: an id InfluxDB cannot
            # parse, written by some other tool; there is nothing to revoke either way.
            if exc.status in (400, 404):
                return
            raise


def revoke_quietly(conn: Conn, device_id: str, key: str) -> bool:
    """Revoke an authorization the registry does not reference; False (logged) if InfluxDB
    refused now: the device's change lock stays unsettled, so the next change revokes it."""
    try:
        delete_authorization(conn, key)
    except InfluxError as exc:
        logger.error(
            "device %r: authorization %s is not in the registry and could not be revoked (%s); "
            "the next register, rotate or remove of the device revokes it, as does manage.py "
            "influx_check --revoke-orphans",
            device_id,
            key,
            exc,
        )
        return False
    return True


def device_authorizations(
    conn: Conn, bucket_id: str, *, device_id: str | None = None
) -> dict[str, list[str]]:
    """device id -> ids of the authorizations made for it (by their description) on our
    bucket, from one listing of the org's authorizations; only ``device_id``'s if given.

    O(authorizations in the org): InfluxDB 2.7 filters the listing by user or organization
    only. Changes call it only for a device whose last change did not end in a known state,
    and for removals (``registry``); ``influx_check`` for the orphan report.
    """
    org = org_id(conn)
    what = "list device authorizations"
    if device_id is not None:
        what = f"list the authorizations of device {device_id!r}"
    with guard(conn, what):
        # Plain JSON: building the client's model objects costs ~0.3 ms each (seconds at
        # 10,000 devices).
        response = AuthorizationsService(conn.client.api_client).get_authorizations(
            org_id=org, _preload_content=False
        )
        body = response.data
    found = json.loads(body).get("authorizations") or []
    by_device: dict[str, list[str]] = {}
    for auth in found:
        description = auth.get("description") or ""
        if not description.startswith(AUTH_DESCRIPTION_PREFIX):
            continue
        owner = description[len(AUTH_DESCRIPTION_PREFIX) :]
        if device_id is not None and owner != device_id:
            continue
        if any(
            (p.get("resource") or {}).get("id") == bucket_id for p in auth.get("permissions") or []
        ):
            by_device.setdefault(owner, []).append(auth["id"])
    return by_device


def reconcile(conn: Conn, device_id: str, bucket_id: str, reg: Registration | None) -> list[str]:
    """Revoke the device's authorizations that the registry entry ``reg`` does not reference
    (all of them when the device is not registered or removed). Returns the ids revoked."""
    keep = reg.key if reg is not None else ""
    revoked = []
    for auth_id in device_authorizations(conn, bucket_id, device_id=device_id).get(device_id, []):
        if auth_id != keep:
            delete_authorization(conn, auth_id)
            revoked.append(auth_id)
    if revoked:
        logger.warning(
            "device %r: revoked authorization(s) %s, which the registry does not reference",
            device_id,
            ", ".join(revoked),
        )
    return revoked


def find_orphans(
    conn: Conn, bucket_id: str, registry: dict[str, Registration]
) -> list[OrphanAuthorization]:
    """Device authorizations on ``bucket_id`` that ``registry`` does not reference."""
    orphans = []
    for device_id, auth_ids in sorted(device_authorizations(conn, bucket_id).items()):
        entry = registry.get(device_id)
        keep = entry.key if entry is not None else ""
        orphans.extend(OrphanAuthorization(device_id, a) for a in auth_ids if a != keep)
    return orphans
