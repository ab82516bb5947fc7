"""Registry entries written by other apps sharing the data model, with ids this app rejects."""

import pytest
from influxdb_client import Point
from influxdb_client.client.write_api import SYNCHRONOUS

pytestmark = pytest.mark.django_db


def _register_elsewhere(influx, device_id: str) -> None:
    point = (
        Point("deviceauth")
        .tag("deviceId", device_id)
        .field("key", "0123456789abcdef")
        .field("token", "not-shown-anywhere")
    )
    influx.client.write_api(write_options=SYNCHRONOUS).write(influx.bucket_auth, record=point)


def test_the_list_shows_foreign_ids_without_breaking_or_linking_them(influx, staff_client):
    _register_elsewhere(influx, "site/1")
    _register_elsewhere(influx, "my device")
    _register_elsewhere(influx, "plain-1")

    response = staff_client.get("/devices/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "<code>site/1</code>" in page
    assert "<code>my device</code>" in page
    assert 'href="/devices/plain-1/"' in page
    assert "/devices/site/1/" not in page
    assert page.count("registered by another app") == 2
    assert "not-shown-anywhere" not in page
