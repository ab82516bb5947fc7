"""Changes of the registry (services): register, rotate, remove, and the orphan sweep.

InfluxDB has no transactions: a change is authorization calls plus a registry write, and any of
them may fail, or time out after InfluxDB carried it out. Two rules keep every device in a
known state:

* one change of a device at a time, across every worker process and host: a lock row in the
  database (``locks``), not a per-process lock;
* the lock row says whether the device's last change ended in a known state. It is marked
  unsettled before an authorization is created and settled only once the registry references
  the device's one live authorization; a change that finds it unsettled first lists the device's
  authorizations and revokes those the registry does not reference (``authorizations.reconcile``).
  A change of a settled device lists nothing: a registration costs the same few requests
  whether 10 or 10,000 devices exist.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from influxdb_client.domain.authorization import Authorization

from devices import queries
from devices.ids import is_valid_device_id

from . import locks
from .authorizations import (
    create_authorization,
    delete_authorization,
    find_orphans,
    reconcile,
    revoke_quietly,
)
from .client import Conn, get
from .deadline import mutation
from .devices import credentials
from .errors import DeviceBusy, DeviceExists, InfluxError, InfluxUnavailable, bucket_missing, guard
from .lowlevel import (
    REGISTRY_SETTING,
    TELEMETRY_SETTING,
    check_id,
    now,
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

__all__ = [
    "create_authorization",
    "delete_authorization",
    "find_orphans",
    "orphan_authorizations",
    "register_device",
    "remove_device",
    "revoke_orphan_authorizations",
    "rotate_token",
]


# ---- one change at a time ----------------------------------------------------------------------


@dataclass
class Change:
    conn: Conn
    bucket_id: str
    reg: Registration | None  # the registry entry as the change started
    held: locks.Held


@contextmanager
def _changing(device_id: str, *, check_all: bool = False) -> Iterator[Change]:
    """Start a change of one device: the device's lock (every process, every host), the
    telemetry bucket id, the registry entry as it is now; the device's authorizations are
    compared with the registry first when its last change did not end in a known state (or
    ``check_all``)."""
    conn = get()
    with mutation(), locks.device_lock(device_id, url=conn.url) as held:
        bucket_id = telemetry_bucket_id(conn)
        reg = registration(conn, device_id)
        if held.was_unsettled or check_all:
            reconcile(conn, device_id, bucket_id, reg)
        held.settled = True  # known now; an authorization about to be made unsettles it
        yield Change(conn, bucket_id, reg, held)


def _write_registry(conn: Conn, point, what: str) -> None:
    write(conn, conn.bucket_auth, point, what, setting=REGISTRY_SETTING)


def _store_registration(
    conn: Conn, device_id: str, auth: Authorization, point, what: str
) -> Registration | None:
    """Point the registry at ``auth`` (``point``); returns the entry read back afterwards (None
    if only that read failed), which names another key if another tool wrote at the same time.

    If the write fails, ``auth`` is revoked, unless InfluxDB stored the point after all and only
    the answer was lost. When no answer came, the entry found is first written again with a
    newer time, so that the lost write, should it still arrive, is older and cannot win.
    """
    try:
        _write_registry(conn, point, what)
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
                rotated_at=current.rotated_at if current else None,
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
    revoke_quietly(conn, device_id, auth.id)
    raise failure


def _issue_token(
    change: Change, device_id: str, created_at: datetime | None, what: str, *, rotated: bool
) -> tuple[Authorization, Registration | None] | None:
    """A new authorization for the device, with the registry pointing at it: ``(auth, entry
    read back)``. None when another tool wrote the device's entry at the same moment and its
    write won; ours is then revoked. The device stays unsettled unless this ends with the
    registry referencing the new authorization."""
    conn, held = change.conn, change.held
    held.mark_unsettled()  # before the create: a page that gives up waiting leaves it set
    try:
        auth = create_authorization(conn, device_id, bucket_id=change.bucket_id)
    except InfluxUnavailable as exc:
        held.settled = not exc.unclear  # refused outright: nothing was created
        raise
    except InfluxError:
        held.settled = True
        raise
    if not held.renew():
        # The lease ran out (a very slow InfluxDB) and another change may be running: do not
        # touch the registry; the next change settles the device.
        revoke_quietly(conn, device_id, auth.id)
        raise DeviceBusy(
            f"the change of device {device_id!r} took too long and was given up; look at the "
            "device and try again",
            url=conn.url,
        )
    point = registry_point(
        device_id, auth.id, auth.token, created_at, rotated_at=now() if rotated else None
    )
    current = _store_registration(conn, device_id, auth, point, what)
    if current is not None and current.key != auth.id:
        held.settled = revoke_quietly(conn, device_id, auth.id)
        return None
    held.settled = current is not None  # known: the registry references the new one
    return auth, current


# ---- register, rotate, remove ------------------------------------------------------------------


def register_device(device_id: str | None = None) -> DeviceCredentials:
    """Empty/None id: a generated one. Raises InvalidDeviceId, DeviceExists (also to the second
    of two submits of one registration: it waits for the first, then finds the device), and
    DeviceBusy when another change of the id does not finish within ``locks.WAIT_S``."""
    device_id = (device_id or "").strip() or str(uuid.uuid4())
    device_id = check_id(device_id)
    with _changing(device_id) as change:
        existing = change.reg
        if existing is not None and existing.key:
            raise DeviceExists(f"device {device_id!r} is already registered")
        # createdAt marks this registration; a device removed earlier starts afresh.
        issued = _issue_token(
            change, device_id, now(), f"register device {device_id!r}", rotated=False
        )
        if issued is None:
            raise DeviceExists(f"device {device_id!r} is already registered")
        auth, _ = issued
    logger.info("registered device %r (authorization %s)", device_id, auth.id)
    return credentials(change.conn, device_id, auth.id, auth.token)


def _old_token_warning(device_id: str, old_key: str, exc: InfluxError) -> str:
    unclear = isinstance(exc, InfluxUnavailable) and exc.unclear
    state = (
        "may still work (InfluxDB did not answer whether it revoked it)"
        if unclear
        else "could NOT be revoked and still works"
    )
    return (
        f"The new token of {device_id} below works and is stored; the old token "
        f"(authorization {old_key}) {state}. Revoke it with `manage.py influx_check "
        "--revoke-orphans`, or rotate the token again."
    )


def rotate_token(device_id: str) -> DeviceCredentials:
    """New authorization first, registry updated, old one revoked.

    When the old one could not be revoked, the new credentials (valid, and the only place the
    new token is ever shown) come back with ``warning`` saying so and what to do; the device
    stays unsettled, so its next change (or ``influx_check --revoke-orphans``) revokes it.
    """
    device_id = check_id(device_id)
    warning = ""
    with _changing(device_id) as change:
        conn = change.conn
        reg = require_registered(change.reg, device_id)
        # createdAt keeps marking the first registration (written out for devices registered
        # by the reference apps, whose registration time was only the point's time).
        what = f"store the new token of device {device_id!r}"
        issued = _issue_token(change, device_id, reg.created_at, what, rotated=True)
        if issued is None:
            raise InfluxUnavailable(
                conn.url,
                f"device {device_id!r} was changed elsewhere while its token was being "
                "rotated; look at the device and try again",
            )
        auth, _ = issued
        settled = change.held.settled
        change.held.mark_unsettled()  # until the old one is known to be revoked
        try:
            delete_authorization(conn, reg.key)
        except InfluxError as exc:
            # The registry already holds the new token: show it, and say that the old one
            # may still be valid. Never only in the log.
            warning = _old_token_warning(device_id, reg.key, exc)
            logger.error("device %r: %s (%s)", device_id, warning, exc)
        else:
            change.held.settled = settled
    logger.info("rotated the token of device %r (authorization %s)", device_id, auth.id)
    return credentials(conn, device_id, auth.id, auth.token, warning=warning)


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
    """Delete the telemetry if asked, revoke every authorization of the device (its listing:
    removals are rare, and a removed device keeps no token of any tool), then soft-delete the
    registry entry: a failure at any step leaves the device listed, so removing it again
    finishes the job.

    Returns False when telemetry tagged ``device=<id>`` had to be kept because other devices'
    points carry that tag too (iot-center-v2 boards named like this id): the delete API cannot
    tell them apart. True otherwise.
    """
    device_id = check_id(device_id)
    shared: list[dict] = []  # other devices' points tagged device=<id>, if any
    with _changing(device_id, check_all=True) as change:
        conn = change.conn
        reg = require_registered(change.reg, device_id)
        if delete_telemetry:
            # First: once the device is gone from the list, nobody could ask again.
            shared = _delete_telemetry(conn, device_id)
        change.held.mark_unsettled()
        delete_authorization(conn, reg.key)
        _write_registry(
            conn,
            registry_point(device_id, "", "", None, rotated_at=None),
            f"remove device {device_id!r}",
        )
        change.held.settled = True
    logger.info("removed device %r (telemetry deleted: %s)", device_id, delete_telemetry)
    return not shared


# ---- orphans -----------------------------------------------------------------------------------


def orphan_authorizations() -> list[OrphanAuthorization]:
    """Every device authorization (description ``IoTCenterDevice: <id>``) on the telemetry
    bucket that the registry does not reference, sorted by device id: two requests."""
    conn = get()
    bucket_id = telemetry_bucket_id(conn)
    return find_orphans(conn, bucket_id, registry_all(conn))


def revoke_orphan_authorizations() -> list[OrphanAuthorization]:
    """Revoke what ``orphan_authorizations`` reports; returns what was revoked.

    Device by device under the device's lock, as a change of it starts (``reconcile`` against
    the registry read afresh): a change running at this moment in any process finishes first,
    so an authorization it is about to store is never taken for an orphan. A device whose lock
    another change holds for longer than ``locks.WAIT_S``, or whose revoke InfluxDB refuses, is
    skipped (logged): ``orphan_authorizations`` afterwards says what is left.
    """
    conn = get()
    revoked: list[OrphanAuthorization] = []
    with mutation():
        bucket_id = telemetry_bucket_id(conn)
        found = find_orphans(conn, bucket_id, registry_all(conn))
        for device_id in dict.fromkeys(o.device_id for o in found):
            try:
                with locks.device_lock(device_id, url=conn.url) as held:
                    if is_valid_device_id(device_id):
                        reg = registration(conn, device_id)
                    else:
                        # An id our queries cannot name (another tool's): its registry entry,
                        # if any, from the whole registry.
                        reg = registry_all(conn).get(device_id)
                    done = reconcile(conn, device_id, bucket_id, reg)
                    held.settled = True
            except DeviceBusy as exc:
                logger.warning("orphan sweep: %s; skipped", exc)
                continue
            except InfluxError as exc:
                # The device stays unsettled; the caller (influx_check) lists what is left.
                logger.error("orphan sweep: device %r not settled (%s)", device_id, exc)
                continue
            revoked.extend(OrphanAuthorization(device_id, a) for a in done)
    return revoked
