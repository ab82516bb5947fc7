"""The app's InfluxDB service: the only package that imports ``influxdb_client``.

Views, the JSON API and the management commands call the names below (``from devices import
influx``), which speak the app's language and return small dataclasses (``types``). Everything
the client library or the network can raise is turned into ``InfluxUnavailable`` (InfluxDB down,
slow, 5xx, rate limited) or ``InfluxMisconfigured`` (the settings or the token are wrong: the
message says what to fix); our own bugs surface as themselves (``errors``). Tokens never appear
in messages, logs or ``repr``.

Reads (selectors) live in ``devices`` (the registry: list, get, a device's page) and
``telemetry``; changes (services) in ``registry`` (register, rotate, remove, orphans) and
``setup`` (onboarding, buckets, checks). ``client`` holds the per-process client and its retry
policies, ``deadline`` the page's time budget and the read pool, ``lowlevel`` the requests
themselves, ``authorizations`` device tokens (create, revoke, list, reconcile), ``locks`` the
per-device change lock in the database (one change of a device at a time across processes and
hosts), ``device_session`` writing as a device.

Data model (shared with InfluxData's reference IoT Center apps):

* registry bucket ``INFLUX_BUCKET_AUTH``: measurement ``deviceauth``, tag ``deviceId``, string
  fields ``key`` (authorization id), ``token`` and ``createdAt``, and ours ``rotatedAt`` (the
  last token rotation, "" if none); a removed device has ``key=""`` and ``token=""`` (soft
  delete);
* telemetry bucket ``INFLUX_BUCKET``: measurement ``environment``, float fields, the device id in
  tag ``device`` (tutorial apps) or ``clientId`` (iot-center-v2): reads match either, our virtual
  devices write both.
"""

from .alerts import WindowStats, fleet_last_seen, window_stats  # alerts (the evaluator)
from .client import reset_client
from .dashboard import Dashboard, TimeWindow, dashboard
from .deadline import end_page_deadline, page_deadline, start_page_deadline
from .device_session import DeviceSession
from .devices import (
    device_credentials,
    device_view,
    get_device,
    last_telemetry,
    list_devices,
    registered_device_ids,
)
from .errors import (
    DeviceBusy,
    DeviceExists,
    DeviceNotFound,
    InfluxError,
    InfluxMisconfigured,
    InfluxUnavailable,
    InvalidDeviceId,
)
from .export import telemetry_csv
from .fleet import Fleet
from .overview import FleetOverview, fleet_overview
from .registry import (
    orphan_authorizations,
    register_device,
    remove_device,
    revoke_orphan_authorizations,
    rotate_token,
)
from .rollup import PassResult as RollupPass  # the hourly rollup (long dashboard ranges)
from .rollup import recompute_since as rollup_since
from .rollup import run_pass as rollup_pass
from .setup import (
    ORPHANS_CHECK,
    SHARED_BUCKET_WARNING,
    check_access,
    device_connection,
    ensure_buckets,
    health,
    is_onboarded,
    masked_settings,
    onboard,
    registry_shares_telemetry_bucket,
)

# --- JSON API (iot-api-ui) ---
from .telemetry import (
    field_stats,
    latest_readings,
    measurements_csv,
    telemetry_series,
)
from .types import (
    CONFIG_REFRESH_S,
    DEFAULT_RANGE,
    MEASUREMENT_INTERVAL_S,
    RANGES,
    Check,
    Device,
    DeviceCredentials,
    DevicePage,
    DeviceView,
    FieldStats,
    OrphanAuthorization,
    Reading,
    SeriesPoint,
    mask_token,
)
from .write_now import MAX_DAYS as WRITE_NOW_MAX_DAYS
from .write_now import write_simulated

__all__ = [
    "CONFIG_REFRESH_S",
    "DEFAULT_RANGE",
    "MEASUREMENT_INTERVAL_S",
    "ORPHANS_CHECK",
    "RANGES",
    "SHARED_BUCKET_WARNING",
    "WRITE_NOW_MAX_DAYS",
    "Check",
    "Dashboard",
    "Device",
    "DeviceBusy",
    "DeviceCredentials",
    "DeviceExists",
    "DeviceNotFound",
    "DevicePage",
    "DeviceSession",
    "DeviceView",
    "FieldStats",
    "Fleet",
    "FleetOverview",
    "InfluxError",
    "InfluxMisconfigured",
    "InfluxUnavailable",
    "InvalidDeviceId",
    "OrphanAuthorization",
    "Reading",
    "RollupPass",
    "SeriesPoint",
    "TimeWindow",
    "WindowStats",
    "check_access",
    "dashboard",
    "device_connection",
    "device_credentials",
    "device_view",
    "end_page_deadline",
    "ensure_buckets",
    "field_stats",
    "fleet_last_seen",
    "fleet_overview",
    "get_device",
    "health",
    "is_onboarded",
    "last_telemetry",
    "latest_readings",
    "list_devices",
    "mask_token",
    "masked_settings",
    "measurements_csv",  # JSON API (iot-api-ui)
    "onboard",
    "orphan_authorizations",
    "page_deadline",
    "register_device",
    "registered_device_ids",
    "registry_shares_telemetry_bucket",
    "remove_device",
    "reset_client",
    "revoke_orphan_authorizations",
    "rollup_pass",
    "rollup_since",
    "rotate_token",
    "start_page_deadline",
    "telemetry_csv",
    "telemetry_series",
    "window_stats",
    "write_simulated",
]
