"""Virtual devices: one telemetry point a minute per device, written with each device's own token.

Which devices: ids given, ``--count N [--prefix P]`` (registered if missing), or ``--all``;
``--shard K/N`` keeps the K-th of N stable shares of them, so N processes can serve one fleet.
Every run ends with a summary of what was generated, written and failed, also when stopped by
SIGTERM/SIGINT (generation stops, what is queued is sent, every client is closed); the exit status
is 0 only if everything generated was written.
"""

from __future__ import annotations

import logging
import math
import re
import signal
import sys
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from django import db
from django.core.management.base import BaseCommand, CommandError

from devices import influx, simulator
from devices.ids import validate_device_id

MAX_BACKFILL_DAYS = 366
MAX_COUNT = 100_000
MAX_INTERVAL_S = 86_400
MAX_RETRY_S = 3_600
REGISTER_THREADS = 8


def _number(kind, low, high, what):
    """An argparse type: a finite ``kind`` within [low, high], or a clear error."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise ValueError(f"{what}: {text!r} is not a number") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{what} must be a finite number, not {text!r}")
        if not low <= value <= high:
            raise ValueError(f"{what} must be between {low:g} and {high:g}, not {text}")
        return value

    parse.__name__ = what  # argparse names the type in its error
    return parse


def _checked(parse):
    import argparse

    def wrapper(text: str):
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return wrapper


def _shard(text: str) -> tuple[int, int]:
    import argparse

    found = re.fullmatch(r"\s*(\d{1,6})\s*/\s*(\d{1,6})\s*", text)
    if not found or not 1 <= int(found.group(1)) <= int(found.group(2)):
        raise argparse.ArgumentTypeError(f"--shard must be K/N with 1 <= K <= N, not {text!r}")
    return int(found.group(1)), int(found.group(2))


def in_shard(device_id: str, shard: tuple[int, int] | None) -> bool:
    """Stable: a device stays in its shard as the fleet grows (crc32 of the id, mod N)."""
    if shard is None:
        return True
    k, n = shard
    return zlib.crc32(device_id.encode()) % n == k - 1


def fleet_ids(prefix: str, count: int) -> list[str]:
    width = max(4, len(str(count)))
    return [f"{prefix}{i:0{width}d}" for i in range(1, count + 1)]


def _when(minute: int | None) -> str:
    return f"{simulator.minute_time(minute):%Y-%m-%d %H:%M}" if minute is not None else "-"


class Command(BaseCommand):
    help = (
        "Run virtual devices: for each device, write one point a minute from its last stored "
        "point (at most --backfill-days back) up to now, with the device's own token. One pass "
        "by default; --loop keeps going every --interval seconds. SIGTERM/SIGINT stop "
        "generating, send what is queued and print the summary."
    )
    PROGRESS_EVERY_S = 10.0  # plain progress lines when the output is not a terminal

    def add_arguments(self, parser):
        parser.add_argument("device_ids", nargs="*", metavar="DEVICE_ID")
        parser.add_argument("--all", action="store_true", help="every registered device")
        parser.add_argument(
            "--count",
            type=_checked(_number(int, 1, MAX_COUNT, "--count")),
            help="run N virtual devices named PREFIX0001...; registered if missing",
        )
        parser.add_argument("--prefix", default="virtual-", help="id prefix for --count")
        parser.add_argument(
            "--create", action="store_true", help="register the given ids that are missing"
        )
        parser.add_argument(
            "--shard",
            type=_shard,
            metavar="K/N",
            help="run only the K-th of N stable shares of the devices (one process per share)",
        )
        parser.add_argument("--loop", action="store_true", help="keep writing until stopped")
        parser.add_argument(
            "--interval",
            type=_checked(_number(float, 1, MAX_INTERVAL_S, "--interval")),
            default=60.0,
            help="seconds between passes (--loop; default 60)",
        )
        parser.add_argument(
            "--backfill-days",
            type=_checked(_number(float, 1 / 1440, MAX_BACKFILL_DAYS, "--backfill-days")),
            default=7.0,
            help="how far back to fill a device without recent data (default 7)",
        )
        parser.add_argument(
            "--seed",
            type=_checked(_number(int, 0, 2**63, "--seed")),
            default=0,
            help="values are a function of seed, device and minute (default 0)",
        )
        parser.add_argument(
            "--stationary", action="store_true", help="devices stay at their base position"
        )
        parser.add_argument(
            "--retry-seconds",
            type=_checked(_number(float, 0, MAX_RETRY_S, "--retry-seconds")),
            default=120.0,
            help="how long each request waits for InfluxDB in all, retrying (default 120)",
        )
        parser.add_argument(
            "--workers",
            type=_checked(_number(int, 1, 32, "--workers")),
            default=4,
            help="batches in flight at once (default 4)",
        )

    # -- output -----------------------------------------------------------------------------

    def say(self, text: str, level: int = 1) -> None:
        if self.verbosity >= level:
            self.clear_progress()
            self.stdout.write(text)

    def error(self, text: str) -> None:
        """Each error once, whatever the number of passes."""
        with self._error_lock:
            if text in self.errors_shown:
                return
            self.errors_shown.add(text)
        self.clear_progress()
        self.stderr.write(text)

    def on_signal(self, signum, frame):
        name = signal.Signals(signum).name
        if self.stop_signal:  # a second one: do not send what is queued either
            if self.fleet is not None:
                self.fleet.abort(f"{name} again: queued batches not sent")
            return
        self.stop_signal = name
        if self.fleet is not None:
            self.fleet.stop()

    @contextmanager
    def signals(self):
        old = {s: signal.signal(s, self.on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for s, handler in old.items():
                signal.signal(s, handler)

    @contextmanager
    def quiet_service_log(self):
        # The service logs each InfluxDB error as a warning; the command reports it itself.
        log = logging.getLogger("devices.influx")
        level = log.level
        log.setLevel(logging.ERROR)
        try:
            yield
        finally:
            log.setLevel(level)

    # -- main -------------------------------------------------------------------------------

    def handle(self, *args, **options):
        import threading

        self.verbosity = options["verbosity"]
        self.stop_signal = ""
        self.fleet = None
        self.errors_shown: set[str] = set()
        self._error_lock = threading.Lock()
        self.bar = None
        chosen = sum(bool(x) for x in (options["device_ids"], options["all"], options["count"]))
        if chosen > 1:
            raise CommandError("Give device ids, --count or --all: only one of them.")
        if not chosen:
            raise CommandError("Give one or more device ids, --count N, or --all.")
        try:
            for device_id in options["device_ids"]:
                validate_device_id(device_id)
            if options["count"]:
                validate_device_id(fleet_ids(options["prefix"], options["count"])[-1])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.options = options
        self.backfill = timedelta(days=options["backfill_days"])
        self.started = time.monotonic()
        self.total = {"generated": 0, "written": 0, "failed": 0, "maybe": 0}
        self.span = [None, None]
        self.devices: set[str] = set()
        self.device_failures = 0
        with (
            self.signals(),
            self.quiet_service_log(),
            influx.Fleet.patient(options["retry_seconds"]),
        ):
            try:
                self.run()
            except influx.InfluxError as exc:
                self.error(str(exc))
                self.device_failures += 1
        self.summary()
        lost = self.total["failed"]
        if lost or self.device_failures:
            what = f"{lost:,} points not written" if lost else "devices failed"
            raise CommandError(f"{what} (see above); fix the cause and run again.")

    def run(self) -> None:
        options = self.options
        ids = options["device_ids"]
        if options["count"]:
            ids = fleet_ids(options["prefix"], options["count"])
        ids = [d for d in ids if in_shard(d, options["shard"])] if not options["all"] else ids
        if ids and (options["create"] or options["count"]):
            self.create_missing(ids)
        passes = 0
        while not self.stop_signal:
            if options["all"]:
                ids = [d for d in influx.registered_device_ids() if in_shard(d, options["shard"])]
                if not ids:
                    self.say("No registered devices.")
            passes += 1
            self.run_pass(ids, passes)
            self.stdout.flush()  # output often goes to a log file (block-buffered)
            if not options["loop"] or (self.fleet and self.fleet.abort_reason):
                return
            self.sleep(options["interval"])

    def sleep(self, seconds: float) -> None:
        # Short slices, so a signal stops the loop at once.
        deadline = time.monotonic() + seconds
        while not self.stop_signal:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(0.2, left))

    def create_missing(self, device_ids: list[str]) -> None:
        registered = set(influx.registered_device_ids())
        missing = [d for d in device_ids if d not in registered]
        if not missing:
            return

        def register(device_ids: list[str]) -> None:
            try:
                for device_id in device_ids:
                    if self.stop_signal:
                        return
                    try:
                        influx.register_device(device_id)
                    except influx.DeviceExists:
                        continue  # registered meanwhile (another shard's process, say)
                    self.say(f"{device_id}: registered", 2)
            finally:
                # Each change takes its device's lock in the database: this thread's connection
                # ends with its share, rather than staying open until the process exits.
                db.connection.close()

        shares = [missing[i::REGISTER_THREADS] for i in range(REGISTER_THREADS)]
        with ThreadPoolExecutor(REGISTER_THREADS) as pool:
            for future in [pool.submit(register, share) for share in shares if share]:
                future.result()  # the first error ends the run, reported once
        self.say(f"Registered {len(missing):,} devices.")

    def run_pass(self, ids: list[str], number: int) -> None:
        fleet = influx.Fleet
        creds = fleet.credentials(ids)
        for device_id in ids:
            if device_id not in creds:
                self.device_failures += 1
                self.error(f"{device_id}: not registered (register it, or pass --create)")
        present = [d for d in ids if d in creds]
        last = fleet.last_points(present) if present else {}
        now = datetime.now(UTC)
        stop = simulator.epoch_minute(now)
        plans = []
        for device_id in present:
            start = simulator.backfill_start(last.get(device_id), now, self.backfill)
            model = simulator.Model(
                device_id, self.options["seed"], moving=not self.options["stationary"]
            )
            plans.append(fleet.Plan(creds[device_id], simulator.epoch_minute(start), stop, model))
        self.fleet = fleet(
            budget_s=self.options["retry_seconds"],
            workers=self.options["workers"],
            on_error=self.error,
        )
        if self.stop_signal:
            self.fleet.stop()
        expected = sum(p.points for p in plans)
        self.start_progress(expected, len(plans))
        try:
            self.fleet.run(plans, progress=self.progress)
        finally:
            self.close_progress()
        self.account(self.fleet, number)

    def account(self, fleet, number: int) -> None:
        totals = fleet.totals
        self.total["generated"] += totals.generated
        self.total["written"] += totals.written
        self.total["failed"] += totals.failed
        for tally in fleet.tallies.values():
            self.devices.add(tally.device_id)
            self.total["maybe"] += tally.maybe_stored
            if tally.error:
                self.device_failures += 1
            if tally.first is not None:
                lo, hi = self.span
                self.span = [
                    tally.first if lo is None else min(lo, tally.first),
                    tally.last if hi is None else max(hi, tally.last),
                ]
            self.say(self.device_line(tally), 2)
        if self.options["loop"]:
            self.say(
                f"Pass {number}: {len(fleet.tallies):,} devices, {totals.written:,} points "
                f"written, {totals.failed:,} failed"
            )

    @staticmethod
    def device_line(tally) -> str:
        if not tally.generated:
            return f"{tally.device_id}: up to date"
        text = f"{tally.device_id}: wrote {tally.written} points"
        if tally.written:
            text += f" ({_when(tally.first)} to {_when(tally.last)} UTC)"
        if tally.failed:
            text += f"; {tally.failed} of {tally.generated} generated not written"
            if tally.maybe_stored:
                text += f" ({tally.maybe_stored} got no answer: maybe stored)"
        return text

    def summary(self) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        t = self.total
        if self.stop_signal:
            self.stdout.write(f"Stopped by {self.stop_signal}.")
        span = f"{_when(self.span[0])} to {_when(self.span[1])} UTC" if self.span[0] else "-"
        text = (
            f"Summary: {len(self.devices):,} devices, {t['generated']:,} points generated, "
            f"{t['written']:,} written, {t['failed']:,} failed; span {span}; "
            f"{elapsed:.1f} s, {t['written'] / elapsed:,.0f} points/s"
        )
        if t["maybe"]:
            text += f" ({t['maybe']:,} failed got no answer: maybe stored)"
        self.stdout.write(text)
        self.stdout.flush()

    # -- progress ---------------------------------------------------------------------------

    def start_progress(self, expected: int, devices: int) -> None:
        self.expected = expected
        self.n_devices = devices
        self.pass_started = time.monotonic()
        self.last_line = self.pass_started
        self.shown = 0
        if self.verbosity < 1 or not expected:
            return
        stream = getattr(self.stderr, "_out", sys.stderr)
        if hasattr(stream, "isatty") and stream.isatty():
            from tqdm import tqdm

            self.bar = tqdm(
                total=expected, unit="pt", unit_scale=True, file=stream, dynamic_ncols=True
            )

    def progress(self) -> None:
        fleet = self.fleet
        if fleet is None or self.verbosity < 1 or not self.expected:
            return
        done = fleet.totals.written + fleet.totals.failed
        if self.bar is not None:
            self.bar.update(done - self.shown)
            self.bar.set_postfix_str(f"devices {fleet.devices_done}/{self.n_devices}", False)
            self.shown = done
            return
        now = time.monotonic()
        if now - self.last_line < self.PROGRESS_EVERY_S:
            return
        self.last_line = now
        rate = fleet.totals.written / max(now - self.pass_started, 1e-9)
        left = (self.expected - done) / rate if rate else float("inf")
        eta = f"{left:,.0f} s" if math.isfinite(left) else "?"
        self.stdout.write(
            f"progress: {fleet.devices_done:,}/{self.n_devices:,} devices, "
            f"{fleet.totals.written:,} points written ({done / self.expected:.0%} of the "
            f"backfill), {rate:,.0f} points/s, ETA {eta}"
        )
        self.stdout.flush()

    def clear_progress(self) -> None:
        if self.bar is not None:
            self.bar.clear()

    def close_progress(self) -> None:
        if self.bar is not None:
            self.progress()
            self.bar.close()
            self.bar = None
