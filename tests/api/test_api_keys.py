"""API keys: created by staff (command, admin), shown once, stored hashed, last-used time,
the owner's rights, read-only keys, revocation; Bearer or path; CSRF only for sessions."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from devices import influx as service
from devices.api import keys
from devices.api.models import ApiKey

JSON = "application/json"


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("api_key", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_command_prints_a_key_once_and_stores_only_its_hash(staff_user, csrf_client, influx):
    raw, _ = run("create", "script", "--owner", staff_user.username)
    raw = raw.strip()
    assert raw.startswith("iotc_")
    row = ApiKey.objects.get()
    assert raw not in {row.key_hash, row.prefix, row.name}
    assert row.key_hash == keys.hash_key(raw)
    listing, _ = run("list")
    assert raw not in listing
    assert "script" in listing
    assert "never used" in listing
    assert csrf_client.get("/api/devices", headers=bearer(raw)).status_code == 200
    assert "never used" not in run("list")[0]  # last-used time recorded


def test_a_revoked_key_is_refused(staff_key, csrf_client, influx):
    assert csrf_client.get("/api/devices", headers=bearer(staff_key)).status_code == 200
    out, _ = run("revoke", staff_key[:12])
    assert "revoked" in out
    response = csrf_client.get("/api/devices", headers=bearer(staff_key))
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


@pytest.mark.django_db
def test_the_command_explains_an_unknown_owner():
    with pytest.raises(CommandError, match="no user"):
        run("create", "script", "--owner", "nobody")


def test_a_key_acts_with_its_owners_rights(plain_key, staff_key, csrf_client, influx):
    body = json.dumps({"deviceId": "k-1"})
    response = csrf_client.post("/api/devices", body, JSON, headers=bearer(plain_key))
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert service.list_devices().total == 0
    assert csrf_client.get("/api/devices", headers=bearer(plain_key)).status_code == 200
    # A staff key registers without any CSRF token: no browser sends it by itself.
    response = csrf_client.post("/api/devices", body, JSON, headers=bearer(staff_key))
    assert response.status_code == 201


def test_a_read_only_key_never_changes_anything(read_only_key, csrf_client, influx):
    service.register_device("ro-1")
    headers = bearer(read_only_key)
    assert csrf_client.get("/api/devices/ro-1", headers=headers).json()[0]["deviceId"] == "ro-1"
    for url, body in (
        ("/api/devices", {"deviceId": "ro-2"}),
        ("/api/devices/generate", {"deviceIds": ["ro-1"]}),
    ):
        response = csrf_client.post(url, json.dumps(body), JSON, headers=headers)
        assert response.status_code == 403, url
        assert "read-only" in response.json()["message"]
    assert service.latest_readings("ro-1") == []
    assert [d.device_id for d in service.list_devices().devices] == ["ro-1"]


def test_session_requests_keep_csrf(staff_user, csrf_client, influx):
    csrf_client.force_login(staff_user)
    assert csrf_client.get("/api/devices").status_code == 200  # session reads still work
    response = csrf_client.post("/api/devices", json.dumps({"deviceId": "s-1"}), JSON)
    assert response.status_code == 403
    assert service.list_devices().total == 0
    page = csrf_client.get("/devices/register/")
    token = page.cookies["csrftoken"].value
    response = csrf_client.post(
        "/api/devices", json.dumps({"deviceId": "s-1"}), JSON, headers={"X-CSRFToken": token}
    )
    assert response.status_code == 201


def test_a_bad_key_does_not_fall_back_to_the_session(staff_user, csrf_client, influx):
    csrf_client.force_login(staff_user)
    response = csrf_client.get("/api/devices", headers=bearer("iotc_" + "y" * 43))
    assert response.status_code == 401


def test_staff_create_a_key_in_the_admin_and_see_it_once(staff_client, staff_user):
    staff_user.is_superuser = True
    staff_user.save()
    response = staff_client.post(
        "/admin/api/apikey/add/",
        {"name": "ui", "owner": staff_user.pk, "read_only": "on"},
        follow=True,
    )
    assert response.status_code == 200
    row = ApiKey.objects.get()
    shown = [str(m) for m in response.context["messages"]]
    [raw] = [w.rstrip(",") for m in shown for w in m.split() if w.startswith("iotc_")]
    assert keys.authenticate(raw) == row
    assert row.read_only
    assert raw not in staff_client.get(f"/admin/api/apikey/{row.pk}/change/").content.decode()


def test_the_ui_env_command_prints_the_env_local_lines(staff_key, settings):
    out = io.StringIO()
    call_command("iot_api_ui_env", "http://iot.example:8000/", "--key", staff_key, stdout=out)
    assert out.getvalue().splitlines() == [
        f"API_URL=http://iot.example:8000/api/k/{staff_key}",
        f"NEXT_PUBLIC_INFLUX_BUCKET={settings.INFLUX_BUCKET}",
    ]
    with pytest.raises(CommandError, match="not an active API key"):
        call_command("iot_api_ui_env", "http://iot.example:8000", "--key", "nope")
