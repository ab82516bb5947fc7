"""``manage.py alerts``: one pass by default; ``--loop`` stops on a signal flag."""

import os
import signal
import threading
import time
from io import StringIO

import pytest
from django.core.management import call_command

from alerts.management.commands.alerts import Command
from alerts.models import Alert
from tests.alerts.helpers import rule, write_minutes


def test_one_pass_by_default(influx):
    rule()
    write_minutes(influx, "room-1", range(12, -1, -1), 1800)
    out = StringIO()
    call_command("alerts", stdout=out)
    assert "1 fired" in out.getvalue()
    assert Alert.objects.filter(device_id="room-1").count() == 1


@pytest.mark.django_db
def test_an_unreachable_influxdb_is_reported_and_the_loop_goes_on(offline_influx):
    rule()
    err = StringIO()
    command = Command(stdout=StringIO(), stderr=err)
    command.step()
    assert "Alerts pass failed" in err.getvalue()


@pytest.mark.django_db
def test_the_loop_stops_soon_after_sigterm(offline_influx):
    out = StringIO()
    command = Command(stdout=out, stderr=StringIO())
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGTERM))
    timer.start()
    started = time.monotonic()
    command.handle(loop=True, interval=30)  # the handler only sets a flag
    assert time.monotonic() - started < 5  # slept in 1-second slices, not 30 seconds
    assert "Stopped by SIGTERM" in out.getvalue()
    assert signal.getsignal(signal.SIGTERM) != command.on_signal  # restored
