"""The command line keeps secrets out of `ps` and off other users' reach."""

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

from influxdb_client import InfluxDBClient

from localinflux.runner import free_port

REPO = Path(__file__).resolve().parents[2]


def serve_command(port: int, data_dir: Path) -> list[str]:
    """``python -m localinflux`` on ``port``, onboarding org "o" with bucket "b"."""
    return [
        sys.executable, "-m", "localinflux", "--port", str(port), "--data-dir", str(data_dir),
        "--org", "o", "--bucket", "b", "--quiet",
    ]  # fmt: skip


def wait_until_up(client: InfluxDBClient, timeout: float = 30.0) -> None:
    """Until the server just started answers ``client``'s pings: a new Python process, which a
    busy machine may take several seconds to start (5 s was not always enough)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.ping():
            return
        time.sleep(0.05)
    raise AssertionError(f"the server did not come up within {timeout:g} s")


def test_the_token_can_come_from_the_environment_and_the_log_is_private(tmp_path):
    port = free_port()
    data_dir = tmp_path / "data"
    token = "token-from-the-environment"
    cmd = serve_command(port, data_dir)
    proc = subprocess.Popen(
        cmd, cwd=REPO, env={**os.environ, "LOCALINFLUX_TOKEN": token}, stderr=subprocess.DEVNULL
    )
    try:
        with InfluxDBClient(url=f"http://127.0.0.1:{port}", token=token, org="o") as client:
            wait_until_up(client)
            buckets = client.buckets_api().find_buckets().buckets
            assert "b" in {b.name for b in buckets}  # the env token is the operator token
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert token not in " ".join(cmd)
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    for log in data_dir.iterdir():
        assert stat.S_IMODE(log.stat().st_mode) == 0o600, log


def test_a_generated_operator_token_is_shown_once_and_works(tmp_path):
    port = free_port()
    cmd = serve_command(port, tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "LOCALINFLUX_TOKEN"}
    logs = []
    for _ in range(2):  # first start onboards, the second recovers from the data dir
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
        try:
            with InfluxDBClient(url=f"http://127.0.0.1:{port}", token="x") as client:
                wait_until_up(client)
        finally:
            proc.terminate()
            logs.append(proc.communicate(timeout=10)[1])
    shown = [line for line in logs[0].splitlines() if "operator token (shown once)" in line]
    assert len(shown) == 1
    token = shown[0].rsplit(" ", 1)[1]
    assert "operator token" not in logs[1]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stderr=subprocess.DEVNULL)
    try:
        with InfluxDBClient(url=f"http://127.0.0.1:{port}", token=token, org="o") as client:
            wait_until_up(client)
            assert "b" in {b.name for b in client.buckets_api().find_buckets().buckets}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
