"""Device bootstrap: the provisioning URL shown once beside a new token answers
iot-center-v2's ``GET <IOT_CENTER_URL>/api/env/<id>``; anything else is a 404 that reveals
nothing and registers nothing."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.utils import timezone
from influxdb_client import InfluxDBClient, Point
from influxdb_client.client.write_api import SYNCHRONOUS

from devices import influx as service
from devices.api.models import ProvisioningGrant

ENV_FIELDS = {
    "id",
    "influx_url",
    "influx_org",
    "influx_token",
    "influx_bucket",
    "configuration_refresh",
    "default_lat",
    "default_lon",
    "measurement_interval",
}


def provisioning_url(response) -> str | None:
    match = re.search(r'<pre id="provision-url"[^>]*>([^<]+)</pre>', response.content.decode())
    return match.group(1) if match else None


def register(client, device_id: str, *, admin: bool = False) -> tuple[str, object]:
    page = "/admin/devices/register/" if admin else "/devices/register/"
    response = client.post(page, {"device_id": device_id}, follow=True)
    url = provisioning_url(response)
    assert url, "the token page shows the provisioning URL"
    return url, response.context["creds"]


def env(client, iot_center_url: str, device_id: str):
    """What iot-center-v2's Python client fetches: f'{IOT_CENTER_URL}/api/env/{id}'."""
    return client.get(urlsplit(f"{iot_center_url}/api/env/{device_id}").path)


@pytest.mark.parametrize("admin", [False, True])
def test_a_new_device_bootstraps_from_its_provisioning_url(staff_client, influx, admin):
    url, creds = register(staff_client, "pi-1", admin=admin)
    assert url.startswith("http://testserver/api/provision/")
    client = Client()
    response = env(client, url, "pi-1")  # the device has no session and no key
    assert response.status_code == 200
    config = response.json()
    assert set(config) == ENV_FIELDS
    assert config["id"] == "pi-1"
    assert config["influx_token"] == creds.token
    assert config["influx_bucket"] == influx.bucket
    assert config["influx_org"] == influx.org
    assert config["measurement_interval"] == 60
    assert config["configuration_refresh"] == 3600
    # Then it writes as iot-center-v2's client does, and the dashboard shows it.
    with (
        InfluxDBClient(
            url=config["influx_url"], token=config["influx_token"], org=config["influx_org"]
        ) as device,
        device.write_api(write_options=SYNCHRONOUS) as writer,
    ):
        point = (
            Point("environment")
            .tag("clientId", config["id"])
            .tag("device", "raspberrypi")
            .field("Temperature", 10.21)
            .field("Humidity", 62.36)
        )
        writer.write(bucket=config["influx_bucket"], record=point)
    readings = {r.field: r.value for r in service.latest_readings("pi-1")}
    assert readings == {"Temperature": 10.21, "Humidity": 62.36}
    assert b"10.21" in staff_client.get("/devices/pi-1/").content


def test_the_url_is_shown_once(staff_client, influx):
    register(staff_client, "pi-1")
    again = staff_client.get("/devices/pi-1/token/")
    assert provisioning_url(again) is None
    assert ProvisioningGrant.objects.get().secret_hash  # stored: only a hash
    assert "/api/provision/" not in again.content.decode()


def test_wrong_secret_other_device_or_unknown_id_is_404_revealing_nothing(
    staff_client, local_influx
):
    client = Client()  # the device: no session, no key
    url, creds = register(staff_client, "pi-1")
    service.register_device("pi-2")
    secret = url.rsplit("/", 1)[1]
    wrong = url[: -len(secret)] + ("A" if secret[0] != "A" else "B") + secret[1:]
    local_influx.local.stats.wait_idle()
    local_influx.local.stats.reset()
    for base, device_id in ((wrong, "pi-1"), (url, "pi-2"), (url, "ghost"), (url, "x%22")):
        response = env(client, base, device_id)
        assert response.status_code == 404, (base, device_id)
        assert response.json()["code"] == "not found"
        assert creds.token not in response.content.decode()
    local_influx.local.stats.wait_idle()
    assert local_influx.local.stats.requests() == 0  # nothing asked of InfluxDB
    assert sorted(service.registered_device_ids()) == ["pi-1", "pi-2"]  # nothing registered


def test_an_expired_or_revoked_url_is_404(staff_client, influx):
    client = Client()  # the device: no session, no key
    url, _ = register(staff_client, "pi-1")
    ProvisioningGrant.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert env(client, url, "pi-1").status_code == 404
    ProvisioningGrant.objects.update(expires_at=timezone.now() + timedelta(hours=1))
    assert env(client, url, "pi-1").status_code == 200
    ProvisioningGrant.objects.all().delete()  # revoked in the admin
    assert env(client, url, "pi-1").status_code == 404


def test_rotating_the_token_replaces_the_url(staff_client, influx):
    client = Client()  # the device: no session, no key
    old, _ = register(staff_client, "pi-1")
    response = staff_client.post("/devices/pi-1/rotate-token/", follow=True)
    new = provisioning_url(response)
    assert new
    assert new != old
    assert env(client, old, "pi-1").status_code == 404
    config = env(client, new, "pi-1").json()
    assert config["influx_token"] == response.context["creds"].token


def test_a_removed_device_cannot_bootstrap(staff_client, influx):
    client = Client()  # the device: no session, no key
    url, _ = register(staff_client, "pi-1")
    service.remove_device("pi-1", delete_telemetry=False)
    assert env(client, url, "pi-1").status_code == 404
