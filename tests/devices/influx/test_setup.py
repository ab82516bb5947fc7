"""Health: what load balancers and operators are told about InfluxDB."""

from devices import influx as svc


def test_health_passes_when_everything_is_in_place(influx):
    assert svc.health() == {
        "status": "pass",
        "url": influx.url,
        "message": "ready for queries and writes",
    }


def test_health_notices_a_bucket_deleted_after_startup(influx, settings):
    settings.INFLUX_BUCKET = f"{influx.bucket}_gone"
    buckets = influx.client.buckets_api()
    doomed = buckets.create_bucket(bucket_name=settings.INFLUX_BUCKET, org=influx.org)
    assert svc.health()["status"] == "pass"
    buckets.delete_bucket(doomed)
    status = svc.health()
    assert status["status"] == "fail"
    assert "influx_setup" in status["message"]


def test_health_fails_when_queries_fail_though_ping_and_buckets_answer(local_influx):
    local_influx.local.faults.add(status=500, count=10, path="/api/v2/query")
    status = svc.health()
    assert status["status"] == "fail"
    assert "query" in status["message"]
    local_influx.local.faults.clear()
    assert svc.health()["status"] == "pass"


def test_healthz_fails_within_the_timeout_when_queries_hang(client, local_influx, settings):
    import time

    settings.INFLUX_TIMEOUT = "1"
    local_influx.local.faults.add(delay=3, count=2, path="/api/v2/query")
    started = time.monotonic()
    response = client.get("/healthz")
    assert time.monotonic() - started < 2
    assert response.status_code == 503
    assert response.json()["status"] == "fail"
