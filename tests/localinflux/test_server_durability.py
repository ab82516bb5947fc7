"""A data dir makes acknowledged changes survive restarts and crashes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from influxdb_client import InfluxDBClient, Permission, PermissionResource
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.rest import ApiException

import localinflux
from localinflux.runner import LocalInflux, free_port
from localinflux.wal import LOG_NAME
from tests.localinflux.test_server_cli import wait_until_up

FULL = (-(2**63), 2**63)
TOKEN = "durable-operator-token"
REPO = str(Path(localinflux.__file__).resolve().parents[1])  # where `-m localinflux` imports


def count_points(server, bucket_id):
    return sum(len(ref.slice(*FULL)[0]) for ref in server.engine.store.series(bucket_id))


def values(server, bucket_id):
    out = {}
    for ref in server.engine.store.series(bucket_id):
        times, vals = ref.slice(*FULL)
        out[(ref.key.measurement, ref.key.tags, ref.key.field)] = list(
            zip(times, vals, strict=True)
        )
    return out


def test_it_recovers_data_buckets_and_tokens_after_a_restart(tmp_path):
    data_dir = str(tmp_path)
    first = LocalInflux(data_dir=data_dir, org="o", bucket="b", token=TOKEN).start()
    with InfluxDBClient(url=first.url, token=TOKEN, org="o") as c:
        w = c.write_api(write_options=SYNCHRONOUS)
        w.write("b", record=["m,h=a v=1 1", "m,h=a v=2 2", 'm,h=b s="x" 3', "m,h=a v=9 2"])
        extra = c.buckets_api().create_bucket(bucket_name="extra", org="o")
        w.write("extra", record="n i=5i 10")
        auth = c.authorizations_api().create_authorization(
            org_id=first.org_id,
            permissions=[
                Permission(
                    action="read",
                    resource=PermissionResource(type="buckets", id=extra.id, org_id=first.org_id),
                )
            ],
        )
        c.delete_api().delete(
            "1970-01-01T00:00:00Z", "1970-01-01T00:00:00.000000001Z", "", "b", "o"
        )
        gone = c.buckets_api().create_bucket(bucket_name="gone", org="o")
        c.buckets_api().delete_bucket(gone)
    org_id, bucket_id = first.org_id, first.bucket_id
    before = values(first, bucket_id)
    first.stop()

    second = LocalInflux(data_dir=data_dir, org="o", bucket="b", token=TOKEN).start()
    try:
        assert (second.org_id, second.bucket_id) == (org_id, bucket_id)  # not onboarded again
        assert values(second, bucket_id) == before
        assert values(second, bucket_id)[("m", (("h", "a"),), "v")] == [(2, 9.0)]
        assert values(second, extra.id) == {("n", (), "i"): [(10, 5)]}
        with InfluxDBClient(url=second.url, token=auth.token, org="o") as c:
            assert [b.name for b in c.buckets_api().find_buckets().buckets] == ["extra"]
        with InfluxDBClient(url=second.url, token=TOKEN, org="o") as c:
            assert c.buckets_api().find_bucket_by_name("gone") is None
            # the field type survived too: a string into the float field is still a conflict
            with pytest.raises(ApiException, match="field type conflict"):
                c.write_api(write_options=SYNCHRONOUS).write("b", record='m,h=a v="s" 4')
    finally:
        second.stop()


def test_it_recovers_the_operator_token_without_being_told(tmp_path):
    first = LocalInflux(data_dir=str(tmp_path), org="o", bucket="b").start()
    token = first.token
    first.stop()
    second = LocalInflux(data_dir=str(tmp_path)).start()
    try:
        assert second.token == token
        assert second.org == "o"
    finally:
        second.stop()


def test_it_ignores_a_torn_tail_and_keeps_appending_after_it(tmp_path):
    first = LocalInflux(data_dir=str(tmp_path), org="o", bucket="b", token=TOKEN).start()
    with InfluxDBClient(url=first.url, token=TOKEN, org="o") as c:
        c.write_api(write_options=SYNCHRONOUS).write("b", record="m v=1 1")
    bucket_id = first.bucket_id
    first.stop()
    with open(tmp_path / LOG_NAME, "ab") as f:
        f.write(b"\x40\x00\x00\x00garbage-from-a-crash-mid-append")
    second = LocalInflux(data_dir=str(tmp_path), org="o", bucket="b", token=TOKEN).start()
    with InfluxDBClient(url=second.url, token=TOKEN, org="o") as c:
        c.write_api(write_options=SYNCHRONOUS).write("b", record="m v=2 2")
    second.stop()
    third = LocalInflux(data_dir=str(tmp_path), org="o", bucket="b", token=TOKEN).start()
    try:
        assert values(third, bucket_id) == {("m", (), "v"): [(1, 1.0), (2, 2.0)]}
    finally:
        third.stop()


def test_acknowledged_writes_survive_a_kill_9(tmp_path):
    port = free_port()
    cmd = [
        sys.executable, "-m", "localinflux", "--port", str(port), "--data-dir", str(tmp_path),
        "--org", "o", "--bucket", "b", "--token", TOKEN, "--quiet",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, cwd=REPO)
    try:
        url = f"http://127.0.0.1:{port}"
        with InfluxDBClient(url=url, token=TOKEN, org="o", timeout=5_000) as c:
            wait_until_up(c)
            w = c.write_api(write_options=SYNCHRONOUS)
            for batch in range(20):
                w.write("b", record=[f"m,k={batch} v={i} {i + 1}" for i in range(100)])
        proc.send_signal(signal.SIGKILL)  # no chance to flush anything
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        proc.stderr.close()
    restarted = LocalInflux(data_dir=str(tmp_path), org="o", bucket="b", token=TOKEN).start()
    try:
        assert count_points(restarted, restarted.bucket_id) == 2000
    finally:
        restarted.stop()


def test_the_cli_stops_cleanly_on_sigterm(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "localinflux", "--port", str(port), "--data-dir", str(tmp_path)],
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        with InfluxDBClient(url=f"http://127.0.0.1:{port}", token="x") as c:
            wait_until_up(c)
            assert c.ping()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        log = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        proc.stderr.close()
    assert "awaiting setup" in log
    assert "GET /ping 204" in log


def test_a_long_log_is_compacted_at_start_without_losing_anything(tmp_path, monkeypatch):
    monkeypatch.setattr("localinflux.engine.COMPACT_RECORDS", 50)
    first = LocalInflux(data_dir=str(tmp_path), org="o", bucket="b", token=TOKEN).start()
    with InfluxDBClient(url=first.url, token=TOKEN, org="o") as c:
        w = c.write_api(write_options=SYNCHRONOUS)
        for i in range(60):
            w.write(
                "b",
                record=[
                    f'm,t=a\\ b f={i}.5,i={i}i,u={i}u,s="q\\"{i}",b={i % 2 == 0} {i + 1}',
                    f"m,t=a\\ b f={i}.25 {i + 1}",  # overwrites: only the last value is kept
                ],
            )
        c.delete_api().delete(
            "1970-01-01T00:00:00Z", "1970-01-01T00:00:00.000000010Z", "", "b", "o"
        )
    before = values(first, first.bucket_id)
    first.stop()
    size_before = os.path.getsize(tmp_path / LOG_NAME)

    second = LocalInflux(data_dir=str(tmp_path), org="o", bucket="b", token=TOKEN).start()
    assert values(second, second.bucket_id) == before
    second.stop()
    assert os.path.getsize(tmp_path / LOG_NAME) < size_before

    third = LocalInflux(data_dir=str(tmp_path), org="o", bucket="b", token=TOKEN).start()
    try:
        assert values(third, third.bucket_id) == before
        assert before[("m", (("t", "a b"),), "f")][0] == (11, 10.25)
        assert before[("m", (("t", "a b"),), "s")][-1] == (60, 'q"59')
        with (
            InfluxDBClient(url=third.url, token=TOKEN, org="o") as c,
            pytest.raises(ApiException, match="field type conflict"),
        ):
            c.write_api(write_options=SYNCHRONOUS).write("b", record='m,t=a\\ b f="s" 99')
    finally:
        third.stop()


def _count(client, bucket):
    tables = client.query_api().query(
        f'from(bucket: "{bucket}") |> range(start: 0) |> group() |> count()'
    )
    return sum(rec.get_value() for table in tables for rec in table.records)


def test_it_replays_only_the_points_a_partial_write_stored(tmp_path):
    """A 422 partial write (retention, type conflict) must not gain points at a restart."""
    data_dir = str(tmp_path)
    first = LocalInflux(
        data_dir=data_dir, org="o", bucket="b", token=TOKEN, retention_seconds=3600
    ).start()
    now = time.time_ns()
    old = now - 2 * 3600 * 10**9  # beyond the bucket's 1 h retention
    with InfluxDBClient(url=first.url, token=TOKEN, org="o") as c:
        w = c.write_api(write_options=SYNCHRONOUS)
        with pytest.raises(ApiException) as refused:
            w.write("b", record=[f"m v=1 {now}", f"m v=2 {old}"])
        assert refused.value.status == 422
        assert "dropped=1" in refused.value.body
        w.write("b", record=f"m v=3 {now + 1}")
        with pytest.raises(ApiException) as conflict:
            w.write("b", record=[f'm v="s" {now + 2}', f"m w=4 {now + 3}"])
        assert conflict.value.status == 422
        assert "field type conflict" in conflict.value.body
        assert _count(c, "b") == 3
    first.stop()

    second = LocalInflux(data_dir=data_dir, org="o", bucket="b", token=TOKEN).start()
    try:
        with InfluxDBClient(url=second.url, token=TOKEN, org="o") as c:
            assert _count(c, "b") == 3
            rows = c.query_api().query(
                'from(bucket: "b") |> range(start: 0) |> keep(columns: ["_field", "_value"])'
            )
            stored = sorted((r.get_field(), r.get_value()) for t in rows for r in t.records)
            assert stored == [("v", 1.0), ("v", 3.0), ("w", 4.0)]
    finally:
        second.stop()
