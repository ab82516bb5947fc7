"""The token page is shown once, after a redirect: reloading it never registers or rotates again."""

from __future__ import annotations

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from devices import influx as svc


def auth_count(env, device_id: str) -> int:
    return sum(
        1
        for a in env.client.authorizations_api().find_authorizations(org_id=env.org_id)
        if a.description == f"IoTCenterDevice: {device_id}"
    )


def stored_sessions_text() -> str:
    return " ".join(str(s.get_decoded()) for s in Session.objects.all())


def test_registering_redirects_to_the_token_page_which_shows_the_token_once(staff_client, influx):
    response = staff_client.post("/devices/register/", {"device_id": "prg-1"})
    assert response.status_code == 302
    assert response["Location"] == "/devices/prg-1/token/"
    assert "token" not in response.content.decode().lower()

    shown = staff_client.get("/devices/prg-1/token/")
    creds = shown.context["creds"]
    assert creds.token in shown.content.decode()
    assert "no-store" in shown["Cache-Control"]
    assert "Device prg-1 registered." in shown.content.decode()
    # Once shown, the token is no longer kept anywhere on the server.
    assert creds.token not in stored_sessions_text()

    again = staff_client.get("/devices/prg-1/token/")
    assert again.status_code == 200
    assert creds.token not in again.content.decode()
    assert "shown already" in again.content.decode()
    assert "no-store" in again["Cache-Control"]
    # The reload registered nothing: still one device, one token.
    assert svc.list_devices().total == 1
    assert auth_count(influx, "prg-1") == 1


def test_reloading_the_new_token_page_does_not_rotate_again(staff_client, influx):
    old = svc.register_device("prg-2")
    response = staff_client.post("/devices/prg-2/rotate-token/")
    assert response.status_code == 302
    assert response["Location"] == "/devices/prg-2/token/"
    first = staff_client.get("/devices/prg-2/token/")
    new = first.context["creds"]
    assert new.key != old.key
    assert new.token in first.content.decode()

    reload = staff_client.get("/devices/prg-2/token/")
    assert new.token not in reload.content.decode()
    assert "shown already" in reload.content.decode()
    assert svc.get_device("prg-2").key == new.key  # not rotated a second time
    assert auth_count(influx, "prg-2") == 1


def test_two_registrations_in_two_tabs_each_show_their_own_token(staff_client, influx):
    staff_client.post("/devices/register/", {"device_id": "tab-1"})
    staff_client.post("/devices/register/", {"device_id": "tab-2"})
    second = staff_client.get("/devices/tab-2/token/").context["creds"]
    first = staff_client.get("/devices/tab-1/token/").context["creds"]
    assert (first.device_id, second.device_id) == ("tab-1", "tab-2")
    assert first.key == svc.get_device("tab-1").key
    assert second.key == svc.get_device("tab-2").key


@pytest.mark.django_db
def test_the_token_page_is_for_staff_only(client, plain_user):
    assert client.get("/devices/x-1/token/").status_code == 302  # to the login page
    client.force_login(plain_user)
    assert client.get("/devices/x-1/token/").status_code == 403


def test_another_operator_never_sees_the_token(staff_client, influx, django_user_model):
    staff_client.post("/devices/register/", {"device_id": "mine-1"})
    other = django_user_model.objects.create_user(
        username="second-operator", password="x-pass-123", is_staff=True
    )
    second = Client()
    second.force_login(other)
    page = second.get("/devices/mine-1/token/")
    assert page.context["creds"] is None
    assert "shown already" in page.content.decode()
    # The operator who registered it still gets it, once.
    assert staff_client.get("/devices/mine-1/token/").context["creds"] is not None


def test_a_token_never_picked_up_leaves_the_session_after_a_few_minutes(
    staff_client, influx, monkeypatch
):
    from devices import token_stash

    response = staff_client.post("/devices/register/", {"device_id": "late-1"})
    assert response.status_code == 302  # the redirect is never followed
    token = svc.device_credentials("late-1").token
    assert token in stored_sessions_text()

    later = token_stash._clock() + token_stash.TTL + 1
    monkeypatch.setattr(token_stash, "_clock", lambda: later)
    staff_client.post("/devices/register/", {"device_id": "late-2"})  # any later stash

    assert token not in stored_sessions_text()
    assert "shown already" in staff_client.get("/devices/late-1/token/").content.decode()
