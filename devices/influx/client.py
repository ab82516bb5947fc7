"""The lazy per-process InfluxDB client, its retry policies (page vs patient) and shutdown.

``get()`` builds the shared connection from the INFLUX_* settings on first use (and again after
a fork or a settings change); ``new_conn`` is the one place a connection is built, for the
shared one as for the short-lived ones of setup and of virtual devices. ``INFLUX_TIMEOUT`` is
parsed here only (``parse_timeout``).
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS
from urllib3.exceptions import MaxRetryError, ResponseError
from urllib3.util.retry import Retry

from .errors import InfluxMisconfigured

logger = logging.getLogger("devices.influx")

OPERATOR_LABEL = "INFLUX_TOKEN"
OPERATOR_HINT = (
    "set INFLUX_TOKEN to an operator or all-access token of INFLUX_ORG; run manage.py influx_check"
)


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
        backoff = wait if wait is not None else retry.get_backoff_time()
        if self.slept + backoff > self.budget:
            # Backing off would overrun the budget too: give up now, with what went wrong.
            if error is not None:
                raise MaxRetryError(kw.get("_pool"), url, error) from error
            raise MaxRetryError(kw.get("_pool"), url, ResponseError(f"retry after {backoff:g}s"))
        retry.slept = self.slept + backoff
        return retry


PATIENT_BUDGET_S = 300.0


def retry_policy(timeout_s: float, *, patient: bool, budget_s: float | None = None) -> Retry:
    if patient:
        # Commands (simulate, setup): wait for the server rather than lose a batch. Writes are
        # idempotent in InfluxDB (same series + time overwrite), so re-sending after a dropped
        # connection is safe. The sleeping budget bounds the waits; a server that hangs costs
        # at most three timeouts per request (read=2).
        retry = _BoundedRetry(
            total=40, connect=12, read=2, status=30, other=0, redirect=0,
            status_forcelist=(429, 500, 502, 503, 504), allowed_methods=None,
            backoff_factor=0.5, backoff_max=10, respect_retry_after_header=True,
            raise_on_status=False,
        )  # fmt: skip
        retry.budget = PATIENT_BUDGET_S if budget_s is None else budget_s
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


def parse_timeout(value: object) -> float | None:
    """INFLUX_TIMEOUT in seconds, or None if it is not a positive, finite number."""
    try:
        seconds = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    return seconds if math.isfinite(seconds) and seconds > 0 else None


def timeout_seconds() -> float:
    """INFLUX_TIMEOUT from settings; ``InfluxMisconfigured`` saying how to set it if bad."""
    value = parse_timeout(settings.INFLUX_TIMEOUT)
    if value is None:
        raise InfluxMisconfigured(
            f"INFLUX_TIMEOUT={settings.INFLUX_TIMEOUT!r} is not a positive number of seconds: "
            'set it, e.g. INFLUX_TIMEOUT="5"'
        )
    return value


@dataclass
class Conn:
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
    credential_label: str = OPERATOR_LABEL
    credential_hint: str = OPERATOR_HINT
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

    def __enter__(self) -> Conn:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def new_conn(
    *,
    url: str,
    token: str,
    org: str,
    bucket: str,
    bucket_auth: str = "",
    patient: bool,
    send_token: bool = True,
    credential_label: str = OPERATOR_LABEL,
    credential_hint: str = OPERATOR_HINT,
    budget_s: float | None = None,
) -> Conn:
    """A connection with its own client: page retries, or patient ones (commands), sleeping
    at most ``budget_s`` between the retries of one request (patient only).

    ``send_token=False``: the client sends no token (onboarding an empty InfluxDB); error
    messages still know the token, to keep it out of them.
    """
    timeout_s = timeout_seconds()
    client = InfluxDBClient(
        url=url,
        token=token if send_token else None,
        org=org if send_token else None,
        timeout=int(timeout_s * 1000),
        retries=retry_policy(timeout_s, patient=patient, budget_s=budget_s),
    )
    return Conn(
        client=client,
        url=url,
        token=token,
        org=org,
        bucket=bucket,
        bucket_auth=bucket_auth,
        timeout_s=timeout_s,
        pid=os.getpid(),
        credential_label=credential_label,
        credential_hint=credential_hint,
    )


def settings_snapshot() -> dict[str, str]:
    """The connection settings (url, token, org, bucket, bucket_auth), checked for presence."""
    url = (settings.INFLUX_URL or "").strip().rstrip("/")
    token = settings.INFLUX_TOKEN or ""
    org = settings.INFLUX_ORG or ""
    if not url:
        raise InfluxMisconfigured("INFLUX_URL is not set: set it to InfluxDB's URL")
    if not token:
        raise InfluxMisconfigured("INFLUX_TOKEN is not set: set it to an InfluxDB API token")
    if not org:
        raise InfluxMisconfigured("INFLUX_ORG is not set: set it to your InfluxDB organization")
    return {
        "url": url,
        "token": token,
        "org": org,
        "bucket": settings.INFLUX_BUCKET,
        "bucket_auth": settings.INFLUX_BUCKET_AUTH,
    }


_lock = threading.Lock()
_conn: Conn | None = None
# Set by ``patient_requests``: the shared connection retries as a command's (budget in s).
_patient_budget: float | None = None


def get() -> Conn:
    """The shared connection of this process, built from settings on first use."""
    global _conn
    conn = _conn
    if conn is not None and conn.pid == os.getpid():
        return conn
    with _lock:
        if _conn is not None and _conn.pid == os.getpid():
            return _conn
        budget = _patient_budget
        _conn = new_conn(**settings_snapshot(), patient=budget is not None, budget_s=budget)
        return _conn


@contextmanager
def patient_requests(budget_s: float = PATIENT_BUDGET_S) -> Iterator[None]:
    """Inside, the shared connection retries as a command's does (registry reads and changes
    included), sleeping at most ``budget_s`` per request: for commands, never for pages."""
    global _patient_budget
    _patient_budget = budget_s
    reset_client()
    try:
        yield
    finally:
        _patient_budget = None
        reset_client()


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
