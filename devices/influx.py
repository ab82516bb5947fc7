"""The one module that talks to InfluxDB (the only importer of ``influxdb_client``).

CONTRACT STUB written by the lead: names, signatures and types here are what views, the API,
commands and tests use. The service helper fills in the bodies; keep the signatures (add
keyword arguments with defaults if needed, and tell the lead).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# ---- exceptions (views turn these into pages; nothing else of the client leaks out) ----------


class InfluxError(Exception):
    """Base class of every error this module raises."""


class InfluxUnavailable(InfluxError):
    """InfluxDB unreachable, too slow (timeout), 5xx or rate-limited after retries.

    ``url`` is the configured INFLUX_URL (never a token). Views answer 503
    "InfluxDB unavailable at <url>".
    """

    def __init__(self, url: str, reason: str):
        super().__init__(f"InfluxDB unavailable at {url}: {reason}")
        self.url = url
        self.reason = reason


class InfluxMisconfigured(InfluxError):
    """Settings or token do not let the app work (401/403, missing org or bucket).

    The message says what to fix, e.g. "bucket 'iot_center' not found: run manage.py influx_setup".
    """


class DeviceNotFound(InfluxError):
    pass


class DeviceExists(InfluxError):
    pass


class InvalidDeviceId(InfluxError, ValueError):
    """Raised before any query when an id breaks the id rules (see ``devices.flux``)."""


# ---- result types ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Device:
    device_id: str
    key: str  # InfluxDB authorization id
    created_at: datetime | None  # the registry point's createdAt field (or its time)
    last_seen: datetime | None = None  # newest telemetry point, None if none
    token_hint: str = ""  # masked token for display, e.g. "••••••••3xQ==" (never the token)


@dataclass(frozen=True)
class DeviceCredentials:
    """Returned only by register/rotate: the one place a token is shown in full."""

    device_id: str
    key: str
    token: str
    url: str
    org: str
    bucket: str

    def config(self) -> dict[str, str]:
        """The device configuration operators copy or download (JSON-able)."""
        raise NotImplementedError

    def __repr__(self) -> str:  # tokens never reach logs through repr
        return f"DeviceCredentials(device_id={self.device_id!r}, key={self.key!r}, token=***)"


@dataclass(frozen=True)
class DevicePage:
    devices: list[Device]
    total: int  # devices matching the search
    page: int
    per_page: int
    num_pages: int


@dataclass(frozen=True)
class Reading:
    field: str
    value: float | int | str | bool
    time: datetime


@dataclass(frozen=True)
class FieldStats:
    field: str
    count: int
    min: float | None
    max: float | None
    last_time: datetime | None


@dataclass(frozen=True)
class SeriesPoint:
    time: datetime
    value: float | None


# Dashboard ranges: key -> (flux duration, aggregateWindow every). "1d" is the default.
RANGES: dict[str, tuple[str, str]] = {
    "5m": ("-5m", "10s"),
    "15m": ("-15m", "30s"),
    "1h": ("-1h", "1m"),
    "6h": ("-6h", "5m"),
    "1d": ("-1d", "15m"),
    "3d": ("-3d", "30m"),
    "7d": ("-7d", "1h"),
    "30d": ("-30d", "2h"),
}
DEFAULT_RANGE = "1d"


# ---- operations ---------------------------------------------------------------------------------


def reset_client() -> None:
    """Close and forget the shared client (settings changed, tests, after fork)."""
    raise NotImplementedError


def list_devices(*, search: str = "", page: int = 1, per_page: int = 50) -> DevicePage:
    """Registered (not soft-deleted) devices, id contains ``search`` (case-insensitive),
    sorted by id, with last telemetry time; a constant number of queries per call."""
    raise NotImplementedError


def get_device(device_id: str) -> Device:
    """Raises InvalidDeviceId, DeviceNotFound."""
    raise NotImplementedError


def register_device(device_id: str | None = None) -> DeviceCredentials:
    """Empty/None id: a generated one. Raises InvalidDeviceId, DeviceExists."""
    raise NotImplementedError


def remove_device(device_id: str, *, delete_telemetry: bool = False) -> None:
    """Revoke the authorization (already gone is fine), soft-delete the registry point."""
    raise NotImplementedError


def rotate_token(device_id: str) -> DeviceCredentials:
    """New authorization first, registry updated, old one revoked."""
    raise NotImplementedError


def latest_readings(device_id: str) -> list[Reading]:
    """Latest value of each telemetry field of the device, sorted by field."""
    raise NotImplementedError


def field_stats(device_id: str, *, range_key: str = DEFAULT_RANGE) -> list[FieldStats]:
    """Per field count/min/max/last time over the range, sorted by field."""
    raise NotImplementedError


def telemetry_series(
    device_id: str, *, range_key: str = DEFAULT_RANGE
) -> dict[str, list[SeriesPoint]]:
    """Per numeric field, aggregateWindow(mean) over the range: what dashboard charts draw."""
    raise NotImplementedError


def health() -> dict:
    """``{"status": "pass"|"fail", "url": ..., "message": ...}`` within the timeout; never raises."""
    raise NotImplementedError
