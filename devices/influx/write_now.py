"""'Write data now' on a device's page: simulated points written through ``simulate``'s pipeline.

The same code as ``manage.py simulate``: ``simulator.Model`` generates the values (same seed,
device and minute give the same value), ``fleet.Fleet`` writes them with the device's own token
and counts exactly what InfluxDB acknowledged. Only the span differs: one point at the current
minute, or every minute of the last ``days`` days up to now (the minutes it covers are written
again, with the same values for a virtual device).

Bounded time, for a web request: at most ``MAX_DAYS`` days (43,201 points), and when
``time_limit_s`` has passed (by default ``TIME_SHARE`` of what is left of the page's
INFLUX_TIMEOUT) the run is stopped: nothing more is generated or sent, the batches already being
sent (``WORKERS`` of ``BATCH_LINES`` at most) are answered and counted, the rest is counted as
not written. Each write may sleep only ``RETRY_BUDGET_S`` between retries.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from devices import simulator

from .client import timeout_seconds
from .deadline import seconds_left
from .devices import device_credentials
from .fleet import Fleet, Plan
from .lowlevel import check_id

MAX_DAYS = 30
RETRY_BUDGET_S = 2.0
# Smaller batches and fewer in flight than ``simulate``'s: when the time is up, little is left
# waiting for its answer.
WORKERS = 2
BATCH_LINES = 2_000
# Of the page's time left: the rest is for the batches in flight when the time is up.
TIME_SHARE = 0.6
TIME_LIMIT_REASON = "stopped at the page's time limit"


@dataclass(frozen=True)
class WriteNowResult:
    device_id: str
    planned: int  # points the span holds
    generated: int
    written: int  # acknowledged by InfluxDB
    failed: int
    error: str = ""  # why points failed (the first reason other than the time limit)
    stopped: bool = False  # the time limit ended the run early

    @property
    def complete(self) -> bool:
        return self.written == self.planned and not self.failed


def write_simulated(
    device_id: str, *, days: int = 0, seed: int = 0, time_limit_s: float | None = None
) -> WriteNowResult:
    """One simulated point now (``days=0``) or every minute of the last ``days`` days, with
    the device's own token. Raises InvalidDeviceId, DeviceNotFound, the InfluxDB errors of
    reading its credentials; write failures are counted in the result."""
    device_id = check_id(device_id)
    if not isinstance(days, int) or not 0 <= days <= MAX_DAYS:
        raise ValueError(f"days must be 0 to {MAX_DAYS}, not {days!r}")
    creds = device_credentials(device_id)
    if time_limit_s is None:  # what is left of the page's time (INFLUX_TIMEOUT)
        left = seconds_left()
        time_limit_s = TIME_SHARE * max(0.5, left if left is not None else timeout_seconds())
    now = datetime.now(UTC)
    last = simulator.epoch_minute(now)
    first = simulator.epoch_minute(now - timedelta(days=days)) if days else last
    plan = Plan(creds, first, last, simulator.Model(device_id, seed))
    errors: list[str] = []
    fleet = Fleet(
        budget_s=RETRY_BUDGET_S, workers=WORKERS, batch_lines=BATCH_LINES, on_error=errors.append
    )
    timed_out = threading.Event()

    def time_is_up() -> None:
        timed_out.set()
        fleet.abort(TIME_LIMIT_REASON)  # queued batches are not sent (counted failed)

    timer = threading.Timer(time_limit_s, time_is_up)
    timer.daemon = True
    timer.start()
    try:
        fleet.run([plan])
    finally:
        timer.cancel()
    totals = fleet.totals
    return WriteNowResult(
        device_id=device_id,
        planned=plan.points,
        generated=totals.generated,
        written=totals.written,
        failed=totals.failed,
        error=next((e for e in errors if e != TIME_LIMIT_REASON), ""),
        stopped=timed_out.is_set() and totals.written < plan.points,
    )
