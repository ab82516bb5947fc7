"""HEAD works wherever GET does (monitoring, link checkers and load balancers send HEAD)."""

from __future__ import annotations

import pytest

from devices import influx as svc

PAGES = [
    "/",
    "/devices/",
    "/devices/register/",
    "/devices/head-1/",
    "/devices/head-1/dashboard/",
    "/devices/head-1/remove/",
    "/devices/head-1/token/",
    "/api/devices",
    "/api/devices/head-1",
    "/healthz",
    "/admin/devices/",
    "/admin/devices/register/",
    "/admin/devices/head-1/",
    "/admin/devices/head-1/rotate-token/",
    "/admin/devices/head-1/remove/",
    "/admin/devices/head-1/token/",
    "/accounts/login/",
]


@pytest.mark.parametrize("url", PAGES)
def test_head_answers_like_get_without_a_body(staff_client, influx, url):
    svc.register_device("head-1")
    get = staff_client.get(url)
    head = staff_client.head(url)
    assert head.status_code == get.status_code
    assert head.status_code != 405
    assert head.content == b""
