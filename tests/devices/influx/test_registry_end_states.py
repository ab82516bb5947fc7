"""Every change ends in a known state, and the operator is told which (faults mid-change)."""

from __future__ import annotations

import html
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from devices import influx as svc

from .test_registry_failures import auth_ids, authorization_made_late, registry_key, settle
from .test_registry_processes import writes_with

pytestmark = pytest.mark.localonly


def influx_check(*args) -> tuple[str, CommandError | None]:
    out = StringIO()
    try:
        call_command("influx_check", *args, stdout=out, stderr=StringIO())
    except CommandError as exc:
        return out.getvalue(), exc
    return out.getvalue(), None


def test_an_authorization_created_after_the_page_gave_up_fails_influx_check_until_revoked(
    local_influx, settings
):
    authorization_made_late(local_influx, settings, svc.register_device, "late-auth")
    [stray] = auth_ids(local_influx, "late-auth")

    out, failed = influx_check()
    assert failed is not None  # non-zero exit while a token nobody references works
    assert f"{stray} (late-auth)" in out

    out, failed = influx_check("--revoke-orphans")
    assert failed is None, failed
    assert f"revoked authorization {stray} (late-auth)" in out
    assert auth_ids(local_influx, "late-auth") == set()
    assert influx_check()[1] is None


def test_influx_check_revoke_orphans_fails_while_an_orphan_could_not_be_revoked(
    local_influx, settings
):
    authorization_made_late(local_influx, settings, svc.register_device, "stuck")
    [stray] = auth_ids(local_influx, "stuck")
    local_influx.local.faults.add(
        status=500, count=1, path=f"/api/v2/authorizations/{stray}", method="DELETE"
    )
    out, failed = influx_check("--revoke-orphans")
    assert failed is not None
    assert stray in str(failed) or stray in out
    assert auth_ids(local_influx, "stuck") == {stray}


def test_a_rotation_that_cannot_revoke_the_old_token_shows_the_new_one_and_says_so(
    staff_client, local_influx
):
    old = svc.register_device("rot-page")
    local_influx.local.faults.add(
        status=500, count=1, path=f"/api/v2/authorizations/{old.key}", method="DELETE"
    )
    response = staff_client.post("/devices/rot-page/rotate-token/", follow=True)
    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    new_token = registry_token_of(local_influx, "rot-page")
    assert new_token != old.token
    assert new_token in page  # shown once: it is valid
    assert "could NOT be revoked and still works" in page
    assert "manage.py influx_check --revoke-orphans" in page
    assert writes_with(local_influx, new_token) == 204
    # Never silently left working: the next change of the device revokes it ...
    assert auth_ids(local_influx, "rot-page") == {old.key, registry_key(local_influx, "rot-page")}
    out, failed = influx_check()
    assert failed is not None  # ... and influx_check fails until then
    assert old.key in out
    influx_check("--revoke-orphans")
    assert writes_with(local_influx, old.token) == 401
    assert writes_with(local_influx, new_token) == 204


def test_a_late_revoke_never_leaves_the_device_without_a_token_nobody_saw(
    staff_client, local_influx, settings
):
    old = svc.register_device("rot-late")
    settings.INFLUX_TIMEOUT = "1"
    local_influx.local.faults.add(
        delay=1.5, count=1, path=f"/api/v2/authorizations/{old.key}", method="DELETE"
    )
    response = staff_client.post("/devices/rot-late/rotate-token/", follow=True)
    settle(local_influx)  # the old token was revoked late, after the page stopped waiting
    page = html.unescape(response.content.decode())
    new_token = registry_token_of(local_influx, "rot-late")
    assert response.status_code == 200
    assert new_token in page
    assert "may still work" in page
    assert writes_with(local_influx, old.token) == 401
    assert writes_with(local_influx, new_token) == 204  # the device has the token it was shown


def registry_token_of(env, device_id: str) -> str:
    from .test_registry_processes import registry_token

    return registry_token(env, device_id)
