"""Fault injection, request counters, concurrent writers and a clean stop."""

from __future__ import annotations

import http.client
import threading

import pytest
from influxdb_client import InfluxDBClient, WriteOptions
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.rest import ApiException
from urllib3.exceptions import ProtocolError, ReadTimeoutError

from localinflux.runner import LocalInflux

FULL = (-(2**63), 2**63)


def point_count(server, bucket_id):
    return sum(len(ref.slice(*FULL)[0]) for ref in server.engine.store.series(bucket_id))


def test_the_batching_client_retries_after_429_with_retry_after(server, client, bucket):
    server.stats.reset()
    server.faults.add(status=429, retry_after=1, path="/api/v2/write", count=1)
    errors = []
    options = WriteOptions(batch_size=10, flush_interval=50, retry_interval=100, max_retries=3)
    with client.write_api(
        write_options=options, error_callback=lambda conf, data, exc: errors.append(exc)
    ) as api:
        api.write(bucket.name, record=[f"m v={i} {i + 1}" for i in range(10)])
    assert errors == []
    assert server.stats.requests("/api/v2/write", "POST") == 2
    assert [r.status for r in server.stats.log if r.path == "/api/v2/write"] == [429, 204]
    assert point_count(server, bucket.id) == 10


def test_an_injected_status_has_influxdb_json_and_retry_after(server, raw):
    server.faults.add(status=503, retry_after=7, path="/api/v2/buckets", method="GET")
    resp = raw("GET", "/api/v2/buckets")
    assert resp.status == 503
    assert resp.json == {"code": "unavailable", "message": "unavailable"}
    assert resp.headers["retry-after"] == "7"
    assert resp.headers["x-platform-error-code"] == "unavailable"
    assert raw("GET", "/api/v2/buckets").status == 200  # count=1 is spent


def test_faults_match_path_prefix_and_method(server, raw):
    server.faults.add(status=500, path="/api/v2/query", method="POST", count=2)
    assert raw("GET", "/api/v2/buckets").status == 200
    assert raw("POST", "/api/v2/query?org=acme", {"query": "x"}).status == 500
    assert raw("POST", "/api/v2/query?org=acme", {"query": "x"}).json == {
        "code": "internal error",
        "message": "internal error",
    }
    assert raw("POST", "/api/v2/query?org=acme", {"query": "x"}).status != 500


def test_a_duration_fault_lasts_until_cleared(server, write, bucket):
    server.faults.add(status=503, duration=60, path="/api/v2/write")
    for _ in range(3):
        with pytest.raises(ApiException) as info:
            write.write(bucket.name, record="m v=1 1")
        assert info.value.status == 503
    server.faults.clear()
    write.write(bucket.name, record="m v=1 1")
    assert point_count(server, bucket.id) == 1


def test_a_dropped_connection_gets_no_answer(server):
    server.faults.add(drop=True, path="/api/v2/buckets")
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", "/api/v2/buckets", headers={"Authorization": f"Token {server.token}"})
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        conn.getresponse()
    conn.close()


def test_a_delay_longer_than_the_client_timeout_times_out(server):
    server.faults.add(delay=1.0, path="/api/v2/buckets")
    with InfluxDBClient(url=server.url, token=server.token, org=server.org, timeout=200) as c:
        with pytest.raises((ReadTimeoutError, ProtocolError)):
            c.buckets_api().find_buckets()
        assert c.buckets_api().find_buckets().buckets  # the next request is served normally


def test_a_plain_delay_still_answers(server, raw):
    server.faults.add(delay=0.05, path="/api/v2/me")
    assert raw("GET", "/api/v2/me").status == 200


def test_faults_and_stats_over_http(server, raw):
    assert raw("POST", "/api/v2/localinflux/stats/reset").status == 204
    ok = raw(
        "POST", "/api/v2/localinflux/faults", {"status": 429, "count": 2, "path": "/api/v2/me"}
    )
    assert ok.status == 200
    assert [raw("GET", "/api/v2/me").status for _ in range(3)] == [429, 429, 200]
    raw("POST", "/api/v2/localinflux/faults", {"status": 503, "duration": 30})
    assert raw("GET", "/api/v2/me").status == 503
    assert raw("POST", "/api/v2/localinflux/faults", {"clear": True}).status == 200
    assert raw("GET", "/api/v2/me").status == 200
    stats = raw("GET", "/api/v2/localinflux/stats").json
    assert stats["requests"] == 5  # control calls are not counted
    assert [r["status"] for r in stats["log"]] == [429, 429, 200, 503, 200]
    assert raw("POST", "/api/v2/localinflux/faults", {"bogus": 1}).status == 400


def test_stats_count_by_path_and_method(server, raw):
    server.stats.reset()
    raw("GET", "/api/v2/buckets")
    raw("GET", "/api/v2/buckets?name=x")
    raw("POST", "/api/v2/buckets", {"orgID": server.org_id, "name": ""})
    raw("GET", "/ping", token=None)
    assert server.stats.requests() == 4
    assert server.stats.requests("/api/v2/buckets") == 3
    assert server.stats.requests("/api/v2/buckets", "GET") == 2
    assert server.stats.requests(method="post") == 1
    assert server.stats.log[1].query == "name=x"
    server.stats.reset()
    assert server.stats.requests() == 0


def test_concurrent_writers_lose_nothing(server, bucket):
    threads = 6
    batches = 15
    per_batch = 200
    failures = []

    def writer(n):
        try:
            with InfluxDBClient(url=server.url, token=server.token, org=server.org) as c:
                api = c.write_api(write_options=SYNCHRONOUS)
                for b in range(batches):
                    base = (b * per_batch) + 1
                    api.write(
                        bucket.name,
                        record=[
                            f"m,writer={n},shared=yes v={i},w{n}={i}i {base + i}"
                            for i in range(per_batch)
                        ],
                    )
        except Exception as exc:  # reported below; a thread cannot fail the test itself
            failures.append(exc)

    def reader():
        for _ in range(30):
            for ref in server.engine.store.series(bucket.id):
                times, _ = ref.slice(*FULL)
                if list(times) != sorted(set(times)):
                    failures.append(f"unsorted or duplicate times in {ref.key}")

    workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    workers.append(threading.Thread(target=reader))
    for t in workers:
        t.start()
    for t in workers:
        t.join(timeout=60)
    assert failures == []
    # two fields per point: v and w<n>
    assert point_count(server, bucket.id) == threads * batches * per_batch * 2


def test_a_stopped_server_refuses_connections_even_kept_alive_ones():
    srv = LocalInflux(org="o", bucket="b", token="t").start()
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    conn.request("GET", "/ping")
    assert conn.getresponse().read() == b""
    with InfluxDBClient(url=srv.url, token="t", org="o") as c:
        assert c.ping()
        srv.stop()
        assert not c.ping()

    def ping_again():
        conn.request("GET", "/ping")
        return conn.getresponse()

    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        ping_again()
    conn.close()
    with pytest.raises(ConnectionRefusedError):
        http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5).connect()


def test_the_request_log_keeps_the_latest_requests_and_counters_stay_exact(raw_to):
    with LocalInflux(org="o", bucket="b", token="bounded-token", request_log_max=5) as srv:
        srv.stats.reset()
        for i in range(8):
            assert raw_to(srv, "GET", f"/api/v2/buckets?name=n{i}", b"", "bounded-token").status
        raw_to(srv, "POST", "/api/v2/write?org=o&bucket=b", b"m v=1 1\nm v=2 2", "bounded-token")
        raw_to(srv, "GET", f"/api/v2/buckets/{srv.bucket_id}", b"", "bounded-token")
        assert len(srv.stats.log) == 5
        assert srv.stats.log[-1].path == f"/api/v2/buckets/{srv.bucket_id}"
        assert srv.stats.log[0].query == "name=n5"  # the oldest ones left the log
        assert srv.stats.requests() == 10
        assert srv.stats.requests("/api/v2/buckets", "GET") == 9
        assert srv.stats.requests(f"/api/v2/buckets/{srv.bucket_id}") == 1
        assert srv.stats.points_written == 2
        stats = raw_to(srv, "GET", "/api/v2/localinflux/stats", b"", "bounded-token").json
        assert (stats["requests"], stats["pointsWritten"], len(stats["log"])) == (10, 2, 5)


@pytest.mark.parametrize(
    "body", [{"status": "503"}, {"delay": True}, {"drop": 1}, {"status": 200}, {"count": 1.5}]
)
def test_a_fault_with_a_bad_value_is_a_400(server, raw, body):
    resp = raw("POST", "/api/v2/localinflux/faults", body)
    assert resp.status == 400
    assert resp.json["code"] == "invalid"
    assert server.faults.active() == 0
