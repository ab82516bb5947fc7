"""Small result types of the service: what views, the API and commands get back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from devices import queries

# What a real device is told besides its credentials (the reference apps' defaults).
MEASUREMENT_INTERVAL_S = 60
CONFIG_REFRESH_S = 3600

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


@dataclass(frozen=True)
class Device:
    device_id: str
    key: str  # InfluxDB authorization id
    created_at: datetime | None  # the registry point's createdAt field (or its time)
    last_seen: datetime | None = None  # newest telemetry point, None if none
    token_hint: str = ""  # masked token for display, e.g. "••••••••3xQ==" (never the token)
    rotated_at: datetime | None = None  # the last rotation of its token, None if never


@dataclass(frozen=True)
class DeviceCredentials:
    """Returned only by register/rotate: the one place a token is shown in full."""

    device_id: str
    key: str
    token: str
    url: str
    org: str
    bucket: str
    # Set when the change worked but left something for the operator to do (a rotation that
    # could not revoke the old token): shown with the token, in words.
    warning: str = ""

    def config(self) -> dict[str, str | int]:
        """The device configuration operators copy or download (JSON-able)."""
        return {
            "influx_url": self.url,
            "org": self.org,
            "bucket": self.bucket,
            "token": self.token,
            "device_id": self.device_id,
            "measurement": queries.TELEMETRY_MEASUREMENT,
            "measurement_interval": MEASUREMENT_INTERVAL_S,
            "config_refresh": CONFIG_REFRESH_S,
        }

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


class SeriesPoint(NamedTuple):
    """One point of a chart: a window's time and mean (None: not a finite number). A named
    tuple, not a dataclass: a 30-day board has 2,500 of them, made again on every read."""

    time: datetime
    value: float | None


@dataclass(frozen=True)
class DeviceView:
    """What a device's page shows, read in one request (``device_view``)."""

    device: Device
    readings: list[Reading]
    stats: list[FieldStats] = field(default_factory=list)  # only if asked for
    series: dict[str, list[SeriesPoint]] = field(default_factory=dict)  # only if asked for


@dataclass(frozen=True)
class Registration:
    """A device's registry entry; a removed (soft-deleted) device has ``key == ""``."""

    device_id: str
    key: str
    token: str = field(repr=False)
    created_at: datetime | None = None
    rotated_at: datetime | None = None  # ``rotatedAt``: the last rotation, None if never


@dataclass(frozen=True)
class OrphanAuthorization:
    """A device authorization on the telemetry bucket that the registry does not reference:
    left by a change that failed half-way, or made by another tool. Its token still works."""

    device_id: str
    key: str  # the authorization id


@dataclass(frozen=True)
class Check:
    """One step of ``manage.py influx_check``."""

    name: str
    ok: bool
    detail: str
    # Not a failure (the app works), but something for the operator to act on.
    warning: bool = False


def mask_token(token: str) -> str:
    """What the UI may show of a token: enough to tell two tokens apart, not enough to use."""
    if not token:
        return ""
    # Real tokens are 88 characters; of a short one show nothing.
    return "••••••••" + (token[-4:] if len(token) >= 32 else "")
