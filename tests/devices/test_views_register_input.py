"""Register only what the form asked for: a POST without the device id field registers nothing.

The form sends ``device_id`` always (empty means "generate one"); a JSON body, a garbage body or
a broken upload carries no such field, and must not end in a device under a random id.
"""

from __future__ import annotations

import pytest

from devices import influx as svc

PAGES = ["/devices/register/", "/admin/devices/register/"]


@pytest.mark.parametrize("url", PAGES)
def test_a_json_body_registers_nothing(staff_client, influx, url):
    response = staff_client.post(url, {"device_id": "json-1"}, content_type="application/json")
    assert response.status_code == 400
    assert "no device id field" in response.content.decode()
    assert svc.list_devices().total == 0


@pytest.mark.parametrize("url", PAGES)
def test_a_garbage_body_registers_nothing(staff_client, influx, url):
    response = staff_client.generic(
        "POST", url, b"\x00\xffnot a form", content_type="application/octet-stream"
    )
    assert response.status_code == 400
    assert svc.list_devices().total == 0


@pytest.mark.parametrize("url", PAGES)
@pytest.mark.parametrize(
    "content_type",
    ["multipart/form-data", "multipart/form-data; boundary=", "multipart/form-data; boundary=q"],
)
def test_a_broken_multipart_body_registers_nothing(staff_client, influx, url, content_type):
    body = b"--xyz\r\nno headers, no end, not the announced boundary"
    response = staff_client.generic("POST", url, body, content_type=content_type)
    assert response.status_code == 400
    assert svc.list_devices().total == 0


@pytest.mark.parametrize("url", PAGES)
def test_a_post_with_other_fields_only_registers_nothing(staff_client, influx, url):
    response = staff_client.post(url, {"id": "other-1"})
    assert response.status_code == 400
    assert svc.list_devices().total == 0


@pytest.mark.parametrize("url", PAGES)
def test_the_form_s_empty_field_still_generates_an_id(staff_client, influx, url):
    response = staff_client.post(url, {"device_id": ""})
    assert response.status_code == 302
    assert svc.list_devices().total == 1
