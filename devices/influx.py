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
* telemetry bucket ``INFLUX_BUCKET``: measurement ``environment``, float fields, the device id in
  tag ``device`` (tutorial apps) or ``clientId`` (iot-center-v2): reads match either, our virtual
  devices write both.
"""

from __future__ import annotations

import atexit
import json
import logging
import math
import os
import threading
import uuid
import weakref
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from time import monotonic

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
from influxdb_client.service.authorizations_service import AuthorizationsService
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

    # True when no answer came back (timeout, dropped connection): the request may still have
    # been carried out, so a caller that changed something must check what InfluxDB holds.
    unclear: bool = False

    def __init__(self, url: str, reason: str, *, unclear: bool = False):
        super().__init__(f"InfluxDB unavailable at {url}: {reason}")
        self.url = url
        self.reason = reason
        self.unclear = unclear


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

# Tags the virtual device writes beside the device tags (the reference apps' sensor tags).
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
    token: str = field(repr=False)  # never in logs or tracebacks through repr
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
        # ResponseError: InfluxDB answered (429/503 with a long Retry-After), nothing was done.
        return InfluxUnavailable(
            url,
            f"{_reason(exc.reason)} while trying to {what}",
            unclear=not isinstance(exc.reason, ResponseError),
        )
    if isinstance(exc, Urllib3HTTPError | OSError):
        return InfluxUnavailable(url, f"{_reason(exc)} while trying to {what}", unclear=True)
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
    """Run a query; rows as plain dicts (``values`` of each record, in order).

    Within a page's deadline (see ``page_deadline``) the page stops waiting when it passes.
    """

    def run() -> list[dict]:
        with _guard(conn, what, not_found=_bucket_missing(bucket, setting)):
            tables = conn.query_api.query(query, org=conn.org)
            return [record.values for table in tables for record in table.records]

    return _bounded(conn, what, run)


# ---- page deadline -----------------------------------------------------------------------------
#
# INFLUX_TIMEOUT bounds a whole page, not each request: a page making three reads against a slow
# InfluxDB must not take three timeouts. The middleware opens a deadline per request; every read
# then runs in a small pool and the page stops waiting when the deadline passes. The abandoned
# request ends in its thread by its own per-request timeout. Changes (register, rotate, remove)
# are never abandoned half-way: they run with per-request timeouts only (``_mutation``).

_deadline: ContextVar[float | None] = ContextVar("influx_page_deadline", default=None)
_mutating: ContextVar[bool] = ContextVar("influx_mutating", default=False)
# Enough for a few pages at once plus requests left running after their page gave up on them.
_READ_WORKERS = 16
_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_pid = 0


def start_page_deadline() -> Token:
    """Start this request's time budget (INFLUX_TIMEOUT from now); pass the result to
    ``end_page_deadline``. Bad settings leave no deadline: the service reports them itself."""
    try:
        timeout_s = _timeout_seconds()
    except InfluxMisconfigured:
        return _deadline.set(None)
    return _deadline.set(monotonic() + timeout_s)


def end_page_deadline(token: Token) -> None:
    _deadline.reset(token)


@contextmanager
def page_deadline() -> Iterator[None]:
    """Reads inside answer within INFLUX_TIMEOUT in total, or raise ``InfluxUnavailable``."""
    token = start_page_deadline()
    try:
        yield
    finally:
        end_page_deadline(token)


@contextmanager
def _mutation() -> Iterator[None]:
    """Reads inside are part of a change: they get per-request timeouts, never the deadline."""
    token = _mutating.set(True)
    try:
        yield
    finally:
        _mutating.reset(token)


def _executor() -> ThreadPoolExecutor:
    global _pool, _pool_pid
    pid = os.getpid()
    if _pool is None or _pool_pid != pid:
        with _pool_lock:
            # After a fork the parent's worker threads do not exist here: start a new pool.
            if _pool is None or _pool_pid != pid:
                _pool = ThreadPoolExecutor(_READ_WORKERS, thread_name_prefix="influx-read")
                _pool_pid = pid
    return _pool


def _bounded(conn: _Conn, what: str, fn: Callable[[], object]):
    """``fn()``, but given up on (``InfluxUnavailable``) when the page's deadline passes."""
    deadline = _deadline.get()
    if deadline is None or _mutating.get():
        return fn()
    remaining = deadline - monotonic()
    if remaining > 0:
        future = _executor().submit(fn)
        try:
            return future.result(timeout=remaining)
        except TimeoutError:
            future.cancel()  # still queued: never send it
    err = InfluxUnavailable(
        conn.url,
        f"timed out after {conn.timeout_s:g} s (INFLUX_TIMEOUT, per page) while trying to {what}",
        unclear=True,
    )
    logger.warning("InfluxDB: %s", err)
    raise err


def _telemetry_query(conn: _Conn, query: str, what: str) -> list[dict]:
    """``_query`` on the telemetry bucket (INFLUX_BUCKET)."""
    return _query(conn, query, what, bucket=conn.bucket, setting="INFLUX_BUCKET")


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
    return _registration_from(device_id, rows)


def _registration_from(device_id: str, rows: list[dict]) -> _Registration | None:
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


def _telemetry_bucket_id(conn: _Conn) -> str:
    """The telemetry bucket's id, looked up afresh (not cached): a token for the id of a since
    re-created bucket could write nowhere, and registrations are rare enough for one more
    request."""
    bucket = _find_bucket(conn, conn.bucket)
    if bucket is None:
        raise InfluxMisconfigured(_bucket_missing(conn.bucket, "INFLUX_BUCKET"))
    conn.ids[f"bucket:{conn.bucket}"] = bucket.id
    return bucket.id


def _create_authorization(
    conn: _Conn, device_id: str, *, bucket_id: str | None = None
) -> Authorization:
    """A token that can write (and read) the telemetry bucket only: never the registry."""
    org_id = _org_id(conn)
    bucket_id = bucket_id or _telemetry_bucket_id(conn)
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


def _credentials(conn: _Conn, device_id: str, key: str, token: str) -> DeviceCredentials:
    return DeviceCredentials(
        device_id=device_id,
        key=key,
        token=token,
        url=conn.url,
        org=conn.org,
        bucket=conn.bucket,
    )


def _revoke_quietly(conn: _Conn, device_id: str, key: str) -> None:
    """Revoke an authorization the registry does not reference; if InfluxDB refuses now, the
    next change of the device revokes it (``_reconcile``)."""
    try:
        _delete_authorization(conn, key)
    except InfluxError as exc:
        logger.error(
            "device %r: authorization %s is not in the registry and could not be revoked (%s); "
            "the next register, rotate or remove of the device revokes it",
            device_id,
            key,
            exc,
        )


# ---- device changes: register, rotate, remove --------------------------------------------------
#
# InfluxDB has no transactions: a change is authorization calls plus a registry write, and any of
# them may fail, or time out after InfluxDB carried it out. So every change starts and ends by
# reconciling the device's authorizations with what the registry holds (``_reconcile``): the one
# the registry references stays, every other authorization of the device on our bucket is
# revoked. A new authorization is revoked only once the registry is known not to reference it.

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


def _device_authorizations(
    conn: _Conn, bucket_id: str, *, device_id: str | None = None
) -> dict[str, list[str]]:
    """device id -> ids of the authorizations made for it (by their description) on our
    bucket, from one listing of the org's authorizations; only ``device_id``'s if given."""
    org_id = _org_id(conn)
    what = "list device authorizations"
    if device_id is not None:
        what = f"list the authorizations of device {device_id!r}"
    with _guard(conn, what):
        # InfluxDB filters authorizations by user or organization only, not by description, so
        # the org's whole list comes back: read it as plain JSON. Building the client's model
        # objects for it costs ~0.3 ms each (seconds at 10,000 devices).
        response = AuthorizationsService(conn.client.api_client).get_authorizations(
            org_id=org_id, _preload_content=False
        )
        found = json.loads(response.data).get("authorizations") or []
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


def _device_authorization_ids(conn: _Conn, device_id: str, bucket_id: str) -> list[str]:
    """Ids of every authorization made for this device (by its description) on our bucket."""
    return _device_authorizations(conn, bucket_id, device_id=device_id).get(device_id, [])


def _reconcile(conn: _Conn, device_id: str, bucket_id: str, reg: _Registration | None) -> list[str]:
    """Revoke the device's authorizations that the registry entry ``reg`` does not reference
    (all of them when the device is not registered or removed). Returns the ids revoked."""
    keep = reg.key if reg is not None else ""
    revoked = []
    for auth_id in _device_authorization_ids(conn, device_id, bucket_id):
        if auth_id != keep:
            _delete_authorization(conn, auth_id)
            revoked.append(auth_id)
    if revoked:
        logger.warning(
            "device %r: revoked authorization(s) %s, which the registry does not reference",
            device_id,
            ", ".join(revoked),
        )
    return revoked


def _reconcile_quietly(
    conn: _Conn, device_id: str, bucket_id: str, reg: _Registration | None = None
) -> None:
    """``_reconcile`` at the end of a change, against ``reg`` or the registry read afresh. The
    change's outcome stands either way: what is left over, the next change settles."""
    try:
        if reg is None:
            reg = _registration(conn, device_id)
        _reconcile(conn, device_id, bucket_id, reg)
    except InfluxError as exc:
        logger.warning(
            "device %r: authorizations not checked against the registry (%s); the next "
            "register, rotate or remove of the device does it",
            device_id,
            exc,
        )


def _new_authorization(conn: _Conn, device_id: str, bucket_id: str) -> Authorization:
    try:
        return _create_authorization(conn, device_id, bucket_id=bucket_id)
    except InfluxUnavailable as exc:
        if exc.unclear:
            # InfluxDB may have created it and lost the answer: nothing references it yet.
            _reconcile_quietly(conn, device_id, bucket_id)
        raise


def _store_registration(
    conn: _Conn, device_id: str, auth: Authorization, created_at: datetime | None, what: str
) -> _Registration | None:
    """Point the registry at ``auth``; returns the entry read back afterwards (None if only
    that read failed), which may name another key if another process wrote at the same time.

    If the write fails, ``auth`` is revoked, unless InfluxDB stored the point after all and only
    the answer was lost. When no answer came, the entry found is first written again with a
    newer time, so that the lost write, should it still arrive, is older and cannot win.
    """
    point = _registry_point(device_id, auth.id, auth.token, created_at)
    try:
        _write(conn, conn.bucket_auth, point, what, setting="INFLUX_BUCKET_AUTH")
    except InfluxError as exc:
        failure = exc
    else:
        try:
            return _registration(conn, device_id)
        except InfluxError as exc:
            logger.warning("device %r: registry not read back after writing (%s)", device_id, exc)
            return None
    if isinstance(failure, InfluxUnavailable) and failure.unclear:
        try:
            current = _registration(conn, device_id)
            if current is not None and current.key == auth.id:
                logger.warning("device %r: registry write stored though unanswered", device_id)
                return current
            again = _registry_point(
                device_id,
                current.key if current else "",
                current.token if current else "",
                current.created_at if current else None,
            )
            _write(conn, conn.bucket_auth, again, what, setting="INFLUX_BUCKET_AUTH")
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


@contextmanager
def _changing(device_id: str) -> Iterator[tuple[_Conn, str, _Registration | None]]:
    """Start a change of one device: this process's lock on the id, the telemetry bucket id, the
    registry entry as it is now, and the leftovers of earlier changes that failed half-way
    revoked first. Yields ``(conn, bucket_id, registration)``."""
    conn = _get()
    with _mutation(), _device_lock(device_id):
        bucket_id = _telemetry_bucket_id(conn)
        reg = _registration(conn, device_id)
        _reconcile(conn, device_id, bucket_id, reg)
        yield conn, bucket_id, reg


def _issue_token(
    conn: _Conn, device_id: str, bucket_id: str, created_at: datetime | None, what: str
) -> tuple[Authorization, _Registration | None] | None:
    """A new authorization for the device, with the registry pointing at it: ``(auth, entry
    read back)``. None when another process wrote the device's entry at the same moment and
    its write won; ours is then revoked."""
    auth = _new_authorization(conn, device_id, bucket_id)
    current = _store_registration(conn, device_id, auth, created_at, what)
    if current is not None and current.key != auth.id:
        _revoke_quietly(conn, device_id, auth.id)
        return None
    return auth, current


def register_device(device_id: str | None = None) -> DeviceCredentials:
    """Empty/None id: a generated one. Raises InvalidDeviceId, DeviceExists."""
    device_id = (device_id or "").strip() or str(uuid.uuid4())
    device_id = _check_id(device_id)
    with _changing(device_id) as (conn, bucket_id, existing):
        if existing is not None and existing.key:
            raise DeviceExists(f"device {device_id!r} is already registered")
        # createdAt marks this registration; a device removed earlier starts afresh.
        issued = _issue_token(conn, device_id, bucket_id, _now(), f"register device {device_id!r}")
        if issued is None:
            raise DeviceExists(f"device {device_id!r} is already registered")
        auth, current = issued
        _reconcile_quietly(conn, device_id, bucket_id, current)
    logger.info("registered device %r (authorization %s)", device_id, auth.id)
    return _credentials(conn, device_id, auth.id, auth.token)


def _active_registration(conn: _Conn, device_id: str) -> _Registration:
    reg = _registration(conn, device_id)
    if reg is None or not reg.key:
        raise DeviceNotFound(f"device {device_id!r} is not registered")
    return reg


def remove_device(device_id: str, *, delete_telemetry: bool = False) -> bool:
    """Delete the telemetry if asked, revoke the authorization (already gone is fine), then
    soft-delete the registry entry: a failure at any step leaves the device listed, so removing
    it again finishes the job.

    Returns False when telemetry tagged ``device=<id>`` had to be kept because other devices'
    points carry that tag too (iot-center-v2 boards named like this id): the delete API cannot
    tell them apart. True otherwise.
    """
    device_id = _check_id(device_id)
    shared: list[dict] = []  # other devices' points tagged device=<id>, if any
    with _changing(device_id) as (conn, bucket_id, reg):
        if reg is None or not reg.key:
            raise DeviceNotFound(f"device {device_id!r} is not registered")
        if delete_telemetry:
            # First: once the device is gone from the list, nobody could ask again.
            # One delete per device tag (``device``, then iot-center-v2's ``clientId``): the
            # delete predicate has no OR. A failure in between leaves the device listed, and
            # removing it again deletes what is left.
            predicates = flux.telemetry_delete_predicates(device_id)
            shared = _telemetry_query(
                conn,
                flux.shared_device_tag(conn.bucket, device_id),
                f"check whose telemetry is tagged device={device_id!r}",
            )
            if shared:
                predicates.remove(flux.telemetry_delete_predicate(device_id, flux.DEVICE_TAG))
                logger.warning(
                    "device %r: telemetry tagged device=%r kept: other devices' points (clientId "
                    "%r) carry the same tag",
                    device_id,
                    device_id,
                    shared[0].get(flux.CLIENT_ID_TAG),
                )
            for predicate in predicates:
                with _guard(
                    conn,
                    f"delete the telemetry of device {device_id!r}",
                    not_found=_bucket_missing(conn.bucket, "INFLUX_BUCKET"),
                ):
                    conn.client.delete_api().delete(
                        start="1970-01-01T00:00:00Z",
                        stop="2262-01-01T00:00:00Z",
                        predicate=predicate,
                        bucket=conn.bucket,
                        org=conn.org,
                    )
        _delete_authorization(conn, reg.key)
        _write(
            conn,
            conn.bucket_auth,
            _registry_point(device_id, "", "", None),
            f"remove device {device_id!r}",
            setting="INFLUX_BUCKET_AUTH",
        )
        _reconcile_quietly(conn, device_id, bucket_id)
    logger.info("removed device %r (telemetry deleted: %s)", device_id, delete_telemetry)
    return not shared


def rotate_token(device_id: str) -> DeviceCredentials:
    """New authorization first, registry updated, old one revoked."""
    device_id = _check_id(device_id)
    # _changing also revokes the old key of an earlier rotation that could not revoke it.
    with _changing(device_id) as (conn, bucket_id, reg):
        if reg is None or not reg.key:
            raise DeviceNotFound(f"device {device_id!r} is not registered")
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
            _delete_authorization(conn, reg.key)
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
    return _credentials(conn, device_id, auth.id, auth.token)


def device_credentials(device_id: str) -> DeviceCredentials:
    """The stored credentials of a registered device (for the virtual device; never for pages)."""
    device_id = _check_id(device_id)
    conn = _get()
    reg = _active_registration(conn, device_id)
    return _credentials(conn, device_id, reg.key, reg.token)


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


def _owner(row: dict) -> str | None:
    """Whose telemetry a row is: its ``clientId`` when set (iot-center-v2, whose ``device`` tag
    names the board type, e.g. "ESP8266"), else its ``device`` (the tutorial apps)."""
    return row.get(flux.CLIENT_ID_TAG) or row.get(flux.DEVICE_TAG)


def _owned(rows: Iterable[dict], device_id: str) -> Iterator[dict]:
    """The rows of ``device_id`` among rows a device-or-clientId filter matched."""
    return (row for row in rows if _owner(row) == device_id)


def _note_seen(seen: dict[str, datetime], row: dict, wanted: set[str]) -> None:
    """Credit a telemetry row's time to its owner, if that is a device asked for."""
    time, device_id = row.get("_time"), _owner(row)
    if time and device_id in wanted and (device_id not in seen or time > seen[device_id]):
        seen[device_id] = time


def _last_seen(conn: _Conn, device_ids: list[str]) -> dict[str, datetime]:
    # Ids written by other apps may break our rules; they can't be queried safely, so they
    # simply show no last-seen time.
    ids = [d for d in device_ids if flux.is_valid_device_id(d)]
    if not ids:
        return {}
    rows = _telemetry_query(
        conn,
        flux.last_seen(conn.bucket, ids),
        "read last telemetry times",
    )
    seen: dict[str, datetime] = {}
    wanted = set(ids)
    for row in rows:
        _note_seen(seen, row, wanted)
    return seen


def _registry_ids(conn: _Conn) -> list[str]:
    """Ids of every registered, not removed device: one query, one small row per device."""
    rows = _query(
        conn,
        flux.registry_ids(conn.bucket_auth),
        "list devices",
        bucket=conn.bucket_auth,
        setting="INFLUX_BUCKET_AUTH",
    )
    return list(dict.fromkeys(d for row in rows if (d := row.get("deviceId"))))


def _page_details(
    conn: _Conn, device_ids: list[str]
) -> tuple[dict[str, tuple[str, datetime | None]], dict[str, datetime]]:
    """(device id -> (key, created_at), device id -> last telemetry time) for one page, in
    one query. Ids other apps wrote that break our rules get their registry details but no
    last-seen time, as ``get_device`` cannot look them up either."""
    ids = [d for d in device_ids if flux.is_valid_device_id(d)]
    foreign = [d for d in device_ids if not flux.is_valid_device_id(d)]
    if not ids and not foreign:
        return {}, {}
    rows = _telemetry_query(
        conn,
        flux.list_page(conn.bucket_auth, conn.bucket, ids, foreign),
        "read the devices of this page",
        # The registry was readable a moment ago (the id list): a bucket missing now is
        # most likely the telemetry bucket.
    )
    keys: dict[str, tuple[str, datetime | None]] = {}
    created: dict[str, datetime | None] = {}
    seen: dict[str, datetime] = {}
    wanted = set(ids)
    for row in rows:
        if row.get("result") == flux.PAGE_TELEMETRY_RESULT:
            _note_seen(seen, row, wanted)
            continue
        device_id = row.get("deviceId")
        if not device_id:
            continue
        if row.get("_field") == "key":
            keys[device_id] = (str(row.get("_value") or ""), row.get("_time"))
        else:
            created[device_id] = _parse_time(row.get("_value"))
    details = {
        device_id: (key, created.get(device_id) or key_time)
        for device_id, (key, key_time) in keys.items()
    }
    return details, seen


def list_devices(*, search: str = "", page: int = 1, per_page: int = 50) -> DevicePage:
    """Registered (not soft-deleted) devices, id contains ``search`` (case-insensitive),
    sorted by id, with last telemetry time; two queries per call whatever the number of
    devices: every id (``registry_ids``), then the details of the page (``list_page``)."""
    conn = _get()
    per_page = max(1, int(per_page))
    needle = (search or "").strip().casefold()
    ids = sorted(d for d in _registry_ids(conn) if needle in d.casefold())
    total = len(ids)
    num_pages = max(1, math.ceil(total / per_page))
    page = min(max(1, int(page)), num_pages)
    page_ids = ids[(page - 1) * per_page : page * per_page]
    details, seen = _page_details(conn, page_ids)
    devices = [
        Device(
            device_id=d,
            key=details.get(d, ("", None))[0],
            created_at=details.get(d, ("", None))[1],
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


def _readings_from(rows: Iterable[dict], device_id: str) -> list[Reading]:
    latest: dict[str, Reading] = {}
    for row in _owned(rows, device_id):
        name, at, value = row.get("_field"), row.get("_time"), row.get("_value")
        if name is None or at is None or value is None:
            continue
        if name not in latest or at > latest[name].time:
            latest[name] = Reading(field=name, value=value, time=at)
    return [latest[name] for name in sorted(latest)]


def latest_readings(device_id: str) -> list[Reading]:
    """Latest value of each telemetry field of the device, sorted by field."""
    device_id = _check_id(device_id)
    conn = _get()
    rows = _telemetry_query(
        conn,
        flux.latest_readings(conn.bucket, device_id),
        f"read the latest values of device {device_id!r}",
    )
    return _readings_from(rows, device_id)


def _stats_from(rows: Iterable[dict], device_id: str) -> list[FieldStats]:
    acc: dict[str, dict] = {}
    for row in _owned(rows, device_id):
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
            at = row.get("_time")
            if at is not None and (entry["last"] is None or at > entry["last"]):
                entry["last"] = at
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


def field_stats(device_id: str, *, range_key: str = DEFAULT_RANGE) -> list[FieldStats]:
    """Per field count/min/max/last time over the range, sorted by field."""
    device_id = _check_id(device_id)
    start, _every = _range(range_key)
    conn = _get()
    rows = _telemetry_query(
        conn,
        flux.field_stats(conn.bucket, device_id, start),
        f"read the statistics of device {device_id!r}",
    )
    return _stats_from(rows, device_id)


def _series_from(rows: Iterable[dict], device_id: str) -> dict[str, list[SeriesPoint]]:
    by_field: dict[str, dict[datetime, list[float]]] = {}
    for row in _owned(rows, device_id):
        name, at, value = row.get("_field"), row.get("_time"), row.get("_value")
        if name is None or at is None:
            continue
        by_field.setdefault(name, {}).setdefault(at, [])
        if value is not None:
            by_field[name][at].append(float(value))
    return {
        name: [
            SeriesPoint(time=t, value=(sum(vs) / len(vs)) if vs else None)
            for t, vs in sorted(points.items())
        ]
        for name, points in sorted(by_field.items())
    }


def telemetry_series(
    device_id: str, *, range_key: str = DEFAULT_RANGE
) -> dict[str, list[SeriesPoint]]:
    """Per numeric field, aggregateWindow(mean) over the range: what dashboard charts draw."""
    device_id = _check_id(device_id)
    start, every = _range(range_key)
    conn = _get()
    rows = _telemetry_query(
        conn,
        flux.telemetry_series(conn.bucket, device_id, start, every),
        f"read the chart data of device {device_id!r}",
    )
    return _series_from(rows, device_id)


@dataclass(frozen=True)
class DeviceView:
    """What a device's page shows, read in one request (``device_view``)."""

    device: Device
    readings: list[Reading]
    stats: list[FieldStats] = field(default_factory=list)  # only if asked for
    series: dict[str, list[SeriesPoint]] = field(default_factory=dict)  # only if asked for


def device_view(
    device_id: str,
    *,
    range_key: str = DEFAULT_RANGE,
    stats: bool = False,
    series: bool = False,
) -> DeviceView:
    """The device, its latest readings and optionally its statistics and chart series over
    the range, in ONE query (the detail page, the dashboard and the API each wait for one
    round trip). Raises InvalidDeviceId, DeviceNotFound."""
    device_id = _check_id(device_id)
    start, every = _range(range_key)
    conn = _get()
    rows = _query(
        conn,
        flux.device_view(
            conn.bucket_auth,
            conn.bucket,
            device_id,
            stats_start=start if stats else None,
            series=(start, every) if series else None,
        ),
        f"read device {device_id!r}",
        # Most likely to be missing when the registry could be read before: the telemetry one.
        bucket=conn.bucket,
        setting="INFLUX_BUCKET",
    )
    by_result: dict[str, list[dict]] = {}
    for row in rows:
        by_result.setdefault(row.get("result"), []).append(row)
    reg = _registration_from(device_id, by_result.get(flux.VIEW_REGISTRY_RESULT, []))
    if reg is None or not reg.key:
        raise DeviceNotFound(f"device {device_id!r} is not registered")
    readings = _readings_from(by_result.get(flux.VIEW_LATEST_RESULT, []), device_id)
    device = Device(
        device_id=device_id,
        key=reg.key,
        created_at=reg.created_at,
        # Every field's newest point is among the readings: the newest of them is last-seen.
        last_seen=max((r.time for r in readings), default=None),
        token_hint=mask_token(reg.token),
    )
    stats_rows = [
        row for name in ("count", "min", "max", "last") for row in by_result.get(name, [])
    ]
    return DeviceView(
        device=device,
        readings=readings,
        stats=_stats_from(stats_rows, device_id) if stats else [],
        series=(
            _series_from(by_result.get(flux.VIEW_SERIES_RESULT, []), device_id) if series else {}
        ),
    )


def health() -> dict:
    """``{"status": "pass"|"fail", "url": ..., "message": ...}`` within the timeout.

    Never raises.
    """
    url = (getattr(settings, "INFLUX_URL", "") or "").rstrip("/")
    try:
        conn = _get()

        def check() -> None:
            with _guard(conn, "ping"):
                PingService(conn.client.api_client).get_ping()
            # Ping needs no token; looking both buckets up (not from the id cache) proves the
            # org, the buckets and that the token is still accepted.
            for name, setting in (
                (conn.bucket, "INFLUX_BUCKET"),
                (conn.bucket_auth, "INFLUX_BUCKET_AUTH"),
            ):
                if _find_bucket(conn, name) is None:
                    raise InfluxMisconfigured(_bucket_missing(name, setting))

        # All of it within the request's deadline: a load balancer waits INFLUX_TIMEOUT at most.
        _bounded(conn, "check InfluxDB", check)
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
    # Not a failure (the app works), but something for the operator to act on.
    warning: bool = False


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
            result = fn()  # a detail, or a whole Check (a warning)
            if isinstance(result, Check):
                checks.append(result)
                return True
            detail = result or "ok"
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

    def orphans():
        found = _orphans(conn, _telemetry_bucket_id(conn), _registry_all(conn))
        if not found:
            return "every device authorization is the registry's"
        shown = ", ".join(f"{o.key} ({o.device_id})" for o in found[:10])
        more = f" and {len(found) - 10} more" if len(found) > 10 else ""
        return Check(
            "orphan authorizations",
            True,
            f"{len(found)} device authorization(s) on {conn.bucket!r} that the registry "
            f"does not reference, whose tokens still work: {shown}{more}; revoke them with "
            "manage.py influx_check --revoke-orphans",
            warning=True,
        )

    if not step("reachable", ping) or not step("set up", set_up) or not step("organization", org):
        return checks
    ok_t = step("telemetry bucket", bucket(conn.bucket, "INFLUX_BUCKET"))
    ok_a = step("registry bucket", bucket(conn.bucket_auth, "INFLUX_BUCKET_AUTH"))
    if ok_a:
        step("read registry", read_registry)
        step("write registry", write(conn.bucket_auth, "INFLUX_BUCKET_AUTH"))
    if ok_t:
        step("write telemetry", write(conn.bucket, "INFLUX_BUCKET"))
        authorized = step("create authorizations", authorizations)
        if ok_a and authorized:
            step("orphan authorizations", orphans)
    return checks


@dataclass(frozen=True)
class OrphanAuthorization:
    """A device authorization on the telemetry bucket that the registry does not reference:
    left by a change that failed half-way, or made by another tool. Its token still works."""

    device_id: str
    key: str  # the authorization id


def orphan_authorizations() -> list[OrphanAuthorization]:
    """Every device authorization (description ``IoTCenterDevice: <id>``) on the telemetry
    bucket that the registry does not reference, sorted by device id: two requests."""
    conn = _get()
    bucket_id = _telemetry_bucket_id(conn)
    return _orphans(conn, bucket_id, _registry_all(conn))


def _orphans(
    conn: _Conn, bucket_id: str, registry: dict[str, tuple[str, datetime | None]]
) -> list[OrphanAuthorization]:
    orphans = []
    for device_id, auth_ids in sorted(_device_authorizations(conn, bucket_id).items()):
        keep = registry.get(device_id, ("", None))[0]
        orphans.extend(OrphanAuthorization(device_id, a) for a in auth_ids if a != keep)
    return orphans


def revoke_orphan_authorizations() -> list[OrphanAuthorization]:
    """Revoke what ``orphan_authorizations`` reports; returns what was revoked.

    Device by device, as a register, rotate or remove of the device starts (``_reconcile``
    against the registry read afresh, under the device's lock): an authorization a change in
    this process is about to store is never taken for an orphan. A change running in another
    process at this moment could be; run this when no one is registering devices.
    """
    conn = _get()
    revoked: list[OrphanAuthorization] = []
    with _mutation():
        bucket_id = _telemetry_bucket_id(conn)
        found = _orphans(conn, bucket_id, _registry_all(conn))
        for device_id in dict.fromkeys(o.device_id for o in found):
            with _device_lock(device_id):
                if flux.is_valid_device_id(device_id):
                    reg = _registration(conn, device_id)
                else:
                    # An id our queries cannot name (another tool's): its registry entry, if
                    # any, from the whole registry.
                    key, created = _registry_all(conn).get(device_id, ("", None))
                    reg = _Registration(device_id, key, "", created)
                done = _reconcile(conn, device_id, bucket_id, reg)
            revoked.extend(OrphanAuthorization(device_id, a) for a in done)
    return revoked


def device_connection(device_id: str) -> list[tuple[str, str]]:
    """What a device needs to write telemetry, minus its token (shown only once)."""
    return [
        ("InfluxDB URL", settings.INFLUX_URL),
        ("Organization", settings.INFLUX_ORG),
        ("Bucket", settings.INFLUX_BUCKET),
        ("Device id", device_id),
    ]


SHARED_BUCKET_WARNING = (
    "The telemetry bucket and the device registry bucket are the same bucket, so device tokens "
    "are stored beside telemetry. Use separate buckets (INFLUX_BUCKET_AUTH) when you can."
)


def registry_shares_telemetry_bucket() -> bool:
    """True when device tokens are stored in the telemetry bucket (one bucket for both)."""
    return settings.INFLUX_BUCKET == settings.INFLUX_BUCKET_AUTH


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
        rows = _telemetry_query(
            self._conn,
            flux.last_point_time(self._conn.bucket, self.credentials.device_id),
            f"read the last point of device {self.credentials.device_id!r}",
        )
        mine = _owned(rows, self.credentials.device_id)
        times = [row["_time"] for row in mine if row.get("_time")]
        return max(times) if times else None

    def write(self, points: Iterable[tuple[datetime, dict[str, float]]]) -> int:
        """Write ``(time, fields)`` telemetry points in one request; returns how many."""
        records = []
        for time, values in points:
            point = Point(flux.TELEMETRY_MEASUREMENT)
            # Both device tags: the tutorial apps read ``device``, iot-center-v2 ``clientId``.
            for tag in flux.DEVICE_TAGS:
                point = point.tag(tag, self.credentials.device_id)
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
