"""Two worker processes changing the same devices at the same moment (gunicorn workers, hosts).

Each process is a real ``python -c`` with its own Django, sharing one SQLite file (as gunicorn's
workers share the database) and the test's InfluxDB. Each device is changed by both processes
in the same time slot, so on a per-process lock the two changes overlap every time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from influxdb_client import InfluxDBClient
from influxdb_client.rest import ApiException

from .test_registry_failures import auth_ids, registry_key

pytestmark = pytest.mark.localonly

ROOT = Path(__file__).resolve().parents[3]

WORKER = r"""
import json, sys, time
import django
django.setup()
from devices import influx
start, slot, op, ids = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4:]
out = []
for i, device_id in enumerate(ids):
    pause = start + i * slot - time.time()
    if pause > 0:
        time.sleep(pause)
    try:
        if op == "register":
            creds = influx.register_device(device_id)
        else:
            creds = influx.rotate_token(device_id)
        out.append({"id": device_id, "token": creds.token, "key": creds.key,
                    "warning": getattr(creds, "warning", "")})
    except influx.DeviceExists:
        out.append({"id": device_id, "exists": True})
    except influx.InfluxError as exc:
        out.append({"id": device_id, "error": str(exc)})
print(json.dumps(out))
"""

IDS = [f"twin-{i}" for i in range(10)]
SLOT_S = 0.4


@pytest.fixture
def worker_env(local_influx, tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "iotcenter.settings",
        "SECRET_KEY": "two-workers-test-secret-key-not-for-production-0123456789",
        "DEBUG": "false",
        # One SQLite file by default; IOTCENTER_TEST_WORKERS_DATABASE_URL=postgres://... runs
        # the two workers against PostgreSQL instead.
        "DATABASE_URL": os.environ.get(
            "IOTCENTER_TEST_WORKERS_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite3'}"
        ),
        "INFLUX_URL": local_influx.url,
        "INFLUX_TOKEN": local_influx.token,
        "INFLUX_ORG": local_influx.org,
        "INFLUX_BUCKET": local_influx.bucket,
        "INFLUX_BUCKET_AUTH": local_influx.bucket_auth,
        "INFLUX_TIMEOUT": "5",
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    return env


def both_workers(env, op: str) -> list[dict]:
    """Run ``op`` on every id in two processes at once; every result of both."""
    start = time.time() + 4  # both are set up by then: each id's slot starts together
    args = [sys.executable, "-c", WORKER, str(start), str(SLOT_S), op, *IDS]
    procs = [
        subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()[-2000:]
        results.extend(json.loads(out.decode().strip().splitlines()[-1]))
    return results


def writes_with(env, token: str) -> int:
    """The HTTP status of a write with ``token`` (204: the token works)."""
    with InfluxDBClient(url=env.url, token=token, org=env.org) as device:
        try:
            response = device.api_client.call_api(
                "/api/v2/write",
                "POST",
                query_params=[("org", env.org), ("bucket", env.bucket), ("precision", "s")],
                header_params={"Authorization": f"Token {token}", "Content-Type": "text/plain"},
                body="environment,device=probe Temperature=1",
                _preload_content=False,
                _return_http_data_only=False,
            )
        except ApiException as exc:
            return exc.status
        return response[1]


def registry_token(env, device_id: str) -> str:
    query = (
        f'from(bucket: "{env.bucket_auth}") |> range(start: 0)'
        f' |> filter(fn: (r) => r._measurement == "deviceauth" and r.deviceId == "{device_id}"'
        ' and r._field == "token") |> last()'
    )
    tables = env.client.query_api().query(query, org=env.org)
    return [r.get_value() for t in tables for r in t.records][-1]


def assert_one_live_registered_token(env, device_id: str) -> str:
    key = registry_key(env, device_id)
    assert key, device_id
    # The registry's key is a live authorization, the only one of the device: no orphan.
    assert auth_ids(env, device_id) == {key}, device_id
    token = registry_token(env, device_id)
    assert writes_with(env, token) == 204, device_id
    return token


def test_two_workers_registering_and_rotating_the_same_ids_leave_one_working_token_each(
    local_influx, worker_env
):
    registered = both_workers(worker_env, "register")
    assert not [r for r in registered if "error" in r]
    for device_id in IDS:
        mine = [r for r in registered if r["id"] == device_id]
        shown = [r for r in mine if "token" in r]
        # A double submit: one shows the token, the other "already registered".
        assert len(shown) == 1, mine
        assert sum(1 for r in mine if r.get("exists")) == 1, mine
        assert assert_one_live_registered_token(local_influx, device_id) == shown[0]["token"]
        assert writes_with(local_influx, shown[0]["token"]) == 204

    rotated = both_workers(worker_env, "rotate")
    assert not [r for r in rotated if "error" in r or r.get("warning")]
    for device_id in IDS:
        shown = {r["token"] for r in rotated if r["id"] == device_id}
        assert len(shown) == 2  # both rotations happened, one after the other
        token = assert_one_live_registered_token(local_influx, device_id)
        assert token in shown
