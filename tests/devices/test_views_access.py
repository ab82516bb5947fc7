"""Who may open what: login for every page, staff for changes; bad input stopped by forms.

None of these reach InfluxDB: the rules apply before any query is made.
"""

import pytest
from django.test import Client

CHANGE_REQUESTS = [
    ("get", "/devices/register/"),
    ("post", "/devices/register/"),
    ("get", "/devices/dev-1/remove/"),
    ("post", "/devices/dev-1/remove/"),
    ("post", "/devices/dev-1/rotate-token/"),
]


@pytest.mark.django_db  # every request sweeps unclaimed device tokens (token_stash.sweep)
def test_the_root_is_the_fleet_overview_behind_the_login(client):
    # Issue 8: "/" shows the fleet overview (it redirected to the device list before).
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"


@pytest.mark.parametrize(
    "url",
    [
        "/devices/",
        "/devices/register/",
        "/devices/dev-1/",
        "/devices/dev-1/dashboard/",
        "/devices/dev-1/remove/",
    ],
)
@pytest.mark.django_db
def test_it_sends_anonymous_visitors_to_the_login_page(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.django_db
def test_it_shows_a_login_form(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert b'name="username"' in response.content
    assert b'name="password"' in response.content


@pytest.mark.django_db
def test_it_logs_in_and_lands_on_the_device_list(client, staff_user):
    response = client.post(
        "/accounts/login/", {"username": "operator", "password": "operator-pass-123"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/devices/"


@pytest.mark.parametrize(("method", "url"), CHANGE_REQUESTS)
def test_it_forbids_changes_to_non_staff_users(user_client, method, url):
    response = getattr(user_client, method)(url, {"device_id": "x"})
    assert response.status_code == 403
    assert b"Not allowed" in response.content


def test_it_shows_the_site_404_page_for_unknown_addresses(staff_client):
    response = staff_client.get("/no/such/page/")
    assert response.status_code == 404
    assert b"There is nothing at this address." in response.content
    assert b'href="/devices/"' in response.content


def test_it_does_not_rotate_tokens_on_get(staff_client):
    assert staff_client.get("/devices/dev-1/rotate-token/").status_code == 405


@pytest.mark.parametrize(
    "device_id",
    [
        'x" or r._field == "token" or "" == "',
        "dev ice",
        "a/b",
        "${token}",
        "x" * 65,
        "tag,with=comma",
        "déjà",
    ],
)
def test_it_rejects_ids_breaking_the_rules_as_a_form_error(staff_client, device_id):
    # No InfluxDB is configured here: a request would fail, so the form must stop these first.
    response = staff_client.post("/devices/register/", {"device_id": device_id})
    assert response.status_code == 200
    assert response.context["form"].errors["device_id"]
    assert b'class="errors"' in response.content


@pytest.mark.django_db
def test_it_answers_401_json_to_anonymous_api_calls(client):
    for url in ("/api/devices", "/api/devices/dev-1"):
        response = client.get(url)
        assert response.status_code == 401
        assert response["Content-Type"] == "application/json"
        assert response.json()["code"] == "unauthorized"


def test_it_links_the_admin_for_staff_only(staff_user, plain_user, offline_influx):
    # The header is on every page, including the 503 page shown when InfluxDB is down.
    staff, plain = Client(), Client()
    staff.force_login(staff_user)
    plain.force_login(plain_user)
    assert b'href="/admin/"' in staff.get("/devices/").content
    assert b'href="/admin/"' not in plain.get("/devices/").content


def test_it_brands_the_admin_and_links_the_device_pages(staff_client):
    response = staff_client.get("/admin/")
    assert response.status_code == 200
    assert b"IoT Center" in response.content
    assert b'href="/devices/"' in response.content
    assert b'href="/devices/register/"' in response.content
