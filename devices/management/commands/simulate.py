"""Virtual devices: write one telemetry point a minute, with each device's own token."""

from __future__ import annotations

import random
import signal
import time
from datetime import UTC, datetime, timedelta
from itertools import islice

from django.core.management.base import BaseCommand, CommandError

from devices import influx, simulator
from devices.ids import validate_device_id

BATCH_SIZE = 2000


class Command(BaseCommand):
    help = (
        "Run virtual devices: for each device, write one point a minute from its last stored "
        "point (at most --backfill-days back) up to now, using the device's own token. One pass "
        "by default; --loop keeps going every --interval seconds until SIGTERM/SIGINT."
    )

    def add_arguments(self, parser):
        parser.add_argument("device_ids", nargs="*", metavar="DEVICE_ID")
        parser.add_argument("--all", action="store_true", help="every registered device")
        parser.add_argument(
            "--create", action="store_true", help="register the given ids that are missing"
        )
        parser.add_argument("--loop", action="store_true", help="keep writing until stopped")
        parser.add_argument(
            "--interval", type=float, default=60.0, help="seconds between passes (--loop)"
        )
        parser.add_argument(
            "--backfill-days",
            type=float,
            default=7.0,
            help="how far back to fill a device without recent data (default 7)",
        )
        parser.add_argument("--seed", type=int, default=None, help="seed the value noise")

    def on_signal(self, signum, frame):
        # Only set a flag: the pass in progress finishes its current batch cleanly.
        self.stop_requested = True

    def handle(self, *args, **options):
        self.stop_requested = False
        if options["all"] and options["device_ids"]:
            raise CommandError("Give device ids or --all, not both.")
        if not options["all"] and not options["device_ids"]:
            raise CommandError("Give one or more device ids, or --all for every registered one.")
        if options["interval"] <= 0 or options["backfill_days"] <= 0:
            raise CommandError("--interval and --backfill-days must be positive.")
        self.rng = random.Random(options["seed"])  # noqa: S311 -- simulated noise, not crypto
        self.backfill = timedelta(days=options["backfill_days"])

        try:
            for device_id in options["device_ids"]:
                validate_device_id(device_id)
        except ValueError as exc:
            raise CommandError(str(exc)) from None

        if options["create"]:
            self.create_missing(options["device_ids"])

        if options["loop"]:
            signal.signal(signal.SIGTERM, self.on_signal)
            signal.signal(signal.SIGINT, self.on_signal)

        while True:
            failures = self.run_pass(options["device_ids"], options["all"])
            # Output often goes to a log file (block-buffered): show each pass as it ends.
            self.stdout.flush()
            self.stderr.flush()
            if not options["loop"]:
                if failures:
                    raise CommandError(
                        f"{failures} device(s) failed (see above); fix the cause and run again."
                    )
                return
            self.sleep(options["interval"])
            if self.stop_requested:
                self.stdout.write("Stopped.")
                return

    def sleep(self, seconds: float) -> None:
        # 1-second slices, so SIGTERM stops the loop within a second.
        deadline = time.monotonic() + seconds
        while not self.stop_requested:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(1.0, left))

    def create_missing(self, device_ids: list[str]) -> None:
        try:
            registered = set(influx.registered_device_ids())
            for device_id in device_ids:
                if device_id in registered:
                    continue
                influx.register_device(device_id)
                self.stdout.write(f"{device_id}: registered")
        except influx.InfluxError as exc:
            raise CommandError(f"Could not register devices: {exc}") from None

    def run_pass(self, device_ids: list[str], all_devices: bool) -> int:
        """Write missing points for each device; returns how many devices failed."""
        try:
            ids = influx.registered_device_ids() if all_devices else device_ids
        except influx.InfluxError as exc:
            self.stderr.write(f"Could not list devices: {exc}")
            return 1
        if all_devices and not ids:
            self.stdout.write("No registered devices.")
        failures = 0
        for device_id in ids:
            if self.stop_requested:
                break
            try:
                self.simulate_device(device_id)
            except influx.DeviceNotFound:
                failures += 1
                self.stderr.write(f"{device_id}: not registered (register it, or pass --create)")
            except influx.InfluxError as exc:
                failures += 1
                self.stderr.write(f"{device_id}: {exc}")
        return failures

    def simulate_device(self, device_id: str) -> int:
        """Write the device's missing minutes; returns the number of points written."""
        credentials = influx.device_credentials(device_id)
        now = datetime.now(UTC)
        written = 0
        with influx.DeviceSession(credentials) as session:
            start = simulator.backfill_start(session.last_point_time(), now, self.backfill)
            points = simulator.readings(device_id, start, now, self.rng)
            first = last = None
            while not self.stop_requested:
                batch = list(islice(points, BATCH_SIZE))
                if not batch:
                    break
                written += session.write(batch)
                first = first or batch[0][0]
                last = batch[-1][0]
        if written:
            self.stdout.write(
                f"{device_id}: wrote {written} points "
                f"({first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC)"
            )
        else:
            self.stdout.write(f"{device_id}: up to date")
        return written
