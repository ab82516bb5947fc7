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
