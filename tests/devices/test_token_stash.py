"""The token page is shown once, after a redirect: reloading it never registers or rotates again."""

from __future__ import annotations

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from devices import influx as svc
from devices.stash.models import PendingCredentials


def auth_count(env, device_id: str) -> int:
    return sum(
        1
        for a in env.client.authorizations_api().find_authorizations(org_id=env.org_id)
        if a.description == f"IoTCenterDevice: {device_id}"
    )


def stored_sessions_text() -> str:
    return " ".join(str(s.get_decoded()) for s in Session.objects.all())


def stored_server_text() -> str:
    """Everything the server keeps between requests: the session table and the stash table."""
    stashed = " ".join(str(vars(row)) for row in PendingCredentials.objects.all())
    return f"{stored_sessions_text()} {stashed}"


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
    assert creds.token not in stored_server_text()

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
    assert token in stored_server_text()  # waiting in the stash (not in the session itself)

    later = token_stash._clock() + token_stash.TTL + 1
    monkeypatch.setattr(token_stash, "_clock", lambda: later)
    staff_client.post("/devices/register/", {"device_id": "late-2"})  # any later stash

    assert token not in stored_sessions_text()
    assert token not in stored_server_text()
    assert "shown already" in staff_client.get("/devices/late-1/token/").content.decode()


def test_a_stashed_token_is_never_written_into_the_session_table(staff_client, influx):
    staff_client.post("/devices/register/", {"device_id": "rest-1"})
    token = svc.device_credentials("rest-1").token
    # Sessions live for weeks (and in backups): only a random stash id goes there.
    assert token not in stored_sessions_text()
    assert token in stored_server_text()


@pytest.mark.parametrize("other_request", ["/healthz", "/accounts/login/"])
def test_an_unclaimed_token_leaves_the_server_though_its_session_never_comes_back(
    staff_client, influx, monkeypatch, other_request
):
    from devices import token_stash

    staff_client.post("/devices/register/", {"device_id": "gone-1"})
    token = svc.device_credentials("gone-1").token
    assert token in stored_server_text()

    later = token_stash._clock() + token_stash.TTL + 1
    monkeypatch.setattr(token_stash, "_clock", lambda: later)
    # The operator closed the tab; only someone else (a load balancer's probe, another user)
    # makes a request.
    Client().get(other_request)

    assert token not in stored_server_text()
    assert PendingCredentials.objects.count() == 0


def test_a_token_is_still_shown_within_the_ttl_while_others_make_requests(
    staff_client, influx, monkeypatch
):
    from devices import token_stash

    staff_client.post("/devices/register/", {"device_id": "soon-1"})
    token = svc.device_credentials("soon-1").token
    almost = token_stash._clock() + token_stash.TTL - 5
    monkeypatch.setattr(token_stash, "_clock", lambda: almost)
    Client().get("/healthz")
    assert token in staff_client.get("/devices/soon-1/token/").content.decode()


def test_a_token_left_past_the_ttl_is_not_shown_even_before_any_sweep(
    staff_client, influx, monkeypatch
):
    from devices import token_stash

    staff_client.post("/devices/register/", {"device_id": "stale-1"})
    token = svc.device_credentials("stale-1").token
    later = token_stash._clock() + token_stash.TTL + 1
    monkeypatch.setattr(token_stash, "_clock", lambda: later)
    monkeypatch.setattr(token_stash, "sweep", lambda: 0)  # as if no request swept in between
    page = staff_client.get("/devices/stale-1/token/")
    assert token not in page.content.decode()
    assert "shown already" in page.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("bad_id", ["bad id", "x" * 65, 'a"b', "register"])
def test_token_pages_answer_404_for_ids_no_device_can_have(staff_client, bad_id):
    from urllib.parse import quote

    assert staff_client.get(f"/devices/{quote(bad_id)}/token/").status_code == 404
    assert staff_client.get(f"/admin/devices/{quote(bad_id)}/token/").status_code == 404


@pytest.mark.parametrize("page", ["/devices/head-2/token/", "/admin/devices/head-2/token/"])
def test_a_head_request_does_not_use_up_the_one_display(staff_client, influx, page):
    staff_client.post("/devices/register/", {"device_id": "head-2"})
    assert staff_client.head(page).status_code == 200  # a link prefetcher, a monitor
    shown = staff_client.get(page)
    assert shown.context["creds"] is not None
    assert shown.context["creds"].token in shown.content.decode()


@pytest.mark.django_db
def test_a_failing_sweep_does_not_fail_the_page(client, influx, monkeypatch):
    from django.db import OperationalError

    from devices import token_stash

    def broken_sweep():
        raise OperationalError("database is locked")

    monkeypatch.setattr(token_stash, "sweep", broken_sweep)
    assert client.get("/healthz").status_code == 200


def test_the_sweep_command_deletes_unclaimed_tokens_for_cron(staff_client, influx, monkeypatch):
    from io import StringIO

    from django.core.management import call_command

    from devices import token_stash

    staff_client.post("/devices/register/", {"device_id": "cron-1"})
    token = svc.device_credentials("cron-1").token
    later = token_stash._clock() + token_stash.TTL + 1
    monkeypatch.setattr(token_stash, "_clock", lambda: later)
    out = StringIO()
    call_command("sweep_device_tokens", stdout=out)  # no request at all
    assert "Deleted 1 unclaimed device token(s)." in out.getvalue()
    assert token not in stored_server_text()
