"""One change of a device at a time, across every process and host: a lock row in the database.

gunicorn workers (and hosts) share the database, not memory, so the lock is a row of
``devices.models.DeviceLock``: taking it is one conditional UPDATE ("set holder = me where
nobody holds it, or the holder's lease ran out"), which only one process can win on SQLite
and on PostgreSQL alike. No transaction stays open while InfluxDB is being asked: the rest of
the site (sessions, logins) never waits for a change.

The row also remembers whether a change of the device ended without knowing what InfluxDB
holds (``unsettled``). It is set *before* every authorization is created and cleared only when
the change ended in a known state, so a page that gave up waiting, a crash or a failed revoke
all leave it set; the next change of the device (or ``influx_check --revoke-orphans``) then
lists the device's authorizations and revokes those the registry does not reference. A change
of a settled device lists nothing: registering stays O(1) requests however many devices exist.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from django.db import OperationalError
from django.db.models import Q
from django.utils import timezone

from devices.models import DeviceLock

from .errors import DeviceBusy

logger = logging.getLogger("devices.influx")

# How long a change waits for another change of the same device to finish.
WAIT_S = 10.0
# How long a lock is held at most without being renewed: a process that died holding it
# (kill -9, a host gone) blocks the device for this long, no longer.
LEASE_S = 120.0
_KEY_MAX = 128  # DeviceLock.device_id's max_length


def lock_key(device_id: str) -> str:
    """The lock row's key of a device id: the id itself, or a digest of a longer one (ids other
    tools wrote may be of any length)."""
    if len(device_id) <= _KEY_MAX:
        return device_id
    return "sha256:" + hashlib.sha256(device_id.encode()).hexdigest()


@dataclass
class Held:
    """A lock held by this change (``holder``): ``settled`` says how the change ended."""

    key: str
    holder: str
    device_id: str
    was_unsettled: bool
    settled: bool = False

    def renew(self) -> bool:
        """Extend the lease; False if the lock was lost (the lease ran out and another change
        took it): the caller must not change the registry then."""
        expires = timezone.now() + timedelta(seconds=LEASE_S)
        return bool(
            _retrying(lambda: _rows(self.key, holder=self.holder).update(expires_at=expires))
        )

    def mark_unsettled(self) -> None:
        """Persist now (not at release) that this change may leave a stray authorization: a
        crash before the release must not lose it."""
        self.settled = False
        _retrying(lambda: _rows(self.key).update(unsettled=True))


def _rows(key: str, **match):
    return DeviceLock.objects.filter(device_id=key, **match)


def _retrying(fn, *, attempts: int = 50):
    """``fn()``, again while SQLite says the database is locked (another process writing at
    that instant: only a moment on a database that holds no long transactions)."""
    for attempt in range(attempts):
        try:
            return fn()
        except OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(min(0.01 * (attempt + 1), 0.1))
    return None  # not reached


def _try_take(key: str, holder: str) -> bool:
    now = timezone.now()
    free = Q(holder="") | Q(expires_at__isnull=True) | Q(expires_at__lt=now)
    taken = DeviceLock.objects.filter(free, device_id=key).update(
        holder=holder, expires_at=now + timedelta(seconds=LEASE_S)
    )
    return bool(taken)


def acquire(device_id: str, *, wait_s: float | None = None, url: str = "") -> Held:
    """Take the device's lock, waiting up to ``wait_s`` seconds (``WAIT_S``) for another
    change to finish; ``DeviceBusy`` if it does not."""
    key = lock_key(device_id)
    holder = uuid.uuid4().hex
    _retrying(lambda: DeviceLock.objects.get_or_create(device_id=key))
    deadline = time.monotonic() + (WAIT_S if wait_s is None else wait_s)
    pause = 0.01
    while not _retrying(lambda: _try_take(key, holder)):
        if time.monotonic() >= deadline:
            raise DeviceBusy(
                f"another change to device {device_id!r} is in progress (register, rotate or "
                "remove, here or in another window): wait a moment, look at the device and "
                "try again",
                url=url,
            )
        time.sleep(pause)
        pause = min(pause * 2, 0.1)
    unsettled = _retrying(lambda: _rows(key).values_list("unsettled", flat=True).first())
    return Held(key=key, holder=holder, device_id=device_id, was_unsettled=bool(unsettled))


def release(held: Held) -> None:
    """Give the lock back, recording whether the change ended in a known state."""
    changes = {"holder": "", "expires_at": None}
    if held.settled:
        changes["unsettled"] = False
    try:
        released = _retrying(lambda: _rows(held.key, holder=held.holder).update(**changes))
    except Exception:  # the lease runs out by itself; the change's outcome stands
        logger.exception("device %r: change lock not released", held.device_id)
        return
    if not released:
        logger.error(
            "device %r: the change outlived its %g s lock lease; another change may have run "
            "at the same time: run manage.py influx_check",
            held.device_id,
            LEASE_S,
        )


@contextmanager
def device_lock(device_id: str, *, wait_s: float | None = None, url: str = "") -> Iterator[Held]:
    """``acquire`` … ``release``; set ``held.settled = True`` when the change ends known."""
    held = acquire(device_id, wait_s=wait_s, url=url)
    try:
        yield held
    finally:
        release(held)


def unsettled_device_keys() -> set[str]:
    """Lock keys of the devices whose last change did not end in a known state."""
    return set(DeviceLock.objects.filter(unsettled=True).values_list("device_id", flat=True))
