"""The app's own tables: one, the per-device lock that serializes changes across processes.

Device data lives in InfluxDB; the database (shared by every gunicorn worker and host) only
coordinates changes of it (``devices.influx.locks``).
"""

from __future__ import annotations

from django.db import models


class DeviceLock(models.Model):
    """One row per device id that was ever changed: who holds the change lock, until when, and
    whether a change of the device ended without knowing what InfluxDB holds (``unsettled``:
    the next change, or ``influx_check --revoke-orphans``, compares the device's
    authorizations with the registry and revokes the strays)."""

    # The device id (or, for an id longer than the column, a digest of it: see locks.lock_key).
    device_id = models.CharField(max_length=128, unique=True)
    holder = models.CharField(max_length=32, blank=True, default="")
    expires_at = models.DateTimeField(null=True, blank=True)
    unsettled = models.BooleanField(default=False)

    class Meta:
        verbose_name = "device change lock"

    def __str__(self) -> str:
        return f"{self.device_id} ({'held' if self.holder else 'free'})"
