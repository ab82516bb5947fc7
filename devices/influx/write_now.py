""" "Write data now" on a device's page: simulated points written through ``simulate``'s pipeline.

The same code as ``manage.py simulate``: ``simulator.Model`` generates the values (same seed,
device and minute give the same value), ``fleet.Fleet`` writes them with the device's own token
and counts exactly what InfluxDB acknowledged. Only the span differs: one point at the current
minute, or every minute of the last ``days`` days up to now (the minutes it covers are written
again, with the same values for a virtual device).

Bounded time, for a web request: at most ``MAX_DAYS`` days (43,201 points, 9 batches), and
generation stops when ``time_limit_s`` has passed (what was generated is still sent and
counted; by default when the page's time, INFLUX_TIMEOUT, is up); each write may sleep only
``RETRY_BUDGET_S`` between retries.
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


@dataclass(frozen=True)
class WriteNowResult:
    device_id: str
    planned: int  # points the span holds
    generated: int
    written: int  # acknowledged by InfluxDB
    failed: int
    error: str = ""  # why points failed (the first reason)
    stopped: bool = False  # the time limit ended generation early

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
        time_limit_s = max(0.5, left if left is not None else timeout_seconds())
    now = datetime.now(UTC)
    last = simulator.epoch_minute(now)
    first = simulator.epoch_minute(now - timedelta(days=days)) if days else last
    plan = Plan(creds, first, last, simulator.Model(device_id, seed))
    errors: list[str] = []
    fleet = Fleet(budget_s=RETRY_BUDGET_S, on_error=errors.append)
    timer = threading.Timer(time_limit_s, fleet.stop)
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
        error=errors[0] if errors else "",
        stopped=fleet.stopping and totals.generated < plan.points,
    )
