"""Writing as a device: a connection with the device's own token, the telemetry bucket only."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from influxdb_client import Point, WritePrecision

from devices import queries
from devices.simulator import SENSOR_TAGS

from .client import get, new_conn
from .lowlevel import TELEMETRY_SETTING, telemetry_query, write
from .telemetry import owned
from .types import DeviceCredentials


class DeviceSession:
    """A client that acts as one device: its own token, the telemetry bucket only.

    For one device at a time (tests, tools); ``manage.py simulate`` writes whole fleets through
    ``fleet.Fleet``, also with each device's own token. Writes are synchronous (nothing
    buffered to lose) and retried patiently on 429/5xx, honouring Retry-After. Use as a context
    manager.
    """

    def __init__(self, credentials: DeviceCredentials):
        self.credentials = credentials
        self._conn = new_conn(
            url=credentials.url,
            token=credentials.token,
            org=credentials.org,
            bucket=credentials.bucket,
            patient=True,
            credential_label=f"the token of device {credentials.device_id!r}",
            credential_hint="it was revoked or rotated; rotate the device's token",
        )

    def __enter__(self) -> DeviceSession:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._conn.close()

    def last_point_time(self) -> datetime | None:
        """Newest telemetry point of this device. Read with IoT Center's own connection: device
        tokens may only write (unless INFLUX_DEVICE_TOKEN_READ), and the answer is the same."""
        conn = get()
        rows = telemetry_query(
            conn,
            queries.last_point_time(conn.bucket, self.credentials.device_id),
            f"read the last point of device {self.credentials.device_id!r}",
        )
        mine = owned(rows, self.credentials.device_id)
        times = [row["_time"] for row in mine if row.get("_time")]
        return max(times) if times else None

    def write(self, points: Iterable[tuple[datetime, dict[str, float]]]) -> int:
        """Write ``(time, fields)`` telemetry points in one request; returns how many."""
        records = []
        for time, values in points:
            point = Point(queries.TELEMETRY_MEASUREMENT)
            # Both device tags: the tutorial apps read ``device``, iot-center-v2 ``clientId``.
            for tag in queries.DEVICE_TAGS:
                point = point.tag(tag, self.credentials.device_id)
            for tag, value in SENSOR_TAGS.items():
                point = point.tag(tag, value)
            for name, value in values.items():
                point = point.field(name, float(value))
            records.append(point.time(time, WritePrecision.S))
        if records:
            write(
                self._conn,
                self._conn.bucket,
                records,
                f"write telemetry of device {self.credentials.device_id!r}",
                setting=TELEMETRY_SETTING,
            )
        return len(records)
