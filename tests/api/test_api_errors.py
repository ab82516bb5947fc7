"""The JSON API answers JSON ``{"code", "message"}`` for every error, whoever produced it:
the API's own views, Django's method check, CSRF, a suspicious request, or a bug (500)."""

from __future__ import annotations

import pytest
from django.test import Client

from devices.api import endpoints as api


def assert_json_error(response, status: int, code: str) -> None:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"code", "message"}
    assert body["code"] == code
    assert body["message"]


@pytest.mark.django_db
def test_401_is_json(client):
    assert_json_error(client.get("/api/devices"), 401, "unauthorized")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "allowed"),
    [("/api/devices", {"GET", "HEAD", "POST"}), ("/api/devices/x-1", {"GET", "HEAD"})],
)
def test_405_is_json_and_says_what_is_allowed(staff_client, url, allowed):
    for method in ("post", "put", "delete", "patch"):
        if method.upper() in allowed:
            continue
        response = getattr(staff_client, method)(url)
        assert_json_error(response, 405, "method not allowed")
        assert set(response["Allow"].split(", ")) == allowed


@pytest.mark.django_db
def test_403_from_csrf_is_json(staff_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    assert_json_error(client.post("/api/devices", {"deviceId": "x"}), 403, "forbidden")


@pytest.mark.django_db
def test_404_is_json(user_client, influx):
    assert_json_error(user_client.get("/api/devices/bad%20id"), 404, "not found")
    assert_json_error(user_client.get("/api/nothing-here"), 404, "not found")


@pytest.mark.django_db
def test_400_from_a_suspicious_host_is_json(user_client):
    assert_json_error(user_client.get("/api/devices", HTTP_HOST="evil.example"), 400, "bad request")


@pytest.mark.django_db
def test_400_from_the_api_itself_stays_as_it_was(user_client):
    assert_json_error(user_client.get("/api/devices", {"page": "x"}), 400, "invalid")


@pytest.mark.django_db
def test_503_is_json(user_client, offline_influx):
    assert_json_error(user_client.get("/api/devices"), 503, "unavailable")


@pytest.mark.django_db
def test_500_is_json(staff_user, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(api.influx, "list_devices", broken)
    client = Client(raise_request_exception=False)
    client.force_login(staff_user)
    response = client.get("/api/devices")
    assert_json_error(response, 500, "internal error")
    assert "a bug" not in response.content.decode()


@pytest.mark.django_db
def test_pages_keep_their_html_error_pages(staff_client):
    response = staff_client.put("/devices/")
    assert response.status_code == 405
    assert not response["Content-Type"].startswith("application/json")
