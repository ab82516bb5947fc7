"""What ``manage.py alerts`` and ``manage.py rollup`` share: ``--loop`` and ``--interval``, and
a loop that stops cleanly.

As healthchecks' ``sendalerts``: SIGTERM/SIGINT only set a flag, the loop sleeps in 1-second
slices and stops after the pass in progress; the signals' earlier handlers are given back.
"""

from __future__ import annotations

import argparse
import math
import signal
import time
from collections.abc import Callable

from django.core.management.base import BaseCommand, CommandError


def interval_seconds(text: str) -> float:
    """``--interval``: a positive, finite number of seconds (0 or ``nan`` would loop without
    pausing, ``inf`` would never pass again)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive seconds, not {text!r}")
    return value


def checked_interval(value: object, source: str) -> float:
    """``interval_seconds`` of a value that did not come through the parser (a setting, or
    ``call_command(..., interval=...)``), as a clear CommandError naming ``source``."""
    try:
        return interval_seconds(str(value))
    except argparse.ArgumentTypeError as exc:
        raise CommandError(f"{source} {exc}.") from None


class LoopCommand(BaseCommand):
    """A command of passes: once, or with ``--loop`` until stopped (``run_loop``)."""

    loop_help = "keep passing until stopped"

    def add_loop_arguments(self, parser, *, default: float | None, default_help: str) -> None:
        parser.add_argument("--loop", action="store_true", help=self.loop_help)
        parser.add_argument(
            "--interval",
            type=interval_seconds,
            default=default,
            help=f"seconds between passes with --loop ({default_help})",
        )

    def on_signal(self, signum, frame):
        self.stop_signal = signal.Signals(signum).name

    def run_loop(self, one_pass: Callable[[], float]) -> None:
        """``one_pass()`` until SIGTERM or SIGINT, waiting after each what it returns (seconds
        from its start: 0 for the next pass at once)."""
        self.stop_signal = ""
        old = {s: signal.signal(s, self.on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            while not self.stop_signal:
                started = time.monotonic()
                pause = one_pass()
                while not self.stop_signal and time.monotonic() - started < pause:
                    time.sleep(min(1.0, max(0.0, pause - (time.monotonic() - started))))
        finally:
            for s, handler in old.items():
                signal.signal(s, handler)
        self.stdout.write(f"Stopped by {self.stop_signal}.")
