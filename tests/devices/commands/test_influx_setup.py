"""manage.py influx_setup: onboard an empty InfluxDB, create missing buckets."""

import secrets

import pytest
from django.core.management import CommandError

from devices import influx as svc
from localinflux.runner import LocalInflux

from .output import run


def test_setup_creates_missing_buckets_once(influx, settings):
    settings.INFLUX_BUCKET = f"{influx.bucket}_new"
    settings.INFLUX_BUCKET_AUTH = f"{influx.bucket_auth}_new"
    out = run("influx_setup")
    assert f"Bucket '{influx.bucket}_new': created" in out
    assert f"Bucket '{influx.bucket_auth}_new': created" in out
    assert influx.token not in out
    again = run("influx_setup")
    assert "created" not in again
    assert again.count("exists already") == 2
    buckets = influx.client.buckets_api()
    for name in (settings.INFLUX_BUCKET, settings.INFLUX_BUCKET_AUTH):
        bucket = buckets.find_bucket_by_name(name)
        assert bucket is not None
        buckets.delete_bucket(bucket)


def test_setup_skips_onboarding_of_a_set_up_server(influx):
    out = run("influx_setup", "--onboard", "--username", "admin", "--password", "password123")
    assert "Already set up" in out


@pytest.mark.localonly
def test_setup_onboards_an_empty_influxdb(local_influx, settings):
    token = secrets.token_urlsafe(32)
    with LocalInflux() as empty:
        settings.INFLUX_URL = empty.url
        settings.INFLUX_TOKEN = token
        settings.INFLUX_ORG = "fresh-org"
        settings.INFLUX_BUCKET = "iot_center"
        settings.INFLUX_BUCKET_AUTH = "iot_center_devices"
        with pytest.raises(CommandError, match="--onboard"):
            run("influx_setup")
        out = run("influx_setup", "--onboard", "--username", "admin", "--password", "s3cret-pass")
        assert "Onboarded" in out
        assert "Bucket 'iot_center': exists already" in out  # made by onboarding
        assert "Bucket 'iot_center_devices': created" in out
        assert token not in out
        # INFLUX_TOKEN is now the operator token: the app works end to end.
        assert svc.register_device("dev-1").device_id == "dev-1"
        assert [c.name for c in svc.check_access() if not c.ok] == []


def test_setup_refuses_a_short_password(influx):
    with pytest.raises(CommandError, match="8 to 72"):
        run("influx_setup", "--onboard", "--username", "admin", "--password", "short")
