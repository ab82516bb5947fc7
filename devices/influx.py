"""The one module that talks to InfluxDB (the only importer of ``influxdb_client``).

Views, the JSON API and the management commands call the functions below, which speak the app's
language and return small dataclasses. Everything the client library can raise is turned into
``InfluxUnavailable`` (InfluxDB down, slow, 5xx, rate limited) or ``InfluxMisconfigured`` (the
settings or the token are wrong: the message says what to fix). Tokens never appear in messages,
logs or ``repr``.

Data model (shared with InfluxData's reference IoT Center apps):

* registry bucket ``INFLUX_BUCKET_AUTH``: measurement ``deviceauth``, tag ``deviceId``, string
  fields ``key`` (authorization id), ``token`` and ``createdAt``; a removed device has
  ``key=""`` and ``token=""`` (soft delete);
* telemetry bucket ``INFLUX_BUCKET``: measurement ``environment``, tag ``device``, float fields.
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from influxdb_client import InfluxDBClient, Point, WritePrecision
from influxdb_client.client.exceptions import InfluxDBError
from influxdb_client.client.flux_csv_parser import FluxCsvParserException, FluxQueryException
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.domain.authorization import Authorization
from influxdb_client.domain.onboarding_request import OnboardingRequest
from influxdb_client.domain.permission import Permission
from influxdb_client.domain.permission_resource import PermissionResource
from influxdb_client.rest import ApiException
from influxdb_client.service.ping_service import PingService
from influxdb_client.service.setup_service import SetupService
from influxdb_client.service.write_service import WriteService
from urllib3.exceptions import HTTPError as Urllib3HTTPError
from urllib3.exceptions import MaxRetryError, ResponseError
from urllib3.util.retry import Retry

from . import flux

logger = logging.getLogger(__name__)

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


# What a real device is told besides its credentials (the reference apps' defaults).
MEASUREMENT_INTERVAL_S = 60
CONFIG_REFRESH_S = 3600


@dataclass(frozen=True)
class DeviceCredentials:
    """Returned only by register/rotate: the one place a token is shown in full."""

    device_id: str
    key: str
    token: str
    url: str
    org: str
    bucket: str

    def config(self) -> dict[str, str | int]:
        """The device configuration operators copy or download (JSON-able)."""
        return {
            "influx_url": self.url,
            "org": self.org,
            "bucket": self.bucket,
            "token": self.token,
            "device_id": self.device_id,
            "measurement": flux.TELEMETRY_MEASUREMENT,
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

# Tags the virtual device writes beside ``device`` (the reference apps' sensor tags).
SENSOR_TAGS = {
    "TemperatureSensor": "virtual_bme280",
    "HumiditySensor": "virtual_bme280",
    "PressureSensor": "virtual_bme280",
}
AUTH_DESCRIPTION_PREFIX = "IoTCenterDevice: "


# ---- the shared client -------------------------------------------------------------------------


class _BoundedRetry(Retry):
    """urllib3 retry policy whose waits between attempts never add up to more than ``budget``.

    Honours ``Retry-After`` on 429/503, but a page must answer within its time budget: when the
    server asks for a wait that would overrun it (say 60 s), we answer "unavailable" at once
    instead of holding a worker. Commands get a larger budget.
    """

    budget: float = 2.5  # seconds of sleeping allowed over all retries of one request
    slept: float = 0.0

    def new(self, **kw):
        retry = super().new(**kw)
        retry.budget = self.budget
        retry.slept = self.slept
        return retry

    def increment(self, method=None, url=None, response=None, error=None, **kw):
        wait = self.get_retry_after(response) if response is not None else None
        if wait is not None and self.slept + wait > self.budget:
            # With raise_on_status=False urllib3 hands the 429/503 response back, so the
            # caller sees the real status (and the wait asked for) in ApiException.
            raise MaxRetryError(kw.get("_pool"), url, ResponseError(f"retry after {wait:g}s"))
        retry = super().increment(method, url, response=response, error=error, **kw)
        retry.slept = self.slept + (wait if wait is not None else retry.get_backoff_time())
        return retry


def _retry_policy(timeout_s: float, *, patient: bool) -> Retry:
    if patient:
        # Commands (simulate, setup): wait for the server rather than lose a batch. Writes are
        # idempotent in InfluxDB (same series + time overwrite), so re-sending after a dropped
        # connection is safe.
        retry = _BoundedRetry(
            total=10, connect=3, read=2, status=6, other=0, redirect=0,
            status_forcelist=(429, 500, 502, 503, 504), allowed_methods=None,
            backoff_factor=0.5, backoff_max=30, respect_retry_after_header=True,
            raise_on_status=False,
        )  # fmt: skip
        retry.budget = 300.0
        return retry
    # Pages: quick retries on 429/503 only, sleeping at most half the timeout in all; no retry
    # of a timed-out read (that would double the time a page waits); one retry of a refused
    # connect (cheap).
    retry = _BoundedRetry(
        total=3, connect=1, read=0, status=2, other=0, redirect=0,
        status_forcelist=(429, 503), allowed_methods=None,
        backoff_factor=0.2, backoff_max=1, respect_retry_after_header=True,
        raise_on_status=False,
    )  # fmt: skip
    retry.budget = max(1.0, timeout_s / 2)
    return retry


def _timeout_seconds() -> float:
    try:
        value = float(str(settings.INFLUX_TIMEOUT).strip())
    except (TypeError, ValueError):
        value = 0.0
    if not math.isfinite(value) or value <= 0:
        raise InfluxMisconfigured(
            f"INFLUX_TIMEOUT={settings.INFLUX_TIMEOUT!r} is not a positive number of seconds: "
            'set it, e.g. INFLUX_TIMEOUT="5"'
        )
    return value


@dataclass
class _Conn:
    """A client plus the settings it was built from and lazily resolved ids."""

    client: InfluxDBClient
    url: str
    token: str
    org: str
    bucket: str
    bucket_auth: str
    timeout_s: float
    pid: int
    ids: dict[str, str] = field(default_factory=dict)
    # How error messages name the token and say what to do when InfluxDB refuses it.
    credential_label: str = "INFLUX_TOKEN"
    credential_hint: str = (
        "set INFLUX_TOKEN to an operator or all-access token of INFLUX_ORG; "
        "run manage.py influx_check"
    )
    _write_api: object | None = None
    _query_api: object | None = None

    @property
    def write_api(self):
        if self._write_api is None:
            # Synchronous: a write either reached InfluxDB or raised. No background batches
            # that could be lost on exit.
            self._write_api = self.client.write_api(write_options=SYNCHRONOUS)
        return self._write_api

    @property
    def query_api(self):
        if self._query_api is None:
            self._query_api = self.client.query_api()
        return self._query_api

    def close(self) -> None:
        if self.pid == os.getpid():
            # After a fork the pooled sockets belong to the parent: leave them alone.
            self.client.close()


_lock = threading.Lock()
_conn: _Conn | None = None


def _settings_snapshot() -> tuple[str, str, str, str, str]:
    url = (settings.INFLUX_URL or "").strip().rstrip("/")
    token = settings.INFLUX_TOKEN or ""
    org = settings.INFLUX_ORG or ""
    if not url:
        raise InfluxMisconfigured("INFLUX_URL is not set: set it to InfluxDB's URL")
    if not token:
        raise InfluxMisconfigured("INFLUX_TOKEN is not set: set it to an InfluxDB API token")
    if not org:
        raise InfluxMisconfigured("INFLUX_ORG is not set: set it to your InfluxDB organization")
    return url, token, org, settings.INFLUX_BUCKET, settings.INFLUX_BUCKET_AUTH


def _build(url: str, token: str, org: str, timeout_s: float, *, patient: bool) -> InfluxDBClient:
    return InfluxDBClient(
        url=url,
        token=token,
        org=org,
        timeout=int(timeout_s * 1000),
        retries=_retry_policy(timeout_s, patient=patient),
    )


def _get() -> _Conn:
    """The shared connection of this process, built from settings on first use."""
    global _conn
    conn = _conn
    if conn is not None and conn.pid == os.getpid():
        return conn
    with _lock:
        if _conn is not None and _conn.pid == os.getpid():
            return _conn
        url, token, org, bucket, bucket_auth = _settings_snapshot()
        timeout_s = _timeout_seconds()
        _conn = _Conn(
            client=_build(url, token, org, timeout_s, patient=False),
            url=url,
            token=token,
            org=org,
            bucket=bucket,
            bucket_auth=bucket_auth,
            timeout_s=timeout_s,
            pid=os.getpid(),
        )
        return _conn


def reset_client() -> None:
    """Close and forget the shared client (settings changed, tests, after fork)."""
    global _conn
    with _lock:
        conn, _conn = _conn, None
    if conn is not None:
        try:
            conn.close()
        except Exception:  # closing a pool must never break a settings change
            logger.debug("closing the InfluxDB client failed", exc_info=True)


# Close the pool before interpreter teardown: the client's own __del__ fails noisily then.
# Safe here because every write is synchronous (no batch waits in a buffer at exit).
atexit.register(reset_client)


@receiver(setting_changed)
def _on_setting_changed(*, setting: str, **kwargs) -> None:
    if setting.startswith("INFLUX_"):
        reset_client()


# ---- error translation -------------------------------------------------------------------------


def _clean(text: object, *secrets: str) -> str:
    """One line of server text, without any token we know of."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    out = " ".join(str(text).split())
    for secret in secrets:
        if secret:
            out = out.replace(secret, "***")
    return out[:300]


def _api_message(exc: ApiException) -> str:
    message = getattr(exc, "message", None)
    if not message:
        message = exc.body or exc.reason or ""
    return str(message)


def _translate(
    exc: BaseException, conn: _Conn, what: str, *, not_found: str | None = None
) -> InfluxError:
    """Map any client-library error to the app's exceptions. ``what`` says what we tried."""
    url, token = conn.url, conn.token
    if isinstance(exc, ApiException):
        status = exc.status or 0
        msg = _clean(_api_message(exc), token)
        # 0: the client's way of reporting an SSL failure.
        if status == 429 or status >= 500 or status == 0:
            retry_after = exc.headers.get("Retry-After") if exc.headers else None
            extra = f" (retry after {retry_after}s)" if retry_after else ""
            return InfluxUnavailable(url, f"{status} {msg}{extra} while trying to {what}")
        if status == 401:
            return InfluxMisconfigured(
                f"InfluxDB at {url} refused {conn.credential_label} while trying to {what} "
                f"(401: {msg}): {conn.credential_hint}"
            )
        if status == 403:
            return InfluxMisconfigured(
                f"{conn.credential_label} may not {what} (403: {msg}): give the token read "
                "and write access to both buckets and write access to authorizations; "
                "run manage.py influx_check"
            )
        if status == 404 and not_found:
            return InfluxMisconfigured(f"{not_found} (404: {msg})")
        if "organization" in msg and "not found" in msg:
            return InfluxMisconfigured(
                f"{msg}: set INFLUX_ORG to an existing organization, or run "
                "manage.py influx_setup --onboard on an empty InfluxDB"
            )
        return InfluxMisconfigured(f"InfluxDB refused to {what} ({status}: {msg})")
    if isinstance(exc, FluxQueryException):
        return InfluxUnavailable(url, f"query failed while trying to {what}: {_clean(exc.message)}")
    if isinstance(exc, InfluxDBError):
        msg = _clean(exc.message or exc, token)
        if "organization" in msg:
            return InfluxMisconfigured(
                f"{msg}: set INFLUX_ORG to an existing organization the token can read"
            )
        return InfluxMisconfigured(f"InfluxDB refused to {what}: {msg}")
    if isinstance(exc, MaxRetryError) and exc.reason is not None:
        return InfluxUnavailable(url, f"{_reason(exc.reason)} while trying to {what}")
    if isinstance(exc, Urllib3HTTPError | OSError):
        return InfluxUnavailable(url, f"{_reason(exc)} while trying to {what}")
    if isinstance(exc, FluxCsvParserException | IndexError | ValueError | KeyError):
        # A proxy's HTML page or a truncated answer instead of annotated CSV.
        return InfluxUnavailable(url, f"unexpected answer while trying to {what}: {exc}")
    return InfluxUnavailable(url, f"{type(exc).__name__} while trying to {what}")


def _reason(exc: BaseException) -> str:
    name = type(exc).__name__
    if "Timeout" in name or isinstance(exc, TimeoutError):
        return "no answer within INFLUX_TIMEOUT"
    if "NewConnection" in name or isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if "Protocol" in name or "RemoteDisconnected" in str(exc):
        return "connection closed without an answer"
    if isinstance(exc, ResponseError):
        return f"rate limited ({exc})"
    return name


_TRANSLATABLE = (
    IndexError,  # the client's CSV parser meeting a proxy's HTML page
    ApiException,
    InfluxDBError,
    FluxQueryException,
    FluxCsvParserException,
    Urllib3HTTPError,
    OSError,
)


@contextmanager
def _guard(conn: _Conn, what: str, *, not_found: str | None = None) -> Iterator[None]:
    try:
        yield
    except InfluxError:
        raise
    except _TRANSLATABLE as exc:
        err = _translate(exc, conn, what, not_found=not_found)
        logger.warning("InfluxDB: %s", err)
        raise err from None


def _bucket_missing(name: str, setting: str) -> str:
    return (
        f"bucket {name!r} ({setting}) not found in org or not readable with INFLUX_TOKEN: "
        "run manage.py influx_setup, or check the token's permissions"
    )


def _query(conn: _Conn, query: str, what: str, *, bucket: str, setting: str) -> list[dict]:
    """Run a query; rows as plain dicts (``values`` of each record, in order)."""
    with _guard(conn, what, not_found=_bucket_missing(bucket, setting)):
        tables = conn.query_api.query(query, org=conn.org)
        return [record.values for table in tables for record in table.records]


def _write(conn: _Conn, bucket: str, records, what: str, *, setting: str) -> None:
    with _guard(conn, what, not_found=_bucket_missing(bucket, setting)):
        conn.write_api.write(
            bucket=bucket, org=conn.org, record=records, write_precision=WritePrecision.NS
        )


# ---- ids ---------------------------------------------------------------------------------------


def _check_id(device_id: object) -> str:
    try:
        return flux.validate_device_id(device_id)
    except ValueError as exc:
        raise InvalidDeviceId(str(exc)) from None


def _org_id(conn: _Conn) -> str:
    if "org" not in conn.ids:
        with _guard(conn, f"look up organization {conn.org!r}"):
            orgs = conn.client.organizations_api().find_organizations(org=conn.org)
        if not orgs:
            raise InfluxMisconfigured(
                f"organization {conn.org!r} (INFLUX_ORG) not found or not readable with "
                "INFLUX_TOKEN: set INFLUX_ORG, or use a token that can read the organization"
            )
        conn.ids["org"] = orgs[0].id
    return conn.ids["org"]


def _find_bucket(conn: _Conn, name: str):
    """The bucket object named ``name`` in INFLUX_ORG, or None."""
    org_id = _org_id(conn)
    with _guard(conn, f"look up bucket {name!r}"):
        try:
            found = conn.client.buckets_api().find_buckets(name=name, org_id=org_id)
        except ApiException as exc:
            if exc.status == 404:  # name + org with no match answers 404
                return None
            raise
    buckets = [b for b in (found.buckets or []) if b.name == name]
    return buckets[0] if buckets else None


def _bucket_id(conn: _Conn, name: str, setting: str) -> str:
    key = f"bucket:{name}"
    if key not in conn.ids:
        bucket = _find_bucket(conn, name)
        if bucket is None:
            raise InfluxMisconfigured(_bucket_missing(name, setting))
        conn.ids[key] = bucket.id
    return conn.ids[key]


def _now() -> datetime:
    return datetime.now(UTC)


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _parse_time(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def mask_token(token: str) -> str:
    """What the UI may show of a token: enough to tell two tokens apart, not enough to use."""
    if not token:
        return ""
    # Real tokens are 88 characters; of a short one show nothing.
    return "••••••••" + (token[-4:] if len(token) >= 32 else "")


# ---- registry ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Registration:
    device_id: str
    key: str
    token: str = field(repr=False)
    created_at: datetime | None = None


def _registration(conn: _Conn, device_id: str) -> _Registration | None:
    """The device's registry entry (None if never registered); soft-deleted ones have key ''."""
    rows = _query(
        conn,
        flux.registry_device(conn.bucket_auth, device_id),
        f"read the registration of device {device_id!r}",
        bucket=conn.bucket_auth,
        setting="INFLUX_BUCKET_AUTH",
    )
    if not rows:
        return None
    fields: dict[str, object] = {}
    key_time: datetime | None = None
    for row in rows:
        fields[row.get("_field")] = row.get("_value")
        if row.get("_field") == "key":
            key_time = row.get("_time")
    created = _parse_time(fields.get("createdAt")) or key_time
    return _Registration(
        device_id=device_id,
        key=str(fields.get("key") or ""),
        token=str(fields.get("token") or ""),
        created_at=created,
    )


def _registry_point(device_id: str, key: str, token: str, created_at: datetime | None) -> Point:
    point = (
        Point(flux.REGISTRY_MEASUREMENT)
        .tag("deviceId", device_id)
        .field("key", key)
        .field("token", token)
        .time(_now(), WritePrecision.NS)
    )
    if created_at is not None:
        point = point.field("createdAt", _rfc3339(created_at))
    return point


def _create_authorization(conn: _Conn, device_id: str) -> Authorization:
    """A token that can write (and read) the telemetry bucket only: never the registry."""
    org_id = _org_id(conn)
    # Looked up afresh (not cached): a token for the id of a since re-created bucket could
    # write nowhere, and registrations are rare enough for one more request.
    bucket = _find_bucket(conn, conn.bucket)
    if bucket is None:
        raise InfluxMisconfigured(_bucket_missing(conn.bucket, "INFLUX_BUCKET"))
    bucket_id = bucket.id
    resource = PermissionResource(type="buckets", id=bucket_id, org_id=org_id)
    auth = Authorization(
        org_id=org_id,
        description=f"{AUTH_DESCRIPTION_PREFIX}{device_id}",
        permissions=[
            Permission(action="read", resource=resource),
            Permission(action="write", resource=resource),
        ],
    )
    with _guard(conn, "create a device authorization"):
        return conn.client.authorizations_api().create_authorization(authorization=auth)


def _delete_authorization(conn: _Conn, key: str) -> None:
    """Revoke an authorization; one that is already gone is fine."""
    if not key:
        return
    with _guard(conn, f"delete authorization {key}"):
        try:
            conn.client.authorizations_api().delete_authorization(key)
        except ApiException as exc:
            # 404: already deleted (e.g. in the InfluxDB UI). 400: an id InfluxDB cannot
            # parse, written by some other tool; there is nothing to revoke either way.
            if exc.status in (400, 404):
                return
            raise


def _credentials(conn: _Conn, device_id: str, auth: Authorization) -> DeviceCredentials:
    return DeviceCredentials(
        device_id=device_id,
        key=auth.id,
        token=auth.token,
        url=conn.url,
        org=conn.org,
        bucket=conn.bucket,
    )


def _write_registration_or_revoke(
    conn: _Conn, device_id: str, auth: Authorization, created_at: datetime | None
) -> None:
    """Store the new credentials; if that fails, revoke them so no orphan token stays valid."""
    point = _registry_point(device_id, auth.id, auth.token, created_at)
    try:
        _write(
            conn,
            conn.bucket_auth,
            point,
            f"register device {device_id!r}",
            setting="INFLUX_BUCKET_AUTH",
        )
    except InfluxError:
        try:
            _delete_authorization(conn, auth.id)
        except InfluxError:
            logger.error(
                "device %r: registry write failed AND authorization %s could not be revoked; "
                "delete it in InfluxDB (description %r)",
                device_id,
                auth.id,
                f"{AUTH_DESCRIPTION_PREFIX}{device_id}",
            )
        raise


def register_device(device_id: str | None = None) -> DeviceCredentials:
    """Empty/None id: a generated one. Raises InvalidDeviceId, DeviceExists."""
    device_id = (device_id or "").strip() or str(uuid.uuid4())
    device_id = _check_id(device_id)
    conn = _get()
    existing = _registration(conn, device_id)
    if existing is not None and existing.key:
        raise DeviceExists(f"device {device_id!r} is already registered")
    auth = _create_authorization(conn, device_id)
    # createdAt marks this registration; a device removed earlier starts afresh.
    _write_registration_or_revoke(conn, device_id, auth, _now())
    logger.info("registered device %r (authorization %s)", device_id, auth.id)
    return _credentials(conn, device_id, auth)


def _active_registration(conn: _Conn, device_id: str) -> _Registration:
    reg = _registration(conn, device_id)
    if reg is None or not reg.key:
        raise DeviceNotFound(f"device {device_id!r} is not registered")
    return reg


def remove_device(device_id: str, *, delete_telemetry: bool = False) -> None:
    """Revoke the authorization (already gone is fine), soft-delete the registry point."""
    device_id = _check_id(device_id)
    conn = _get()
    reg = _active_registration(conn, device_id)
    _delete_authorization(conn, reg.key)
    _write(
        conn,
        conn.bucket_auth,
        _registry_point(device_id, "", "", None),
        f"remove device {device_id!r}",
        setting="INFLUX_BUCKET_AUTH",
    )
    if delete_telemetry:
        with _guard(
            conn,
            f"delete the telemetry of device {device_id!r}",
            not_found=_bucket_missing(conn.bucket, "INFLUX_BUCKET"),
        ):
            conn.client.delete_api().delete(
                start="1970-01-01T00:00:00Z",
                stop="2262-01-01T00:00:00Z",
                predicate=flux.telemetry_delete_predicate(device_id),
                bucket=conn.bucket,
                org=conn.org,
            )
    logger.info("removed device %r (telemetry deleted: %s)", device_id, delete_telemetry)


def rotate_token(device_id: str) -> DeviceCredentials:
    """New authorization first, registry updated, old one revoked."""
    device_id = _check_id(device_id)
    conn = _get()
    reg = _active_registration(conn, device_id)
    auth = _create_authorization(conn, device_id)
    # createdAt keeps marking the first registration (written out for devices registered by
    # the reference apps, whose registration time was only the point's time).
    _write_registration_or_revoke(conn, device_id, auth, reg.created_at)
    try:
        _delete_authorization(conn, reg.key)
    except InfluxError as exc:
        # The registry already holds the new token; the old one must not stay valid unnoticed.
        raise InfluxUnavailable(
            conn.url,
            f"new token stored, but the old authorization {reg.key} of device {device_id!r} "
            f"could not be revoked ({exc}): rotate again or delete it in InfluxDB",
        ) from None
    logger.info("rotated the token of device %r (authorization %s)", device_id, auth.id)
    return _credentials(conn, device_id, auth)


def device_credentials(device_id: str) -> DeviceCredentials:
    """The stored credentials of a registered device (for the virtual device; never for pages)."""
    device_id = _check_id(device_id)
    conn = _get()
    reg = _active_registration(conn, device_id)
    return DeviceCredentials(
        device_id=device_id,
        key=reg.key,
        token=reg.token,
        url=conn.url,
        org=conn.org,
        bucket=conn.bucket,
    )


def _registry_all(conn: _Conn) -> dict[str, tuple[str, datetime | None]]:
    """device id -> (key, created_at) for every registered, not removed device: one query."""
    rows = _query(
        conn,
        flux.registry_list(conn.bucket_auth),
        "list devices",
        bucket=conn.bucket_auth,
        setting="INFLUX_BUCKET_AUTH",
    )
    keys: dict[str, tuple[str, datetime | None]] = {}
    created: dict[str, datetime | None] = {}
    for row in rows:
        device_id = row.get("deviceId")
        if not device_id:
            continue
        if row.get("_field") == "key":
            keys[device_id] = (str(row.get("_value") or ""), row.get("_time"))
        else:
            created[device_id] = _parse_time(row.get("_value"))
    return {
        device_id: (key, created.get(device_id) or key_time)
        for device_id, (key, key_time) in keys.items()
        if key  # empty key = removed
    }


def registered_device_ids() -> list[str]:
    """Ids of all registered devices, sorted."""
    return sorted(_registry_all(_get()))


def _last_seen(conn: _Conn, device_ids: list[str]) -> dict[str, datetime]:
    # Ids written by other apps may break our rules; they can't be queried safely, so they
    # simply show no last-seen time.
    ids = [d for d in device_ids if flux.is_valid_device_id(d)]
    if not ids:
        return {}
    rows = _query(
        conn,
        flux.last_seen(conn.bucket, ids),
        "read last telemetry times",
        bucket=conn.bucket,
        setting="INFLUX_BUCKET",
    )
    seen: dict[str, datetime] = {}
    for row in rows:
        device_id, time = row.get("device"), row.get("_time")
        if device_id and time and (device_id not in seen or time > seen[device_id]):
            seen[device_id] = time
    return seen


def list_devices(*, search: str = "", page: int = 1, per_page: int = 50) -> DevicePage:
    """Registered (not soft-deleted) devices, id contains ``search`` (case-insensitive),
    sorted by id, with last telemetry time; a constant number of queries per call."""
    conn = _get()
    per_page = max(1, int(per_page))
    registry = _registry_all(conn)
    needle = (search or "").strip().casefold()
    ids = sorted(d for d in registry if needle in d.casefold())
    total = len(ids)
    num_pages = max(1, math.ceil(total / per_page))
    page = min(max(1, int(page)), num_pages)
    page_ids = ids[(page - 1) * per_page : page * per_page]
    seen = _last_seen(conn, page_ids)
    devices = [
        Device(
            device_id=d,
            key=registry[d][0],
            created_at=registry[d][1],
            last_seen=seen.get(d),
        )
        for d in page_ids
    ]
    return DevicePage(
        devices=devices, total=total, page=page, per_page=per_page, num_pages=num_pages
    )


def get_device(device_id: str) -> Device:
    """Raises InvalidDeviceId, DeviceNotFound."""
    device_id = _check_id(device_id)
    conn = _get()
    reg = _active_registration(conn, device_id)
    seen = _last_seen(conn, [device_id])
    return Device(
        device_id=device_id,
        key=reg.key,
        created_at=reg.created_at,
        last_seen=seen.get(device_id),
        token_hint=mask_token(reg.token),
    )


# ---- telemetry ---------------------------------------------------------------------------------


def _range(range_key: str) -> tuple[str, str]:
    try:
        return RANGES[range_key]
    except KeyError:
        raise ValueError(f"unknown range {range_key!r}: use one of {', '.join(RANGES)}") from None


def latest_readings(device_id: str) -> list[Reading]:
    """Latest value of each telemetry field of the device, sorted by field."""
    device_id = _check_id(device_id)
    conn = _get()
    rows = _query(
        conn,
        flux.latest_readings(conn.bucket, device_id),
        f"read the latest values of device {device_id!r}",
        bucket=conn.bucket,
        setting="INFLUX_BUCKET",
    )
    latest: dict[str, Reading] = {}
    for row in rows:
        name, time, value = row.get("_field"), row.get("_time"), row.get("_value")
        if name is None or time is None or value is None:
            continue
        if name not in latest or time > latest[name].time:
            latest[name] = Reading(field=name, value=value, time=time)
    return [latest[name] for name in sorted(latest)]


def field_stats(device_id: str, *, range_key: str = DEFAULT_RANGE) -> list[FieldStats]:
    """Per field count/min/max/last time over the range, sorted by field."""
    device_id = _check_id(device_id)
    start, _every = _range(range_key)
    conn = _get()
    rows = _query(
        conn,
        flux.field_stats(conn.bucket, device_id, start),
        f"read the statistics of device {device_id!r}",
        bucket=conn.bucket,
        setting="INFLUX_BUCKET",
    )
    acc: dict[str, dict] = {}
    for row in rows:
        name = row.get("_field")
        if name is None:
            continue
        entry = acc.setdefault(name, {"count": 0, "min": None, "max": None, "last": None})
        result, value = row.get("result"), row.get("_value")
        # Several series can carry one field (other sensor tags): merge them.
        if result == "count":
            entry["count"] += int(value or 0)
        elif result == "min" and isinstance(value, int | float):
            entry["min"] = value if entry["min"] is None else min(entry["min"], value)
        elif result == "max" and isinstance(value, int | float):
            entry["max"] = value if entry["max"] is None else max(entry["max"], value)
        elif result == "last":
            time = row.get("_time")
            if time is not None and (entry["last"] is None or time > entry["last"]):
                entry["last"] = time
    return [
        FieldStats(
            field=name,
            count=entry["count"],
            min=float(entry["min"]) if entry["min"] is not None else None,
            max=float(entry["max"]) if entry["max"] is not None else None,
            last_time=entry["last"],
        )
        for name, entry in sorted(acc.items())
        if entry["count"]
    ]


def telemetry_series(
    device_id: str, *, range_key: str = DEFAULT_RANGE
) -> dict[str, list[SeriesPoint]]:
    """Per numeric field, aggregateWindow(mean) over the range: what dashboard charts draw."""
    device_id = _check_id(device_id)
    start, every = _range(range_key)
    conn = _get()
    rows = _query(
        conn,
        flux.telemetry_series(conn.bucket, device_id, start, every),
        f"read the chart data of device {device_id!r}",
        bucket=conn.bucket,
        setting="INFLUX_BUCKET",
    )
    by_field: dict[str, dict[datetime, list[float]]] = {}
    for row in rows:
        name, time, value = row.get("_field"), row.get("_time"), row.get("_value")
        if name is None or time is None:
            continue
        by_field.setdefault(name, {}).setdefault(time, [])
        if value is not None:
            by_field[name][time].append(float(value))
    return {
        name: [
            SeriesPoint(time=t, value=(sum(vs) / len(vs)) if vs else None)
            for t, vs in sorted(points.items())
        ]
        for name, points in sorted(by_field.items())
    }


def health() -> dict:
    """``{"status": "pass"|"fail", "url": ..., "message": ...}`` within the timeout.

    Never raises.
    """
    url = (getattr(settings, "INFLUX_URL", "") or "").rstrip("/")
    try:
        conn = _get()
        with _guard(conn, "ping"):
            PingService(conn.client.api_client).get_ping()
        # Ping needs no token; looking both buckets up (not from the id cache) proves the org,
        # the buckets and that the token is still accepted.
        for name, setting in (
            (conn.bucket, "INFLUX_BUCKET"),
            (conn.bucket_auth, "INFLUX_BUCKET_AUTH"),
        ):
            if _find_bucket(conn, name) is None:
                raise InfluxMisconfigured(_bucket_missing(name, setting))
    except InfluxError as exc:
        return {"status": "fail", "url": url, "message": str(exc)}
    except Exception as exc:  # a health check reports, it never raises
        logger.exception("health check failed")
        return {"status": "fail", "url": url, "message": type(exc).__name__}
    return {"status": "pass", "url": url, "message": "ready for queries and writes"}


# ---- operator tooling (management commands) ----------------------------------------------------


def onboard(*, username: str, password: str) -> bool:
    """Set up an empty InfluxDB with org INFLUX_ORG, bucket INFLUX_BUCKET and INFLUX_TOKEN as
    the operator token. False if it was already set up."""
    url, token, org, bucket, _ = _settings_snapshot()
    timeout_s = _timeout_seconds()
    # Setup needs no token; a separate client keeps the shared one untouched.
    with InfluxDBClient(
        url=url,
        token=None,
        timeout=int(timeout_s * 1000),
        retries=_retry_policy(timeout_s, patient=True),
    ) as client:
        conn = _Conn(client, url, token, org, bucket, "", timeout_s, os.getpid())
        service = SetupService(client.api_client)
        with _guard(conn, "check whether InfluxDB is set up"):
            if not service.get_setup().allowed:
                return False
        request = OnboardingRequest(
            username=username, password=password, org=org, bucket=bucket, token=token
        )
        with _guard(conn, "onboard InfluxDB"):
            service.post_setup(onboarding_request=request)
    reset_client()
    return True


def is_onboarded() -> bool:
    url, token, org, bucket, _ = _settings_snapshot()
    timeout_s = _timeout_seconds()
    with InfluxDBClient(url=url, token=None, timeout=int(timeout_s * 1000)) as client:
        conn = _Conn(client, url, token, org, bucket, "", timeout_s, os.getpid())
        with _guard(conn, "check whether InfluxDB is set up"):
            return not SetupService(client.api_client).get_setup().allowed


def ensure_buckets() -> list[tuple[str, bool]]:
    """Create INFLUX_BUCKET and INFLUX_BUCKET_AUTH if missing: [(name, created), ...]."""
    conn = _get()
    org_id = _org_id(conn)
    done: list[tuple[str, bool]] = []
    for name in dict.fromkeys([conn.bucket, conn.bucket_auth]):
        if _find_bucket(conn, name) is not None:
            done.append((name, False))
            continue
        with _guard(conn, f"create bucket {name!r}"):
            created = conn.client.buckets_api().create_bucket(
                bucket_name=name,
                org=org_id,
                description="IoT Center device registry (holds device tokens)"
                if name == conn.bucket_auth
                else "IoT Center telemetry",
            )
        conn.ids[f"bucket:{name}"] = created.id
        done.append((name, True))
    return done


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def _empty_write(conn: _Conn, bucket: str) -> None:
    """An empty write: InfluxDB checks the write permission, then stores nothing."""
    WriteService(conn.client.api_client).post_write(
        org=conn.org, bucket=bucket, body=b"", precision="ns"
    )


def check_access() -> list[Check]:
    """What ``manage.py influx_check`` reports: can this app do its job with these settings?

    Stops at the first failing step that later steps depend on.
    """
    checks: list[Check] = []
    try:
        conn = _get()
    except InfluxMisconfigured as exc:
        return [Check("settings", False, str(exc))]

    def step(name: str, fn) -> bool:
        try:
            detail = fn() or "ok"
        except InfluxError as exc:
            checks.append(Check(name, False, str(exc)))
            return False
        except Exception as exc:
            try:
                err = _translate(exc, conn, name)
            except Exception:
                err = exc
            checks.append(Check(name, False, _clean(err, conn.token)))
            return False
        checks.append(Check(name, True, detail))
        return True

    def ping():
        with _guard(conn, "reach InfluxDB"):
            PingService(conn.client.api_client).get_ping()
        return f"{conn.url} answers"

    def set_up():
        if not is_onboarded():
            raise InfluxMisconfigured(
                "this InfluxDB has not been set up yet: run manage.py influx_setup --onboard "
                "--username USER --password PASSWORD"
            )
        return "onboarded"

    def org():
        return f"{conn.org!r} has id {_org_id(conn)}"

    def bucket(name: str, setting: str):
        return lambda: f"{name!r} has id {_bucket_id(conn, name, setting)}"

    def read_registry():
        _query(
            conn,
            flux.probe(conn.bucket_auth),
            "read the registry bucket",
            bucket=conn.bucket_auth,
            setting="INFLUX_BUCKET_AUTH",
        )
        return "token can read INFLUX_BUCKET_AUTH"

    def write(name: str, setting: str):
        def run():
            with _guard(conn, f"write to {name!r}", not_found=_bucket_missing(name, setting)):
                _empty_write(conn, name)
            return f"token can write {setting}"

        return run

    def authorizations():
        auth = _create_authorization(conn, "influx-check")
        _delete_authorization(conn, auth.id)
        return "token can create and delete device authorizations"

    if not step("reachable", ping) or not step("set up", set_up) or not step("organization", org):
        return checks
    ok_t = step("telemetry bucket", bucket(conn.bucket, "INFLUX_BUCKET"))
    ok_a = step("registry bucket", bucket(conn.bucket_auth, "INFLUX_BUCKET_AUTH"))
    if ok_a:
        step("read registry", read_registry)
        step("write registry", write(conn.bucket_auth, "INFLUX_BUCKET_AUTH"))
    if ok_t:
        step("write telemetry", write(conn.bucket, "INFLUX_BUCKET"))
        step("create authorizations", authorizations)
    return checks


def masked_settings() -> dict[str, str]:
    """INFLUX_* settings for display, the token masked."""
    return {
        "INFLUX_URL": settings.INFLUX_URL,
        "INFLUX_ORG": settings.INFLUX_ORG,
        "INFLUX_TOKEN": mask_token(settings.INFLUX_TOKEN or "") or "(not set)",
        "INFLUX_BUCKET": settings.INFLUX_BUCKET,
        "INFLUX_BUCKET_AUTH": settings.INFLUX_BUCKET_AUTH,
        "INFLUX_TIMEOUT": str(settings.INFLUX_TIMEOUT),
    }


# ---- virtual devices ---------------------------------------------------------------------------


class DeviceSession:
    """A client that acts as one device: its own token, the telemetry bucket only.

    Used by ``manage.py simulate`` so the virtual device proves its token works exactly as a
    real device's would. Writes are synchronous (nothing buffered to lose) and retried
    patiently on 429/5xx, honouring Retry-After. Use as a context manager.
    """

    def __init__(self, credentials: DeviceCredentials):
        self.credentials = credentials
        timeout_s = _timeout_seconds()
        self._conn = _Conn(
            client=_build(
                credentials.url, credentials.token, credentials.org, timeout_s, patient=True
            ),
            url=credentials.url,
            token=credentials.token,
            org=credentials.org,
            bucket=credentials.bucket,
            bucket_auth="",
            timeout_s=timeout_s,
            pid=os.getpid(),
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
        """Newest telemetry point of this device, read with the device's own token."""
        rows = _query(
            self._conn,
            flux.last_point_time(self._conn.bucket, self.credentials.device_id),
            f"read the last point of device {self.credentials.device_id!r}",
            bucket=self._conn.bucket,
            setting="INFLUX_BUCKET",
        )
        times = [row["_time"] for row in rows if row.get("_time")]
        return max(times) if times else None

    def write(self, points: Iterable[tuple[datetime, dict[str, float]]]) -> int:
        """Write ``(time, fields)`` telemetry points in one request; returns how many."""
        records = []
        for time, values in points:
            point = Point(flux.TELEMETRY_MEASUREMENT).tag("device", self.credentials.device_id)
            for tag, value in SENSOR_TAGS.items():
                point = point.tag(tag, value)
            for name, value in values.items():
                point = point.field(name, float(value))
            records.append(point.time(time, WritePrecision.S))
        if records:
            _write(
                self._conn,
                self._conn.bucket,
                records,
                f"write telemetry of device {self.credentials.device_id!r}",
                setting="INFLUX_BUCKET",
            )
        return len(records)


def backfill_start(last: datetime | None, now: datetime, backfill: timedelta) -> datetime:
    """First minute to write: the minute after the last point, at most ``backfill`` ago."""
    floor = (now - backfill).replace(second=0, microsecond=0)
    if last is None:
        return floor
    after_last = last.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return max(after_last, floor)
