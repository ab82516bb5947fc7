"""manage.py simulate: virtual devices writing with their own tokens."""

import os
import signal
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from devices import influx as svc


def simulate(*args):
    out, err = StringIO(), StringIO()
    call_command("simulate", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def count_points(env, device_id, field="Temperature"):
    rows = env.client.query_api().query(
        f'from(bucket: "{env.bucket}") |> range(start: 0)'
        f' |> filter(fn: (r) => r.device == "{device_id}" and r._field == "{field}")'
        " |> count()",
        org=env.org,
    )
    return sum(r.get_value() for t in rows for r in t.records)


def test_it_backfills_one_point_a_minute_then_catches_up(influx):
    svc.register_device("dev-1")
    out, _ = simulate("dev-1", "--backfill-days", "1", "--seed", "1")
    assert "dev-1: wrote 144" in out  # 1440 or 1441 points depending on the second
    first = count_points(influx, "dev-1")
    assert first in (1440, 1441)
    assert {r.field for r in svc.latest_readings("dev-1")} == {
        "CO2", "Humidity", "Lat", "Lon", "Pressure", "TVOC", "Temperature",
    }  # fmt: skip
    # A second pass resumes after the last point: at most the minute that just began.
    simulate("dev-1", "--backfill-days", "1")
    assert count_points(influx, "dev-1") - first <= 1


@pytest.mark.localonly
def test_it_writes_in_batches_of_2000_points(local_influx):
    svc.register_device("dev-1")
    local_influx.local.stats.reset()
    simulate("dev-1", "--backfill-days", "2")
    assert local_influx.local.stats.requests(path="/api/v2/write") == 2  # 2881 points
    assert local_influx.local.stats.points_written == count_points(local_influx, "dev-1")


def test_it_uses_the_devices_own_token(influx):
    creds = svc.register_device("dev-1")
    # Revoke the device's token behind the app's back: the operator token would still work,
    # the device's must not.
    influx.client.authorizations_api().delete_authorization(creds.key)
    err = StringIO()
    with pytest.raises(CommandError, match="1 device"):
        call_command("simulate", "dev-1", stdout=StringIO(), stderr=err)
    assert "dev-1: " in err.getvalue()
    assert "refused the token of device 'dev-1'" in err.getvalue()
    assert creds.token not in err.getvalue()
    assert count_points(influx, "dev-1") == 0


def test_unknown_devices_fail_with_a_hint_unless_created(influx):
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError):
        call_command("simulate", "ghost", "--backfill-days", "0.01", stdout=out, stderr=err)
    assert "--create" in err.getvalue()
    out, _ = simulate("ghost", "--create", "--backfill-days", "0.01")
    assert "ghost: registered" in out
    assert "ghost: wrote" in out
    assert svc.get_device("ghost").device_id == "ghost"


def test_all_simulates_every_registered_device(influx):
    svc.register_device("a")
    svc.register_device("b")
    out, _ = simulate("--all", "--backfill-days", "0.01")
    assert "a: wrote" in out
    assert "b: wrote" in out


def test_it_refuses_bad_arguments(influx):
    with pytest.raises(CommandError, match="--all"):
        simulate()
    with pytest.raises(CommandError, match="letters, digits"):
        simulate('x" or 1')


def test_loop_mode_stops_cleanly_on_sigterm(influx):
    svc.register_device("dev-1")
    root = Path(__file__).resolve().parents[3]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "PYTHONUNBUFFERED": "1",
        "INFLUX_URL": influx.url,
        "INFLUX_TOKEN": influx.token,
        "INFLUX_ORG": influx.org,
        "INFLUX_BUCKET": influx.bucket,
        "INFLUX_BUCKET_AUTH": influx.bucket_auth,
    }
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "simulate", "dev-1", "--loop", "--interval", "600",
         "--backfill-days", "0.01"],
        cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        first = proc.stdout.readline()  # the first pass has been written
        assert first.startswith("dev-1: wrote")
        proc.send_signal(signal.SIGTERM)  # now sleeping in 1 s slices, 600 s to go
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "Stopped." in out
