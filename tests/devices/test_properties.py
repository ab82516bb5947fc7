"""Property-based tests (Hypothesis) of every form field, URL parameter and JSON body.

Whatever a client sends: never a 500, and never a Flux query or a line of line protocol built
from text that was not validated first. The local server's request log is the witness: an
invalid id makes no request at all, and free text (search, range) never shows up in a query.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices import ids
from devices import influx as svc

pytestmark = pytest.mark.localonly

FAST = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Any text a browser or script can send (surrogates cannot be encoded in a request).
TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=80)
ID_CHARS = "ABCxyz019_-.:"
HOSTILE = st.sampled_from(
    ['"', "\\", "${", ")", "|>", "\n", "\x00", " ", "/", "%", "'", "r._value", "`", "=", ","]
)
# Ids that look nearly right: id characters with something hostile somewhere, or too long.
NEAR_IDS = st.one_of(
    st.builds(
        lambda a, h, b: a + h + b,
        st.text(ID_CHARS, max_size=10),
        HOSTILE,
        st.text(ID_CHARS, max_size=10),
    ),
    st.text(ID_CHARS, min_size=65, max_size=90),
    TEXT,
)
# A marker no Flux query of the app contains: if it reached one, free text was copied in.
MARKER = "Qz~"

SITE_ID_PAGES = [
    "/devices/{}/",
    "/devices/{}/dashboard/",
    "/devices/{}/remove/",
    "/devices/{}/token/",
    "/admin/devices/{}/",
    "/admin/devices/{}/rotate-token/",
    "/admin/devices/{}/remove/",
    "/admin/devices/{}/token/",
    "/api/devices/{}",
]
POST_ID_PAGES = [
    "/devices/{}/rotate-token/",
    "/devices/{}/remove/",
    "/admin/devices/{}/rotate-token/",
    "/admin/devices/{}/remove/",
]


@pytest.fixture
def web(staff_user, local_influx):
    client = Client(raise_request_exception=False)
    client.force_login(staff_user)
    svc.register_device("known-1")
    local_influx.local.stats.wait_idle()
    return client, local_influx.local.stats


def fresh(stats) -> None:
    stats.wait_idle()
    stats.reset()


def flux_texts(stats) -> list[str]:
    stats.wait_idle()
    return [r.flux for r in stats.log if r.flux]


def writes(stats) -> int:
    return stats.requests("/api/v2/write")


@FAST
@given(device_id=NEAR_IDS)
def test_an_invalid_id_in_any_url_is_404_before_any_request(web, device_id):
    client, stats = web
    if ids.is_valid_device_id(device_id):
        return
    for page in SITE_ID_PAGES:
        if not device_id and page.startswith("/api/"):
            continue  # "/api/devices/" is the device list (iot-api-ui asks for it so)
        fresh(stats)
        response = client.get(page.format(quote(device_id, safe="")))
        assert response.status_code == 404, page
        assert stats.requests() == 0, page
    for page in POST_ID_PAGES:
        fresh(stats)
        response = client.post(page.format(quote(device_id, safe="")), {"delete_telemetry": "on"})
        assert response.status_code == 404, page
        assert stats.requests() == 0, page


@FAST
@given(device_id=st.one_of(st.text(ID_CHARS, min_size=1, max_size=64), NEAR_IDS))
def test_any_id_in_a_url_is_answered_never_500(web, device_id):
    client, _ = web
    for page in SITE_ID_PAGES:
        response = client.get(page.format(quote(device_id, safe="")))
        assert response.status_code in (200, 404), page


@FAST
@given(device_id=st.one_of(NEAR_IDS, st.just("register"), st.just("..")))
def test_the_register_form_refuses_invalid_ids_before_any_request(web, device_id):
    client, stats = web
    cleaned = device_id.strip()
    if not cleaned or (ids.is_valid_device_id(cleaned) and "\x00" not in device_id):
        return  # would register (generated or valid id): covered by the page tests
    for page in ("/devices/register/", "/admin/devices/register/"):
        fresh(stats)
        response = client.post(page, {"device_id": device_id})
        assert response.status_code == 200, page
        assert response.context["form"].errors["device_id"]
        assert stats.requests() == 0, page  # no query, no authorization, no line protocol


@FAST
@given(
    body=st.one_of(TEXT, st.binary(max_size=200)),
    content_type=st.sampled_from(
        ["application/json", "text/plain", "application/octet-stream", "multipart/form-data"]
    ),
)
def test_a_register_body_without_the_form_field_registers_nothing(web, body, content_type):
    client, stats = web
    fresh(stats)
    data = body.encode() if isinstance(body, str) else body
    response = client.generic("POST", "/devices/register/", data, content_type=content_type)
    assert response.status_code == 400
    assert stats.requests() == 0
    assert writes(stats) == 0


@FAST
@given(
    payload=st.recursive(
        st.none() | st.booleans() | st.integers() | TEXT,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
        max_leaves=8,
    )
)
def test_json_bodies_to_the_api_are_refused_as_json(web, payload):
    client, stats = web
    fresh(stats)
    response = client.post("/api/devices/known-1", json.dumps(payload), "application/json")
    assert response.status_code == 405
    assert response.json()["code"] == "method not allowed"
    assert stats.requests() == 0
    # POST /api/devices registers {"deviceId": <a valid id>}; any other body is a JSON 400
    # and writes nothing.
    fresh(stats)
    response = client.post("/api/devices", json.dumps(payload), content_type="application/json")
    device_id = payload.get("deviceId") if isinstance(payload, dict) else None
    registers = isinstance(device_id, str) and ids.is_valid_device_id(device_id.strip())
    assert response.status_code in ((201, 409) if registers else (400,))
    assert response.json()["code" if response.status_code != 201 else "deviceId"]
    if not registers:
        assert writes(stats) == 0


@FAST
@given(q=TEXT, page=st.one_of(TEXT, st.integers(-(10**20), 10**20).map(str)))
def test_search_and_page_never_fail_and_never_reach_a_query(web, q, page):
    client, stats = web
    needle = MARKER + q
    for url in ("/devices/", "/admin/devices/", "/api/devices"):
        fresh(stats)
        response = client.get(url, {"q": needle, "page": page})
        assert response.status_code in (200, 400), url
        if url != "/api/devices":
            assert response.status_code == 200, url
        assert not any(MARKER in text for text in flux_texts(stats)), url


@FAST
@given(range_key=st.one_of(TEXT, st.sampled_from(list(svc.RANGES))))
def test_any_range_is_answered_and_only_known_ranges_reach_a_query(web, range_key):
    client, stats = web
    for url in ("/devices/known-1/", "/devices/known-1/dashboard/"):
        fresh(stats)
        response = client.get(url, {"range": MARKER + range_key})
        assert response.status_code == 200, url
        assert not any(MARKER in text for text in flux_texts(stats)), url
        response = client.get(url, {"range": range_key})
        assert response.status_code == 200, url


@FAST
@given(value=st.one_of(TEXT, st.lists(TEXT, max_size=3)))
def test_the_remove_form_takes_any_value_without_failing(web, value):
    client, stats = web
    # A device that is not there: any form value ends in a 404, never a 500, never a write.
    fresh(stats)
    response = client.post("/devices/ghost-1/remove/", {"delete_telemetry": value})
    assert response.status_code == 404
    assert writes(stats) == 0
    response = client.get("/devices/known-1/remove/", {"delete_telemetry": value})
    assert response.status_code == 200


@FAST
@given(username=TEXT, password=TEXT)
def test_the_login_forms_take_any_text_without_failing(web, username, password):
    anonymous = Client(raise_request_exception=False)
    for url in ("/accounts/login/", "/admin/login/"):
        response = anonymous.post(url, {"username": username, "password": password})
        assert response.status_code in (200, 429), url
        assert "_auth_user_id" not in anonymous.session
