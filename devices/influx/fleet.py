"""The virtual fleet's write pipeline (``manage.py simulate``): fast, and exact about what it wrote.

The caller's thread generates line protocol device after device (``simulator.Model.lines``) and
hands batches of up to ``BATCH_LINES`` lines to a bounded queue; ``workers`` threads gzip and
send them, each batch with its own device's token (one client per device, closed once its last
batch is answered). So several devices' batches are in flight while the next ones are being
generated, and memory stays flat however long the backfill: at most the queue's batches exist.

Accounting: every generated line is counted ``written`` (InfluxDB answered 204, or the part a
422 partial write kept) or ``failed``, with the reason, never both. A request that got no answer
is counted failed, and said to be maybe stored.

Fail fast: InfluxDB unavailable after the patient retries (a hang, an outage longer than the
budget), a missing bucket or a field type conflict stop the whole run at once, with one message,
instead of costing every device the same wait or error in turn. A refused device token fails
that device only.
"""

from __future__ import annotations

import gzip
import json
import logging
import queue
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice

from influxdb_client.rest import ApiException
from influxdb_client.service.write_service import WriteService

from devices import queries
from devices.ids import is_valid_device_id
from devices.simulator import SENSOR_TAGS, Model

from .client import Conn, get, new_conn, patient_requests
from .devices import credentials
from .errors import InfluxError, InfluxMisconfigured, InfluxUnavailable, bucket_missing, guard
from .lowlevel import TELEMETRY_SETTING, decode_registry, registry_query
from .rollup import refresh_written
from .telemetry import last_seen
from .types import DeviceCredentials

logger = logging.getLogger("devices.influx")

BATCH_LINES = 5_000
WORKERS = 4
LAST_SEEN_CHUNK = 500  # device ids per last-point query
_DROPPED = re.compile(r"dropped=(\d+)")
_CONFLICT = re.compile(r'field type conflict: input field "([^"]+)".*?already exists as type (\w+)')


class PartialWrite(Exception):
    """422: InfluxDB kept some lines of a batch and dropped ``dropped`` (type conflict)."""

    def __init__(self, dropped: int | None, message: str):
        super().__init__(message)
        self.dropped = dropped
        self.message = message


def type_conflict_message(bucket: str, message: str) -> str:
    found = _CONFLICT.search(message)
    name, kind = found.groups() if found else ("?", "another type")
    return (
        f"bucket {bucket!r} already holds field {name!r} of measurement "
        f"{queries.TELEMETRY_MEASUREMENT!r} as {kind} (the tutorial's virtual device writes "
        "integers), and InfluxDB keeps one type per field: virtual devices write floats, as the "
        "reference apps read them. Point INFLUX_BUCKET at a new bucket (manage.py influx_setup "
        "creates it), or delete the old points: influx delete --bucket "
        f"{bucket} --start 1970-01-01T00:00:00Z --stop $(date -u +%FT%TZ) "
        f"--predicate '_measurement=\"{queries.TELEMETRY_MEASUREMENT}\"'"
    )


@dataclass
class Tally:
    """What happened to one device's points in this run."""

    device_id: str
    generated: int = 0
    written: int = 0
    failed: int = 0
    first: int | None = None  # epoch minutes of the first and last point written
    last: int | None = None
    error: str = ""  # why this device's points failed (its own cause, not the run's)
    maybe_stored: int = 0  # failed points whose request got no answer

    def wrote(self, n: int, first: int, last: int) -> None:
        self.written += n
        self.first = first if self.first is None else min(self.first, first)
        self.last = last if self.last is None else max(self.last, last)


@dataclass
class Plan:
    """One device's share of a pass: its credentials and the minutes to write (inclusive)."""

    creds: DeviceCredentials
    first: int
    last: int
    model: Model

    @property
    def points(self) -> int:
        return max(0, self.last - self.first + 1)


class _DeviceWriter:
    """A client with one device's token, closed when its last batch has been answered."""

    def __init__(self, creds: DeviceCredentials, budget_s: float, on_closed: Callable[[], None]):
        self.creds = creds
        self._on_closed = on_closed
        self.what = f"write telemetry of device {creds.device_id!r}"
        self._conn: Conn = new_conn(
            url=creds.url,
            token=creds.token,
            org=creds.org,
            bucket=creds.bucket,
            patient=True,
            budget_s=budget_s,
            credential_label=f"the token of device {creds.device_id!r}",
            credential_hint="it was revoked or rotated; rotate the device's token",
        )
        self._service = WriteService(self._conn.client.api_client)
        self._lock = threading.Lock()
        self._pending = 0
        self._sealed = False

    def hold(self) -> None:
        with self._lock:
            self._pending += 1

    def release(self) -> None:
        with self._lock:
            self._pending -= 1
            done = self._sealed and self._pending == 0
        if done:
            self._close()

    def _close(self) -> None:
        self._conn.close()
        self._on_closed()

    def seal(self) -> None:
        """No more batches come: close once the pending ones are answered."""
        with self._lock:
            self._sealed = True
            done = self._pending == 0
        if done:
            self._close()

    def write(self, body: bytes) -> None:
        """Send one gzip-compressed batch (precision s); raises the app's errors or
        ``PartialWrite``."""
        conn = self._conn
        with guard(conn, self.what, not_found=bucket_missing(conn.bucket, TELEMETRY_SETTING)):
            try:
                self._service.post_write(
                    org=conn.org,
                    bucket=conn.bucket,
                    body=body,
                    precision="s",
                    content_encoding="gzip",
                    content_type="text/plain; charset=utf-8",
                )
            except ApiException as exc:
                if exc.status != 422:
                    raise
                text = _error_text(exc)
                found = _DROPPED.search(text)
                raise PartialWrite(int(found.group(1)) if found else None, text) from None


def _error_text(exc: ApiException) -> str:
    body = exc.body.decode("utf-8", "replace") if isinstance(exc.body, bytes) else exc.body
    try:
        return str(json.loads(body).get("message") or body)
    except (TypeError, ValueError, AttributeError):
        return str(body or exc.reason or "")


def line_prefix(device_id: str) -> str:
    """Measurement and tags (sorted, as InfluxDB stores them) of a virtual device's points:
    both device tags (the tutorial apps read ``device``, iot-center-v2 ``clientId``) and the
    reference apps' six sensor tags. Device ids need no escaping (``devices.ids``)."""
    tags = {**SENSOR_TAGS, **dict.fromkeys(queries.DEVICE_TAGS, device_id)}
    return (
        ",".join([queries.TELEMETRY_MEASUREMENT, *(f"{k}={v}" for k, v in sorted(tags.items()))])
        + " "
    )


# ---- reads for the whole fleet, with the shared (operator) connection --------------------------


def fleet_credentials(device_ids: list[str]) -> dict[str, DeviceCredentials]:
    """The credentials of those of ``device_ids`` that are registered: one registry query."""
    conn = get()
    flux = (
        f"from(bucket: {queries.quote(conn.bucket_auth)})\n"
        "  |> range(start: 0)\n"
        f"  |> filter(fn: (r) => r._measurement == {queries.quote(queries.REGISTRY_MEASUREMENT)}"
        ' and (r._field == "key" or r._field == "token"))\n'
        "  |> last()\n"
        '  |> keep(columns: ["_time", "_value", "_field", "deviceId"])\n'
        "  |> group()"
    )
    entries = decode_registry(registry_query(conn, flux, "read the device tokens"))
    found = {}
    for device_id in device_ids:
        reg = entries.get(device_id)
        if reg is not None and reg.key and reg.token:
            found[device_id] = credentials(conn, device_id, reg.key, reg.token)
    return found


def last_points(device_ids: list[str]) -> dict[str, datetime]:
    """device id -> time of its newest telemetry point: one query per ``LAST_SEEN_CHUNK``."""
    conn = get()
    ids = [d for d in device_ids if is_valid_device_id(d)]
    seen: dict[str, datetime] = {}
    for i in range(0, len(ids), LAST_SEEN_CHUNK):
        seen.update(last_seen(conn, ids[i : i + LAST_SEEN_CHUNK]))
    return seen


# ---- the pipeline ------------------------------------------------------------------------------


@dataclass
class Totals:
    generated: int = 0
    written: int = 0
    failed: int = 0


@dataclass
class Fleet:
    """Write ``Plan``s; see the module's docstring. ``on_error(message)`` is called once per
    error: each device's own error, and the run's (``abort_reason``) once."""

    budget_s: float
    workers: int = WORKERS
    batch_lines: int = BATCH_LINES
    on_error: Callable[[str], None] = lambda message: None
    tallies: dict[str, Tally] = field(default_factory=dict)
    totals: Totals = field(default_factory=Totals)
    abort_reason: str = ""
    stopping: bool = False  # set by a signal: stop generating, send what is queued
    devices_done: int = 0  # devices whose every batch has been answered

    def __post_init__(self):
        self._lock = threading.Lock()
        self._queue: queue.Queue = queue.Queue(maxsize=self.workers * 2)
        self._threads: list[threading.Thread] = []

    # The reads a run needs, and the command's retry mode, as methods: one public name.
    credentials = staticmethod(fleet_credentials)
    last_points = staticmethod(last_points)
    patient = staticmethod(patient_requests)
    Plan = Plan

    def stop(self) -> None:
        self.stopping = True

    def _device_done(self) -> None:
        with self._lock:
            self.devices_done += 1

    def abort(self, reason: str) -> None:
        with self._lock:
            if self.abort_reason:
                return
            self.abort_reason = reason
        self.on_error(reason)

    def _device_error(self, tally: Tally, message: str) -> None:
        with self._lock:
            if tally.error:
                return
            tally.error = message
        self.on_error(message)

    # -- running ----------------------------------------------------------------------------

    def run(self, plans: list[Plan], *, progress: Callable[[], None] = lambda: None) -> None:
        """Generate and write every plan (until stopped or aborted); returns when every batch
        has been answered and every client closed."""
        self._threads = [
            threading.Thread(target=self._work, name=f"simulate-writer-{i}", daemon=True)
            for i in range(self.workers)
        ]
        for thread in self._threads:
            thread.start()
        try:
            for plan in plans:
                if self.stopping or self.abort_reason:
                    break
                self._generate(plan, progress)
        finally:
            for _ in self._threads:
                self._queue.put(None)
            for thread in self._threads:
                while thread.is_alive():
                    thread.join(timeout=0.2)
                    progress()
        if not (self.stopping or self.abort_reason):  # stopped: no more requests
            self._refresh_rollup()

    def _refresh_rollup(self) -> None:
        """A backfill into hours the rollup already covers: recompute those hours of these
        devices, so their long dashboard ranges stay fast and right (``rollup.py``)."""
        spans = {
            t.device_id: (
                datetime.fromtimestamp(t.first * 60, UTC),
                datetime.fromtimestamp(t.last * 60, UTC),
            )
            for t in self.tallies.values()
            if t.first is not None and t.last is not None
        }
        try:
            refresh_written(spans)
        except InfluxError as exc:
            self.on_error(
                f"could not refresh the rollup of the points written ({exc}): run "
                "`manage.py rollup --since <the first point's time>`"
            )

    def _generate(self, plan: Plan, progress: Callable[[], None]) -> None:
        device_id = plan.creds.device_id
        tally = self.tallies.setdefault(device_id, Tally(device_id))
        if plan.points <= 0:
            self._device_done()
            return
        writer = _DeviceWriter(plan.creds, self.budget_s, self._device_done)
        lines = plan.model.lines(line_prefix(device_id), plan.first, plan.last)
        minute = plan.first
        try:
            while not (self.stopping or self.abort_reason or tally.error):
                chunk = list(islice(lines, self.batch_lines))
                if not chunk:
                    break
                body = "".join(chunk)
                n = len(chunk)
                with self._lock:
                    tally.generated += n
                    self.totals.generated += n
                writer.hold()
                self._put((writer, tally, body, n, minute, minute + n - 1), progress)
                minute += n
        finally:
            writer.seal()

    def _put(self, item, progress: Callable[[], None]) -> None:
        while True:
            try:
                self._queue.put(item, timeout=0.2)
                return
            except queue.Full:
                progress()

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            writer, tally, body, n, first, last = item
            try:
                self._send(writer, tally, body, n, first, last)
            finally:
                writer.release()

    def _fail(self, tally: Tally, n: int, *, unanswered: bool = False) -> None:
        with self._lock:
            tally.failed += n
            self.totals.failed += n
            if unanswered:
                tally.maybe_stored += n

    def _send(self, writer: _DeviceWriter, tally: Tally, body: str, n, first, last) -> None:
        if self.abort_reason or tally.error:
            self._fail(tally, n)  # not sent: the run or the device has failed already
            return
        try:
            writer.write(gzip.compress(body.encode(), compresslevel=1))
        except PartialWrite as exc:
            dropped = n if exc.dropped is None else min(n, exc.dropped)
            with self._lock:
                tally.written += n - dropped
                self.totals.written += n - dropped
            self._fail(tally, dropped)
            if "field type conflict" in exc.message:
                self.abort(type_conflict_message(writer.creds.bucket, exc.message))
            else:
                self._device_error(tally, f"{tally.device_id}: InfluxDB refused points: {exc}")
        except InfluxUnavailable as exc:
            self._fail(tally, n, unanswered=exc.unclear)
            self.abort(f"{exc}; stopped the run (nothing more is sent)")
        except InfluxMisconfigured as exc:
            self._fail(tally, n)
            if "not found" in str(exc) and "bucket" in str(exc):
                self.abort(str(exc))
            else:
                self._device_error(tally, f"{tally.device_id}: {exc}")
        except InfluxError as exc:
            self._fail(tally, n)
            self._device_error(tally, f"{tally.device_id}: {exc}")
        else:
            with self._lock:
                tally.wrote(n, first, last)
                self.totals.written += n


def now_minute() -> int:
    return int(time.time() // 60)
