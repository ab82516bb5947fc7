"""manage.py influx_check: can the app do its job with these settings; orphan tokens."""

import logging
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from devices import influx as svc
from devices.influx import setup
from localinflux.runner import LocalInflux
from tests.devices.influx.points import make_device_auth

from .output import run


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


@pytest.mark.localonly
def test_check_says_to_onboard_an_empty_influxdb(local_influx, settings):
    with LocalInflux() as empty:
        settings.INFLUX_URL = empty.url
        with pytest.raises(CommandError, match="influx_setup --onboard"):
            run("influx_check")


def auth_ids(env):
    return {a.id for a in env.client.authorizations_api().find_authorizations(org_id=env.org_id)}


def plain(text):
    # Without the terminal colours the command adds around its marks.
    for code in ("\x1b[31;1m", "\x1b[33;1m", "\x1b[32;1m", "\x1b[0m"):
        text = text.replace(code, "")
    return text


def test_check_reports_orphan_authorizations_and_revokes_them_when_asked(influx):
    registered = svc.register_device("dev-1")
    superseded = make_device_auth(influx, "dev-1", influx.bucket_id)
    ghost = make_device_auth(influx, "ghost", influx.bucket_id)
    # Same description, but on the registry bucket: not a device token of ours.
    elsewhere = make_device_auth(influx, "ghost", influx.bucket_auth_id)

    # Orphans are a failure: their tokens work and nobody is told otherwise.
    stdout = StringIO()
    with pytest.raises(CommandError, match="1 check\\(s\\) failed: 2 device authorization"):
        call_command("influx_check", stdout=stdout, stderr=StringIO())
    out = plain(stdout.getvalue())
    assert "FAIL orphan authorizations: 2 device authorization(s)" in out
    assert f"{superseded.id} (dev-1)" in out
    assert f"{ghost.id} (ghost)" in out
    assert registered.key not in out
    assert elsewhere.id not in out
    assert "manage.py influx_check --revoke-orphans" in out
    assert "All checks passed" not in out
    assert ghost.token not in out
    assert auth_ids(influx) >= {superseded.id, ghost.id}  # reporting revokes nothing

    out = plain(run("influx_check", "--revoke-orphans"))
    assert f"revoked authorization {superseded.id} (dev-1)" in out
    assert f"revoked authorization {ghost.id} (ghost)" in out
    assert "Revoked 2 orphan authorization(s)." in out
    left = auth_ids(influx)
    assert superseded.id not in left
    assert ghost.id not in left
    assert {registered.key, elsewhere.id} <= left
    assert svc.get_device("dev-1").key == registered.key

    out = plain(run("influx_check"))
    assert "ok   orphan authorizations: every device authorization is the registry's" in out
    assert "All checks passed." in out


def test_revoke_orphans_with_none_revokes_nothing(influx):
    registered = svc.register_device("dev-1")
    out = plain(run("influx_check", "--revoke-orphans"))
    assert "Revoked 0 orphan authorization(s)." in out
    assert "All checks passed." in out
    assert registered.key in auth_ids(influx)


def test_orphans_are_not_revoked_when_a_check_fails(influx, settings):
    ghost = make_device_auth(influx, "ghost", influx.bucket_id)
    settings.INFLUX_BUCKET_AUTH = f"{influx.bucket_auth}_missing"
    with pytest.raises(CommandError, match="failed"):
        run("influx_check", "--revoke-orphans")
    assert ghost.id in auth_ids(influx)


def test_a_step_failing_with_a_bug_of_ours_fails_and_keeps_its_traceback(
    influx, monkeypatch, caplog
):
    def broken_write(conn, bucket):
        raise IndexError("a bug of ours")

    monkeypatch.setattr(setup, "_empty_write", broken_write)
    out = StringIO()
    with caplog.at_level(logging.ERROR, logger="devices.influx"), pytest.raises(CommandError):
        call_command("influx_check", stdout=out, stderr=StringIO())
    shown = plain(out.getvalue())
    # Reported as failed, as what it is: not "InfluxDB unavailable".
    assert "FAIL write registry: IndexError: a bug of ours" in shown
    assert "FAIL write telemetry: IndexError: a bug of ours" in shown
    assert "unavailable" not in shown
    assert "ok   create authorizations" in shown  # the other steps still ran
    logged = [r for r in caplog.records if r.exc_info and r.exc_info[0] is IndexError]
    assert len(logged) == 2
    assert "write registry" in logged[0].getMessage()
