"""``manage.py rollup``: one pass of the hourly rollup; ``--loop`` keeps it up every
``--interval``; ``--since`` recomputes every hour from a time (after a backfill or late data).

As ``manage.py alerts``: SIGTERM/SIGINT only set a flag, the loop sleeps in 1-second slices and
stops after the pass in progress.
"""

from __future__ import annotations

import signal
import time

from django.core.management.base import BaseCommand, CommandError

from devices import influx
from devices.ranges import EARLIEST, parse_time

DEFAULT_INTERVAL_S = 60.0


class Command(BaseCommand):
    help = (
        "Keep the hourly rollup of telemetry (what long dashboard ranges read): one pass, "
        "or --loop; --since recomputes a range."
    )

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="keep passing until stopped")
        parser.add_argument(
            "--interval",
            type=float,
            default=DEFAULT_INTERVAL_S,
            help=f"seconds between passes with --loop (default {DEFAULT_INTERVAL_S:.0f})",
        )
        parser.add_argument(
            "--since",
            metavar="TIME",
            help="recompute every completed hour from TIME (e.g. 2026-11-01T00:00, UTC), then stop",
        )

    def on_signal(self, signum, frame):
        self.stop_signal = signal.Signals(signum).name

    def step(self) -> influx.RollupPass | None:
        """One pass; an unreachable InfluxDB is reported and the loop goes on."""
        try:
            result = influx.rollup_pass()
        except influx.InfluxError as exc:
            self.stderr.write(f"Rollup pass failed: {exc}")
            return None
        self.report(result)
        return result

    def report(self, result: influx.RollupPass) -> None:
        self.stdout.write(
            f"Rolled up {result.hours} hours ({result.points:,} rollup points); covered "
            f"{result.covered_from:%Y-%m-%d %H:%M} .. {result.covered_to:%Y-%m-%d %H:%M} UTC"
            + ("." if result.done else ", catching up.")
        )

    def handle(self, *args, loop=False, interval=DEFAULT_INTERVAL_S, since=None, **options):
        self.stop_signal = ""
        if since:
            if loop:
                raise CommandError("--since recomputes once: give it without --loop.")
            try:
                start = parse_time(since)
            except ValueError:
                raise CommandError(
                    f"Not a date and time: {since!r}. Use e.g. 2026-11-01T00:00 (UTC)."
                ) from None
            if start < EARLIEST:
                # Every hour from there is queried: year 1 would run for days (and InfluxDB
                # has no time before 1677).
                raise CommandError(f"Give a --since between 1970 and now, not {since!r}.")
            try:
                self.report(influx.rollup_since(start))
            except influx.InfluxError as exc:
                raise CommandError(f"Rollup failed: {exc}") from None
            return
        if interval <= 0:
            raise CommandError("--interval must be positive.")
        if not loop:
            if self.step() is None:
                raise CommandError("The rollup pass failed (see above).")
            return
        old = {s: signal.signal(s, self.on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            while not self.stop_signal:
                started = time.monotonic()
                result = self.step()
                # Catching up (a first run, or after an outage): the next pass at once.
                pause = 0.0 if result is not None and not result.done else interval
                while not self.stop_signal and time.monotonic() - started < pause:
                    time.sleep(min(1.0, max(0.0, pause - (time.monotonic() - started))))
        finally:
            for s, handler in old.items():
                signal.signal(s, handler)
        self.stdout.write(f"Stopped by {self.stop_signal}.")
