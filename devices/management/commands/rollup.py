"""``manage.py rollup``: one pass of the hourly rollup; ``--loop`` keeps it up every
``--interval``; ``--since`` recomputes every hour from a time (after a backfill or late data).

The loop stops cleanly on SIGTERM/SIGINT, as ``manage.py alerts`` (``devices/management/loop.py``).
"""

from __future__ import annotations

from django.core.management.base import CommandError

from devices import influx
from devices.management.loop import LoopCommand, checked_interval
from devices.ranges import EARLIEST, parse_time

DEFAULT_INTERVAL_S = 60.0


class Command(LoopCommand):
    help = (
        "Keep the hourly rollup of telemetry (what long dashboard ranges read): one pass, "
        "or --loop; --since recomputes a range."
    )

    def add_arguments(self, parser):
        self.add_loop_arguments(
            parser, default=DEFAULT_INTERVAL_S, default_help=f"default {DEFAULT_INTERVAL_S:.0f}"
        )
        parser.add_argument(
            "--since",
            metavar="TIME",
            help="recompute every completed hour from TIME (e.g. 2026-11-01T00:00, UTC), then stop",
        )

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
        interval = checked_interval(interval, "--interval")
        if not loop:
            if self.step() is None:
                raise CommandError("The rollup pass failed (see above).")
            return

        def one_pass() -> float:
            result = self.step()
            # Catching up (a first run, or after an outage): the next pass at once.
            return 0.0 if result is not None and not result.done else interval

        self.run_loop(one_pass)
