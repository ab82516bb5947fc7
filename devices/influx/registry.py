"""Changes of the registry (services): register, rotate, remove, reconcile, orphans.

InfluxDB has no transactions: a change is authorization calls plus a registry write, and any of
them may fail, or time out after InfluxDB carried it out. So every change starts and ends by
reconciling the device's authorizations with what the registry holds (``_reconcile``): the one
the registry references stays, every other authorization of the device on our bucket is
revoked. A new authorization is revoked only once the registry is known not to reference it.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from influxdb_client.domain.authorization import Authorization
from influxdb_client.domain.permission import Permission
from influxdb_client.domain.permission_resource import PermissionResource
from influxdb_client.rest import ApiException
from influxdb_client.service.authorizations_service import AuthorizationsService

from devices import queries
from devices.ids import is_valid_device_id

from .client import Conn, get
from .deadline import mutation
from .devices import credentials
from .errors import DeviceExists, InfluxError, InfluxUnavailable, bucket_missing, guard
from .lowlevel import (
    REGISTRY_SETTING,
    TELEMETRY_SETTING,
    check_id,
    now,
    org_id,
    registration,
    registry_all,
    registry_point,
    require_registered,
    telemetry_bucket_id,
    telemetry_query,
    write,
)
from .types import DeviceCredentials, OrphanAuthorization, Registration

logger = logging.getLogger("devices.influx")

AUTH_DESCRIPTION_PREFIX = "IoTCenterDevice: "


# ---- authorizations ----------------------------------------------------------------------------


def create_authorization(
    conn: Conn, device_id: str, *, bucket_id: str | None = None
) -> Authorization:
    """A token that can write (and read) the telemetry bucket only: never the registry."""
    org = org_id(conn)
    bucket_id = bucket_id or telemetry_bucket_id(conn)
    resource = PermissionResource(type="buckets", id=bucket_id, org_id=org)
    auth = Authorization(
        org_id=org,
        description=f"{AUTH_DESCRIPTION_PREFIX}{device_id}",
        permissions=[
            Permission(action="read", resource=resource),
            Permission(action="write", resource=resource),
        ],
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


def _revoke_quietly(conn: Conn, device_id: str, key: str) -> None:
    """Revoke an authorization the registry does not reference; if InfluxDB refuses now, the
    next change of the device revokes it (``_reconcile``)."""
    try:
        delete_authorization(conn, key)
    except InfluxError as exc:
        logger.error(
            "device %r: authorization %s is not in the registry and could not be revoked (%s); "
            "the next register, rotate or remove of the device revokes it",
            device_id,
            key,
            exc,
        )


def _device_authorizations(
    conn: Conn, bucket_id: str, *, device_id: str | None = None
) -> dict[str, list[str]]:
    """device id -> ids of the authorizations made for it (by their description) on our
    bucket, from one listing of the org's authorizations; only ``device_id``'s if given."""
    org = org_id(conn)
    what = "list device authorizations"
    if device_id is not None:
        what = f"list the authorizations of device {device_id!r}"
    with guard(conn, what):
        # InfluxDB filters authorizations by user or organization only, not by description, so
        # the org's whole list comes back: read it as plain JSON. Building the client's model
        # objects for it costs ~0.3 ms each (seconds at 10,000 devices).
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


def _reconcile(conn: Conn, device_id: str, bucket_id: str, reg: Registration | None) -> list[str]:
    """Revoke the device's authorizations that the registry entry ``reg`` does not reference
    (all of them when the device is not registered or removed). Returns the ids revoked."""
    keep = reg.key if reg is not None else ""
    revoked = []
    for auth_id in _device_authorizations(conn, bucket_id, device_id=device_id).get(device_id, []):
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


def _reconcile_quietly(
    conn: Conn, device_id: str, bucket_id: str, reg: Registration | None = None
) -> None:
    """``_reconcile`` at the end of a change, against ``reg`` or the registry read afresh. The
    change's outcome stands either way: what is left over, the next change settles."""
    try:
        if reg is None:
            reg = registration(conn, device_id)
        _reconcile(conn, device_id, bucket_id, reg)
    except InfluxError as exc:
        logger.warning(
            "device %r: authorizations not checked against the registry (%s); the next "
            "register, rotate or remove of the device does it",
            device_id,
            exc,
        )


# ---- one change at a time ----------------------------------------------------------------------

_id_locks: weakref.WeakValueDictionary[str, threading.Lock] = weakref.WeakValueDictionary()
_id_locks_guard = threading.Lock()


@contextmanager
def _device_lock(device_id: str) -> Iterator[None]:
    """One change of a device at a time in this process (a double click, two threads). Across
    processes, reading the registry back after writing settles who won (``register_device``)."""
    with _id_locks_guard:
        lock = _id_locks.get(device_id)
        if lock is None:
            lock = _id_locks[device_id] = threading.Lock()
    with lock:
        yield


@contextmanager
def _changing(device_id: str) -> Iterator[tuple[Conn, str, Registration | None]]:
    """Start a change of one device: this process's lock on the id, the telemetry bucket id, the
    registry entry as it is now, and the leftovers of earlier changes that failed half-way
    revoked first. Yields ``(conn, bucket_id, registration)``."""
    conn = get()
    with mutation(), _device_lock(device_id):
        bucket_id = telemetry_bucket_id(conn)
        reg = registration(conn, device_id)
        _reconcile(conn, device_id, bucket_id, reg)
        yield conn, bucket_id, reg


def _write_registry(conn: Conn, point, what: str) -> None:
    write(conn, conn.bucket_auth, point, what, setting=REGISTRY_SETTING)


def _new_authorization(conn: Conn, device_id: str, bucket_id: str) -> Authorization:
    try:
        return create_authorization(conn, device_id, bucket_id=bucket_id)
    except InfluxUnavailable as exc:
        if exc.unclear:
            # InfluxDB may have created it and lost the answer: nothing references it yet.
            _reconcile_quietly(conn, device_id, bucket_id)
        raise


def _store_registration(
    conn: Conn, device_id: str, auth: Authorization, created_at: datetime | None, what: str
) -> Registration | None:
    """Point the registry at ``auth``; returns the entry read back afterwards (None if only
    that read failed), which may name another key if another process wrote at the same time.

    If the write fails, ``auth`` is revoked, unless InfluxDB stored the point after all and only
    the answer was lost. When no answer came, the entry found is first written again with a
    newer time, so that the lost write, should it still arrive, is older and cannot win.
    """
    try:
        _write_registry(conn, registry_point(device_id, auth.id, auth.token, created_at), what)
    except InfluxError as exc:
        failure = exc
    else:
        try:
            return registration(conn, device_id)
        except InfluxError as exc:
            logger.warning("device %r: registry not read back after writing (%s)", device_id, exc)
            return None
    if isinstance(failure, InfluxUnavailable) and failure.unclear:
        try:
            current = registration(conn, device_id)
            if current is not None and current.key == auth.id:
                logger.warning("device %r: registry write stored though unanswered", device_id)
                return current
            again = registry_point(
                device_id,
                current.key if current else "",
                current.token if current else "",
                current.created_at if current else None,
            )
            _write_registry(conn, again, what)
        except InfluxError as exc:
            # Unknown whether the registry will reference the new authorization: it stays,
            # and the next change of the device keeps or revokes it by what the registry holds.
            logger.error(
                "device %r: registry write unanswered and not verifiable (%s); authorization "
                "%s is left for the next register, rotate or remove of the device to settle",
                device_id,
                exc,
                auth.id,
            )
            raise failure from None
    _revoke_quietly(conn, device_id, auth.id)
    raise failure


def _issue_token(
    conn: Conn, device_id: str, bucket_id: str, created_at: datetime | None, what: str
) -> tuple[Authorization, Registration | None] | None:
    """A new authorization for the device, with the registry pointing at it: ``(auth, entry
    read back)``. None when another process wrote the device's entry at the same moment and
    its write won; ours is then revoked."""
    auth = _new_authorization(conn, device_id, bucket_id)
    current = _store_registration(conn, device_id, auth, created_at, what)
    if current is not None and current.key != auth.id:
        _revoke_quietly(conn, device_id, auth.id)
        return None
    return auth, current


# ---- register, rotate, remove ------------------------------------------------------------------


def register_device(device_id: str | None = None) -> DeviceCredentials:
    """Empty/None id: a generated one. Raises InvalidDeviceId, DeviceExists."""
    device_id = (device_id or "").strip() or str(uuid.uuid4())
    device_id = check_id(device_id)
    with _changing(device_id) as (conn, bucket_id, existing):
        if existing is not None and existing.key:
            raise DeviceExists(f"device {device_id!r} is already registered")
        # createdAt marks this registration; a device removed earlier starts afresh.
        issued = _issue_token(conn, device_id, bucket_id, now(), f"register device {device_id!r}")
        if issued is None:
            raise DeviceExists(f"device {device_id!r} is already registered")
        auth, current = issued
        _reconcile_quietly(conn, device_id, bucket_id, current)
    logger.info("registered device %r (authorization %s)", device_id, auth.id)
    return credentials(conn, device_id, auth.id, auth.token)


def rotate_token(device_id: str) -> DeviceCredentials:
    """New authorization first, registry updated, old one revoked."""
    device_id = check_id(device_id)
    # _changing also revokes the old key of an earlier rotation that could not revoke it.
    with _changing(device_id) as (conn, bucket_id, reg):
        reg = require_registered(reg, device_id)
        # createdAt keeps marking the first registration (written out for devices registered
        # by the reference apps, whose registration time was only the point's time).
        what = f"store the new token of device {device_id!r}"
        issued = _issue_token(conn, device_id, bucket_id, reg.created_at, what)
        if issued is None:
            raise InfluxUnavailable(
                conn.url,
                f"device {device_id!r} was changed elsewhere while its token was being "
                "rotated; look at the device and try again",
            )
        auth, current = issued
        try:
            delete_authorization(conn, reg.key)
        except InfluxError as exc:
            # The registry already holds the new token; the old one must not stay valid
            # unnoticed.
            raise InfluxUnavailable(
                conn.url,
                f"new token stored, but the old authorization {reg.key} of device "
                f"{device_id!r} could not be revoked ({exc}): rotate again or delete it in "
                "InfluxDB",
            ) from None
        _reconcile_quietly(conn, device_id, bucket_id, current)
    logger.info("rotated the token of device %r (authorization %s)", device_id, auth.id)
    return credentials(conn, device_id, auth.id, auth.token)


def _delete_telemetry(conn: Conn, device_id: str) -> list[dict]:
    """Delete the device's telemetry; returns the rows showing other devices' points tagged
    ``device=<id>`` (kept: the delete API cannot tell them apart), if any."""
    # One delete per device tag (``device``, then iot-center-v2's ``clientId``): the delete
    # predicate has no OR. A failure in between leaves the device listed, and removing it
    # again deletes what is left.
    predicates = queries.telemetry_delete_predicates(device_id)
    shared = telemetry_query(
        conn,
        queries.shared_device_tag(conn.bucket, device_id),
        f"check whose telemetry is tagged device={device_id!r}",
    )
    if shared:
        predicates.remove(queries.telemetry_delete_predicate(device_id, queries.DEVICE_TAG))
        logger.warning(
            "device %r: telemetry tagged device=%r kept: other devices' points (clientId "
            "%r) carry the same tag",
            device_id,
            device_id,
            shared[0].get(queries.CLIENT_ID_TAG),
        )
    for predicate in predicates:
        with guard(
            conn,
            f"delete the telemetry of device {device_id!r}",
            not_found=bucket_missing(conn.bucket, TELEMETRY_SETTING),
        ):
            conn.client.delete_api().delete(
                start="1970-01-01T00:00:00Z",
                stop="2262-01-01T00:00:00Z",
                predicate=predicate,
                bucket=conn.bucket,
                org=conn.org,
            )
    return shared


def remove_device(device_id: str, *, delete_telemetry: bool = False) -> bool:
    """Delete the telemetry if asked, revoke the authorization (already gone is fine), then
    soft-delete the registry entry: a failure at any step leaves the device listed, so removing
    it again finishes the job.

    Returns False when telemetry tagged ``device=<id>`` had to be kept because other devices'
    points carry that tag too (iot-center-v2 boards named like this id): the delete API cannot
    tell them apart. True otherwise.
    """
    device_id = check_id(device_id)
    shared: list[dict] = []  # other devices' points tagged device=<id>, if any
    with _changing(device_id) as (conn, bucket_id, reg):
        reg = require_registered(reg, device_id)
        if delete_telemetry:
            # First: once the device is gone from the list, nobody could ask again.
            shared = _delete_telemetry(conn, device_id)
        delete_authorization(conn, reg.key)
        _write_registry(
            conn, registry_point(device_id, "", "", None), f"remove device {device_id!r}"
        )
        _reconcile_quietly(conn, device_id, bucket_id)
    logger.info("removed device %r (telemetry deleted: %s)", device_id, delete_telemetry)
    return not shared


# ---- orphans -----------------------------------------------------------------------------------


def find_orphans(
    conn: Conn, bucket_id: str, registry: dict[str, Registration]
) -> list[OrphanAuthorization]:
    """Device authorizations on ``bucket_id`` that ``registry`` does not reference."""
    orphans = []
    for device_id, auth_ids in sorted(_device_authorizations(conn, bucket_id).items()):
        entry = registry.get(device_id)
        keep = entry.key if entry is not None else ""
        orphans.extend(OrphanAuthorization(device_id, a) for a in auth_ids if a != keep)
    return orphans


def orphan_authorizations() -> list[OrphanAuthorization]:
    """Every device authorization (description ``IoTCenterDevice: <id>``) on the telemetry
    bucket that the registry does not reference, sorted by device id: two requests."""
    conn = get()
    bucket_id = telemetry_bucket_id(conn)
    return find_orphans(conn, bucket_id, registry_all(conn))


def revoke_orphan_authorizations() -> list[OrphanAuthorization]:
    """Revoke what ``orphan_authorizations`` reports; returns what was revoked.

    Device by device, as a register, rotate or remove of the device starts (``_reconcile``
    against the registry read afresh, under the device's lock): an authorization a change in
    this process is about to store is never taken for an orphan. A change running in another
    process at this moment could be; run this when no one is registering devices.
    """
    conn = get()
    revoked: list[OrphanAuthorization] = []
    with mutation():
        bucket_id = telemetry_bucket_id(conn)
        found = find_orphans(conn, bucket_id, registry_all(conn))
        for device_id in dict.fromkeys(o.device_id for o in found):
            with _device_lock(device_id):
                if is_valid_device_id(device_id):
                    reg = registration(conn, device_id)
                else:
                    # An id our queries cannot name (another tool's): its registry entry, if
                    # any, from the whole registry.
                    reg = registry_all(conn).get(device_id)
                done = _reconcile(conn, device_id, bucket_id, reg)
            revoked.extend(OrphanAuthorization(device_id, a) for a in done)
    return revoked
