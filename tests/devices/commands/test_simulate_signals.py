"""manage.py simulate stopped by SIGTERM or SIGINT mid-backfill, as a real process: it stops
generating, sends what is queued, closes, and its summary's written count is what is stored."""

import fcntl
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from devices import influx as svc

from .test_simulate import count_points, summary

ROOT = Path(__file__).resolve().parents[3]
DEVICES = [f"sig-{i}" for i in range(8)]


def start(env, *args, stderr=subprocess.PIPE):
    environ = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "PYTHONUNBUFFERED": "1",
        "INFLUX_URL": env.url,
        "INFLUX_TOKEN": env.token,
        "INFLUX_ORG": env.org,
        "INFLUX_BUCKET": env.bucket,
        "INFLUX_BUCKET_AUTH": env.bucket_auth,
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", "simulate", *args],
        cwd=ROOT, env=environ, stdout=subprocess.PIPE, stderr=stderr, text=True,
    )  # fmt: skip


def wait_for_points(env, proc, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if count_points(env) > 0:
            return
        time.sleep(0.05)
    raise AssertionError("no point was written")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("mode", [(), ("--loop", "--interval", "600")], ids=["one-pass", "loop"])
def test_a_signal_mid_backfill_leaves_nothing_unaccounted_for(influx, signum, mode):
    for device_id in DEVICES:
        svc.register_device(device_id)
    proc = start(influx, *DEVICES, "--backfill-days", "7", "--workers", "2", *mode)
    try:
        wait_for_points(influx, proc)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "Traceback" not in err, err
    assert proc.returncode == 0, err  # stopped cleanly: everything generated was written
    assert f"Stopped by {signal.Signals(signum).name}." in out
    totals = summary(out)
    assert totals["failed"] == 0
    assert totals["written"] == totals["generated"] == count_points(influx)
    assert 0 < totals["written"] < len(DEVICES) * 7 * 1440  # it really was mid-backfill


def test_loop_mode_stops_cleanly_on_sigterm_between_passes(influx):
    svc.register_device("dev-1")
    proc = start(influx, "dev-1", "--loop", "--interval", "600", "--backfill-days", "0.01")
    try:
        first = proc.stdout.readline()  # the first pass has been written
        assert first.startswith("Pass 1: 1 devices")
        proc.send_signal(signal.SIGTERM)  # now sleeping, 600 s to go
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "Stopped by SIGTERM." in out
    assert summary(out)["written"] == count_points(influx, "dev-1") > 0


def test_a_terminal_gets_a_live_progress_bar(influx):
    svc.register_device("dev-1")
    main, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # 120 columns
    proc = start(influx, "dev-1", "--backfill-days", "2", stderr=terminal)
    os.close(terminal)
    try:
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    shown = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the terminal's other end is closed: all read
            break
        if not chunk:
            break
        shown += chunk
    os.close(main)
    assert proc.returncode == 0
    assert b"100%" in shown  # tqdm's bar: points done, rate, devices
    assert b"pt/s" in shown
    assert b"devices 1/1" in shown
    assert "progress:" not in out  # no plain lines when there is a terminal
