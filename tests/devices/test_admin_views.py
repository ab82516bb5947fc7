"""The admin's device pages (/admin/devices/…): staff manage devices inside Django admin.

Same path as the site's pages: Django test client -> admin views -> service -> InfluxDB over HTTP.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from devices import influx as svc
from tests.devices.influx.points import telemetry_count, write_lines, write_registrations

ADMIN_HEADER = "IoT Center administration"
INJECTION = 'x") or r._measurement != ("'
INJECTION_URL = "/admin/devices/x%22)%20or%20true%20or%20(%22/"


def auth_ids(env) -> set[str]:
    return {a.id for a in env.client.authorizations_api().find_authorizations()}


def stored_sessions_text() -> str:
    return " ".join(str(s.get_decoded()) for s in Session.objects.all())


# ---- who may come in ----------------------------------------------------------------------------

ADMIN_REQUESTS = [
    ("get", "/admin/devices/"),
    ("get", "/admin/devices/register/"),
    ("post", "/admin/devices/register/"),
    ("get", "/admin/devices/dev-1/"),
    ("get", "/admin/devices/dev-1/rotate-token/"),
    ("post", "/admin/devices/dev-1/rotate-token/"),
    ("get", "/admin/devices/dev-1/remove/"),
    ("post", "/admin/devices/dev-1/remove/"),
    ("get", "/admin/devices/dev-1/token/"),
]


@pytest.mark.localonly
@pytest.mark.parametrize("as_user", [False, True], ids=["anonymous", "non-staff"])
def test_non_staff_are_sent_to_the_admin_login_before_any_request(
    client, plain_user, local_influx, as_user
):
    svc.register_device("dev-1")
    if as_user:
        client.force_login(plain_user)
    local_influx.local.stats.reset()
    for method, url in ADMIN_REQUESTS:
        response = getattr(client, method)(url, {"device_id": "dev-2"} if method == "post" else {})
        assert response.status_code == 302, url
        assert response["Location"].startswith("/admin/login/?next="), url
    assert local_influx.local.stats.requests() == 0
    # Nothing was changed: still one device, its token not rotated.
    assert [d.device_id for d in svc.list_devices().devices] == ["dev-1"]


# ---- list and search ----------------------------------------------------------------------------


def test_staff_list_and_search_devices_in_the_admin_layout(staff_client, influx):
    creds = [svc.register_device(d) for d in ("hall-1", "hall-2", "garage")]
    response = staff_client.get("/admin/devices/")
    page = response.content.decode()
    assert response.status_code == 200
    assert ADMIN_HEADER in page
    assert 'class="breadcrumbs"' in page
    assert 'id="changelist-search"' in page
    for device_id in ("hall-1", "hall-2", "garage"):
        assert f'href="/admin/devices/{device_id}/"' in page
        assert f'href="/devices/{device_id}/dashboard/"' in page
    assert 'href="/admin/devices/register/"' in page
    assert "3 devices" in page
    for c in creds:
        assert c.token not in page

    found = staff_client.get("/admin/devices/", {"q": "HALL"})
    assert [d.device_id for d in found.context["page"].devices] == ["hall-1", "hall-2"]
    assert 'value="HALL"' in found.content.decode()
    assert 'href="/admin/devices/garage/"' not in found.content.decode()


def test_staff_page_through_many_devices(staff_client, influx):
    write_registrations(influx, [f"dev-{n:03d}" for n in range(60)])
    first = staff_client.get("/admin/devices/")
    assert first.context["page"].num_pages == 3
    assert 'href="?page=3"' in first.content.decode()
    third = staff_client.get("/admin/devices/", {"page": "3"})
    assert [d.device_id for d in third.context["page"].devices] == [
        f"dev-{n:03d}" for n in range(50, 60)
    ]
    assert '<span class="this-page" aria-current="page">3</span>' in third.content.decode()
    # Searching keeps the search in the page links.
    searched = staff_client.get("/admin/devices/", {"q": "dev-0"})
    assert 'href="?q=dev-0&amp;page=2"' in searched.content.decode()
    # A page number that is not a number shows the first page instead of an error.
    assert staff_client.get("/admin/devices/", {"page": "x"}).context["page"].page == 1


def test_ids_other_apps_wrote_are_listed_without_links(staff_client, influx):
    write_registrations(influx, ["site/1"])
    page = staff_client.get("/admin/devices/").content.decode()
    assert "site/1" in page
    assert "registered by another app" in page
    assert 'href="/admin/devices/site/1/"' not in page


# ---- register and the token page ----------------------------------------------------------------


def test_staff_register_a_device_and_see_its_token_exactly_once(staff_client, influx):
    response = staff_client.post("/admin/devices/register/", {"device_id": "kitchen-1"})
    assert response.status_code == 302
    assert response["Location"] == "/admin/devices/kitchen-1/token/"

    shown = staff_client.get("/admin/devices/kitchen-1/token/")
    page = shown.content.decode()
    creds = shown.context["creds"]
    assert creds.device_id == "kitchen-1"
    assert creds.token in page
    assert ADMIN_HEADER in page
    assert "Device kitchen-1 registered." in page  # the admin's message list
    assert influx.url in page
    assert influx.bucket in page
    assert 'download="kitchen-1.json"' in page
    assert "no-store" in shown["Cache-Control"]
    # Once shown, the token is no longer kept anywhere on the server.
    assert creds.token not in stored_sessions_text()

    again = staff_client.get("/admin/devices/kitchen-1/token/")
    assert creds.token not in again.content.decode()
    assert "shown already" in again.content.decode()
    # Nor on the site's token page: the admin and the site share the one-time stash.
    assert creds.token not in staff_client.get("/devices/kitchen-1/token/").content.decode()

    for url in ("/admin/devices/", "/admin/devices/kitchen-1/"):
        later = staff_client.get(url)
        assert later.status_code == 200
        assert creds.token not in later.content.decode(), url
    assert svc.list_devices().total == 1


def test_staff_register_with_a_generated_id(staff_client, influx):
    response = staff_client.post("/admin/devices/register/", {"device_id": ""}, follow=True)
    creds = response.context["creds"]
    assert response.redirect_chain == [(f"/admin/devices/{creds.device_id}/token/", 302)]
    assert [d.device_id for d in svc.list_devices().devices] == [creds.device_id]


def test_the_register_page_refuses_an_id_already_registered(staff_client, influx):
    svc.register_device("dup-1")
    response = staff_client.post("/admin/devices/register/", {"device_id": "dup-1"})
    assert response.status_code == 200
    assert "already registered" in response.context["form"].errors["device_id"][0]
    assert 'class="errornote"' in response.content.decode()
    assert "creds" not in response.context


@pytest.mark.localonly
@pytest.mark.parametrize("device_id", [INJECTION, "register", "a" * 65, "with space"])
def test_the_register_page_refuses_bad_ids_before_any_request(
    staff_client, local_influx, device_id
):
    local_influx.local.stats.reset()
    response = staff_client.post("/admin/devices/register/", {"device_id": device_id})
    assert response.status_code == 200
    assert response.context["form"].errors["device_id"]
    assert ADMIN_HEADER in response.content.decode()
    assert local_influx.local.stats.requests() == 0


# ---- open a device ------------------------------------------------------------------------------


def test_staff_open_a_device_with_a_masked_token_and_latest_values(staff_client, influx):
    creds = svc.register_device("porch")
    when = int(datetime.now(UTC).timestamp()) - 20
    write_lines(influx, [f"environment,device=porch Temperature=19.25 {when}"])
    response = staff_client.get("/admin/devices/porch/")
    page = response.content.decode()
    assert response.status_code == 200
    assert ADMIN_HEADER in page
    assert creds.token not in page
    assert creds.token[-4:] in page  # the hint tells tokens apart
    assert creds.key in page
    assert influx.url in page
    assert influx.bucket in page
    assert "19.25 °C" in page
    assert 'href="/admin/devices/porch/rotate-token/"' in page
    assert 'href="/admin/devices/porch/remove/"' in page
    assert 'href="/devices/porch/"' in page  # the site's page of the same device


@pytest.mark.localonly
@pytest.mark.parametrize(
    "suffix", ["", "rotate-token/", "remove/"], ids=["detail", "rotate", "remove"]
)
def test_an_injection_id_in_the_url_is_a_404_without_any_request(
    staff_client, local_influx, suffix
):
    local_influx.local.stats.reset()
    get = staff_client.get(INJECTION_URL + suffix)
    assert get.status_code == 404
    assert "Not a valid device id" in get.content.decode()
    if suffix:
        assert staff_client.post(INJECTION_URL + suffix).status_code == 404
    assert local_influx.local.stats.requests() == 0


def test_an_unknown_device_is_a_404(staff_client, influx):
    for url in ("/admin/devices/ghost/", "/admin/devices/ghost/remove/"):
        assert staff_client.get(url).status_code == 404, url
    assert staff_client.post("/admin/devices/ghost/rotate-token/").status_code == 404


# ---- rotate -------------------------------------------------------------------------------------


def test_staff_rotate_a_token_after_confirming_and_see_the_new_one_once(staff_client, influx):
    old = svc.register_device("rot-1")
    confirm = staff_client.get("/admin/devices/rot-1/rotate-token/")
    assert confirm.status_code == 200
    assert "stops working" in confirm.content.decode()
    # Asking is not rotating.
    assert old.key in auth_ids(influx)

    response = staff_client.post("/admin/devices/rot-1/rotate-token/", follow=True)
    assert response.redirect_chain == [("/admin/devices/rot-1/token/", 302)]
    new = response.context["creds"]
    page = response.content.decode()
    assert new.token != old.token
    assert new.token in page
    assert old.token not in page
    assert "old token is revoked" in page
    assert "no-store" in response["Cache-Control"]
    ids = auth_ids(influx)
    assert new.key in ids
    assert old.key not in ids

    reload = staff_client.get("/admin/devices/rot-1/token/")
    assert new.token not in reload.content.decode()
    detail = staff_client.get("/admin/devices/rot-1/").content.decode()
    assert new.token not in detail
    assert new.token[-4:] in detail


# ---- remove -------------------------------------------------------------------------------------


@pytest.mark.parametrize("delete_telemetry", [False, True])
def test_staff_remove_a_device_after_confirming(staff_client, influx, delete_telemetry):
    creds = svc.register_device("old-1")
    svc.register_device("keep-1")
    now = int(datetime.now(UTC).timestamp())
    write_lines(influx, [f"environment,device=old-1 Temperature=1.0 {now}"])

    confirm = staff_client.get("/admin/devices/old-1/remove/")
    assert confirm.status_code == 200
    assert "Also delete its telemetry" in confirm.content.decode()
    assert svc.list_devices().total == 2  # asking is not removing

    data = {"delete_telemetry": "on"} if delete_telemetry else {}
    response = staff_client.post("/admin/devices/old-1/remove/", data, follow=True)
    assert response.redirect_chain == [("/admin/devices/", 302)]
    assert "Device old-1 removed" in response.content.decode()
    assert [d.device_id for d in response.context["page"].devices] == ["keep-1"]
    assert creds.key not in auth_ids(influx)  # its token is revoked
    assert staff_client.get("/admin/devices/old-1/").status_code == 404
    assert telemetry_count(influx, "old-1") == (0 if delete_telemetry else 1)


# ---- InfluxDB down ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/admin/devices/"),
        ("get", "/admin/devices/dev-1/"),
        ("get", "/admin/devices/dev-1/rotate-token/"),
        ("post", "/admin/devices/dev-1/rotate-token/"),
        ("get", "/admin/devices/dev-1/remove/"),
        ("post", "/admin/devices/dev-1/remove/"),
        ("post", "/admin/devices/register/"),
    ],
)
def test_admin_pages_answer_503_when_influxdb_is_stopped(staff_client, offline_influx, method, url):
    response = getattr(staff_client, method)(
        url, {"device_id": "dev-1"} if "register" in url else {}
    )
    assert response.status_code == 503
    assert f"InfluxDB unavailable at {offline_influx}" in response.content.decode()
    assert response["Retry-After"]


# ---- admin index and navigation -----------------------------------------------------------------


def test_the_admin_index_links_the_admin_device_pages_and_the_site(staff_client):
    page = staff_client.get("/admin/").content.decode()
    assert "Devices (InfluxDB)" in page
    assert 'href="/admin/devices/"' in page
    assert 'href="/admin/devices/register/"' in page
    assert 'href="/devices/"' in page
    assert 'href="/devices/register/"' in page


def test_the_register_page_needs_no_influxdb_and_shows_the_admin_sidebar(
    staff_user, offline_influx
):
    client = Client()
    client.force_login(staff_user)
    response = client.get("/admin/devices/register/")
    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="nav-sidebar"' in page
    assert 'aria-current="page">Devices</a>' in page
    assert 'name="device_id"' in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    ["username__regex=(", "username__iregex=[", "email__regex=*", "groups__name__regex=("],
)
def test_a_regex_lookup_in_a_change_list_url_is_400_not_500(query, django_user_model):
    admin_user = django_user_model.objects.create_superuser("root", "root@example.com", "pw-1x")
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)
    assert client.get(f"/admin/auth/user/?{query}").status_code == 400
    assert client.get("/admin/auth/group/?name__regex=(").status_code == 400
    # The change list's own filters and search still work.
    assert client.get("/admin/auth/user/?is_staff__exact=1&q=ro").status_code == 200
