"""Running a management command in-process and reading what it printed."""

import os
import signal
import threading
import time
from io import StringIO

from django.core.management import call_command


def run(name, *args):
    out = StringIO()
    call_command(name, *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def assert_loop_stops_soon_after_sigterm(command_class, *, after: float, within: float) -> None:
    """``command_class``'s ``--loop`` (every 30 s), sent SIGTERM ``after`` seconds, has stopped
    ``within`` seconds, said so, and given SIGTERM its earlier handler back."""
    out = StringIO()
    command = command_class(stdout=out, stderr=StringIO())
    timer = threading.Timer(after, lambda: os.kill(os.getpid(), signal.SIGTERM))
    timer.start()
    started = time.monotonic()
    command.handle(loop=True, interval=30)  # the handler only sets a flag
    assert time.monotonic() - started < within  # slept in 1-second slices, not 30 seconds
    assert "Stopped by SIGTERM" in out.getvalue()
    assert signal.getsignal(signal.SIGTERM) != command.on_signal  # restored
