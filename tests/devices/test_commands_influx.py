"""manage.py influx_setup, influx_check and create_operator."""

import secrets
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from devices import influx as svc
from localinflux.testing import LocalInflux


def run(name, *args):
    out = StringIO()
    call_command(name, *args, stdout=out, stderr=StringIO())
    return out.getvalue()


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


def test_check_passes_with_the_operator_token_and_masks_it(influx):
    out = run("influx_check")
    assert "All checks passed." in out
    assert influx.token not in out
    assert svc.mask_token(influx.token) in out  # the same hint the pages show
    for step in ("reachable", "organization", "write registry", "create authorizations"):
        assert f"ok   {step}" in out or f"ok {step}" in out.replace("  ", " ")


def test_check_fails_with_a_device_token_and_says_why(influx, settings):
    creds = svc.register_device("dev-1")
    settings.INFLUX_TOKEN = creds.token
    out = StringIO()
    with pytest.raises(CommandError) as err:
        call_command("influx_check", stdout=out)
    assert "failed" in str(err.value)
    assert creds.token not in out.getvalue()
    assert creds.token not in str(err.value)
    assert "FAIL" in out.getvalue()


def test_check_fails_when_influxdb_is_down(offline_influx):
    out = StringIO()
    with pytest.raises(CommandError, match="connection refused"):
        call_command("influx_check", stdout=out)
    assert "FAIL reachable" in out.getvalue().replace("\x1b[31;1m", "").replace("\x1b[0m", "")


@pytest.mark.django_db
def test_create_operator_creates_a_staff_superuser_once(django_user_model):
    out = run("create_operator")
    user = django_user_model.objects.get(username="admin")
    assert user.is_staff
    assert user.is_superuser
    password = out.split("Password: ")[1].split()[0]
    assert user.check_password(password)
    again = run("create_operator")
    assert "exists already" in again
    assert "changepassword admin" in again
    assert "Password:" not in again


@pytest.mark.django_db
def test_create_operator_takes_a_username(django_user_model):
    run("create_operator", "--username", "ops")
    assert django_user_model.objects.filter(username="ops", is_staff=True).exists()


@pytest.mark.localonly
def test_check_says_to_onboard_an_empty_influxdb(local_influx, settings):
    with LocalInflux() as empty:
        settings.INFLUX_URL = empty.url
        with pytest.raises(CommandError, match="influx_setup --onboard"):
            run("influx_check")
