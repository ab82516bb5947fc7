"""The app's InfluxDB exceptions, and the translation of the client's and the network's errors.

Views turn these exceptions into pages; nothing else of the client leaks out. Only errors raised
by the client library or the network are translated (``guard``): a bug in our own code inside a
guarded block surfaces as itself, a 500 with a traceback, never as "InfluxDB unavailable".
Tokens never appear in messages.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from influxdb_client.client.exceptions import InfluxDBError
from influxdb_client.client.flux_csv_parser import FluxCsvParserException, FluxQueryException
from influxdb_client.rest import ApiException
from urllib3.exceptions import HTTPError as Urllib3HTTPError
from urllib3.exceptions import MaxRetryError, ResponseError

logger = logging.getLogger("devices.influx")


class InfluxError(Exception):
    """Base class of every error the service raises."""


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


class DeviceBusy(InfluxUnavailable):
    """Another change of the same device (in any process or host) did not finish within the
    wait: nothing was changed. Pages answer 409 with its message ("another change to device ...
    is in progress"); code that knows only ``InfluxUnavailable`` still treats it as a retry."""

    def __init__(self, message: str, *, url: str = ""):
        InfluxError.__init__(self, message)
        self.url = url
        self.reason = message
        self.unclear = False


class InfluxMisconfigured(InfluxError):
    """Settings or token do not let the app work (401/403, missing org or bucket).

    The message says what to fix, e.g. "bucket 'iot_center' not found: run manage.py influx_setup".
    """


class DeviceNotFound(InfluxError):
    pass


class DeviceExists(InfluxError):
    pass


class InvalidDeviceId(InfluxError, ValueError):
    """Raised before any query when an id breaks the id rules (see ``devices.ids``)."""


class Speaker(Protocol):
    """What translation needs to know of a connection (``client.Conn`` is one)."""

    url: str
    token: str
    credential_label: str
    credential_hint: str


def clean(text: object, *secrets: str) -> str:
    """One line of server text, without any token we know of."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    out = " ".join(str(text).split())
    for secret in secrets:
        if secret:
            out = out.replace(secret, "***")
    return out[:300]


def bucket_missing(name: str, setting: str) -> str:
    return (
        f"bucket {name!r} ({setting}) not found in org or not readable with INFLUX_TOKEN: "
        "run manage.py influx_setup, or check the token's permissions"
    )


def _api_message(exc: ApiException) -> str:
    message = getattr(exc, "message", None)
    if not message:
        message = exc.body or exc.reason or ""
    return str(message)


def translate(
    exc: BaseException, conn: Speaker, what: str, *, not_found: str | None = None
) -> InfluxError:
    """Map a client-library or network error to the app's exceptions. ``what`` says what we
    tried."""
    url, token = conn.url, conn.token
    if isinstance(exc, ApiException):
        status = exc.status or 0
        msg = clean(_api_message(exc), token)
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
        return InfluxUnavailable(url, f"query failed while trying to {what}: {clean(exc.message)}")
    if isinstance(exc, InfluxDBError):
        msg = clean(exc.message or exc, token)
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


# Raised by the client library only: always the client's or the server's doing.
_CLIENT_ERRORS = (
    ApiException,
    InfluxDBError,
    FluxQueryException,
    FluxCsvParserException,
    Urllib3HTTPError,
)
# Built-in errors that mean "the network or the answer is bad" when the client library or the
# standard library's network code raises them (a socket timeout or reset, the client's CSV
# parser meeting a proxy's HTML page), and a bug when our own code raises them.
_MAYBE_CLIENT_ERRORS = (OSError, IndexError)
_LIBRARY_MODULES = ("influxdb_client", "urllib3", "http", "socket", "ssl", "csv", "email")


def raised_by_client(exc: BaseException) -> bool:
    """True when ``exc`` is the client's or the network's error, not a bug of ours."""
    if isinstance(exc, _CLIENT_ERRORS):
        return True
    if not isinstance(exc, _MAYBE_CLIENT_ERRORS):
        return False
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    # The frame that raised it: a C function (socket.recv) raises in its Python caller's frame.
    module = tb.tb_frame.f_globals.get("__name__", "")
    return module.split(".")[0] in _LIBRARY_MODULES


@contextmanager
def guard(conn: Speaker, what: str, *, not_found: str | None = None) -> Iterator[None]:
    """Client and network errors raised inside become ``InfluxUnavailable`` or
    ``InfluxMisconfigured`` (logged); everything else passes through unchanged."""
    try:
        yield
    except InfluxError:
        raise
    except Exception as exc:
        if not raised_by_client(exc):
            raise
        err = translate(exc, conn, what, not_found=not_found)
        logger.warning("InfluxDB: %s", err)
        raise err from None
