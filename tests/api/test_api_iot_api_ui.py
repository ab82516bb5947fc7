"""iot-api-ui's contract: each call its pages make, with its headers and bodies, sent as its
Next.js rewrite forwards them with ``API_URL=<IoT Center>/api/k/<key>``: the key in the path,
no cookie, no CSRF token."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from devices import influx as service
from tests.devices.influx.points import write_lines

JSON = {"content_type": "application/json"}


def ui_plot_query(bucket: str, device_id: str, field: str) -> str:
    """The query iot-api-ui's device page sends per plotted field, spacing and all."""
    return f"""from(bucket: "{bucket}")
         |> range(start: -60d)
         |> filter(fn: (r) => r._measurement == "environment" and r.device == "{device_id}" )
         |> filter(fn: (r) => r._field == "{field}" )
         |> aggregateWindow(every: 1h, fn: mean, createEmpty: false)
         |> yield(name: "mean")
         """


@pytest.fixture
def ui(csrf_client, staff_key):
    """Requests as iot-api-ui's rewrite sends them: under /api/k/<key>/."""

    class Ui:
        base = f"/api/k/{staff_key}"

        def get(self, path):
            return csrf_client.get(self.base + path)

        def post(self, path, body, **headers):
            return csrf_client.post(self.base + path, json.dumps(body), **JSON, headers=headers)

    return Ui()


def test_it_registers_a_device_as_the_register_button_does(ui, influx):
    response = ui.post("/devices", {"deviceId": "ui-1"})
    assert response.status_code == 201
    body = response.json()
    assert body["deviceId"] == "ui-1"
    assert body["token"]  # once, at register, like the token page
    assert body["provisioningUrl"].startswith("http://testserver/api/provision/")
    assert [d.device_id for d in service.list_devices().devices] == ["ui-1"]


def test_registering_twice_answers_409_with_an_error_message(ui, influx):
    ui.post("/devices", {"deviceId": "ui-1"})
    response = ui.post("/devices", {"deviceId": "ui-1"})
    assert response.status_code == 409
    assert "already registered" in response.json()["message"]


def test_the_list_with_and_without_slash_has_real_updated_times(ui, influx):
    ui.post("/devices", {"deviceId": "ui-1"})
    for path in ("/devices", "/devices/"):
        response = ui.get(path)
        assert response.status_code == 200, path
        [item] = response.json()
        assert set(item) >= {"deviceId", "key", "createdAt", "updatedAt"}
        # The UI shows new Date(updatedAt): an ISO time, never "Invalid Date".
        assert datetime.fromisoformat(item["updatedAt"]) <= datetime.now(UTC)


def test_opening_a_device_gives_a_list_and_an_unknown_one_an_empty_list(ui, influx):
    ui.post("/devices", {"deviceId": "ui-1"})
    [device] = ui.get("/devices/ui-1").json()
    assert device["deviceId"] == "ui-1"
    assert "token" not in device
    assert ui.get("/devices/nobody").json() == []


def test_generate_writes_points_now_with_the_devices_own_token(ui, local_influx):
    ui.post("/devices", {"deviceId": "ui-1"})
    response = ui.post("/devices/generate", {"deviceIds": ["ui-1"]})
    assert response.status_code == 200
    [written] = response.json()["devices"]
    assert written["deviceId"] == "ui-1"
    assert written["points"] >= 60  # a minute apart over the last hour
    [device] = ui.get("/devices/ui-1").json()
    fields = {r["field"] for r in device["readings"]}
    assert {"Temperature", "Humidity", "Pressure"} <= fields
    # Again right away: nothing is written twice for the same minute.
    assert ui.post("/devices/generate", {"deviceIds": ["ui-1"]}).json()["devices"][0]["points"] <= 2


def test_generate_writes_with_the_device_token_not_the_operators(ui, influx):
    key = ui.post("/devices", {"deviceId": "ui-1"}).json()["key"]
    influx.client.authorizations_api().delete_authorization(key)  # the device's token revoked
    response = ui.post("/devices/generate", {"deviceIds": ["ui-1"]})
    assert response.status_code == 503
    assert "token of device 'ui-1'" in response.json()["message"]
    assert service.latest_readings("ui-1") == []


def test_generate_for_an_unknown_device_writes_nothing(ui, local_influx):
    ui.post("/devices", {"deviceId": "ui-1"})
    response = ui.post("/devices/generate", {"deviceIds": ["ui-1", "ghost"]})
    assert response.status_code == 404
    assert service.latest_readings("ui-1") == []


def test_the_plots_get_annotated_csv_of_hourly_means(ui, influx):
    ui.post("/devices", {"deviceId": "ui-1"})
    now = datetime.now(UTC).replace(minute=30, second=0, microsecond=0) - timedelta(hours=2)
    lines = [
        f"environment,device=ui-1 Humidity={v} {int((now + timedelta(minutes=m)).timestamp())}"
        for m, v in ((0, 40.0), (10, 50.0))
    ]
    write_lines(influx, lines)
    response = ui.post(
        "/devices/ui-1/measurements",
        {"query": ui_plot_query(influx.bucket, "ui-1", "Humidity")},
        Accept="application/csv",
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = response.content.decode()
    assert text.startswith("#datatype")  # annotated, as Giraffe's fromFlux parses it
    lines = [r for r in csv.reader(io.StringIO(text)) if r]
    default = next(r for r in lines if r[0] == "#default")
    rows = [r for r in lines if not r[0].startswith("#")]
    header, data = rows[0], rows[1:]
    values = [float(r[header.index("_value")]) for r in data]
    assert values == [45.0]
    assert default[header.index("result")] == "mean"
    assert {r[header.index("_field")] for r in data} == {"Humidity"}


TOKEN_LEAK = """from(bucket: "{registry}")
  |> range(start: 0)
  |> filter(fn: (r) => r._measurement == "deviceauth" and r._field == "token")"""


def test_the_token_leak_query_is_refused(ui, local_influx):
    ui.post("/devices", {"deviceId": "ui-1"})
    local_influx.local.stats.wait_idle()
    local_influx.local.stats.reset()
    for query in (
        TOKEN_LEAK.format(registry=local_influx.bucket_auth),
        # The UI's own shape, pointed at the registry bucket, or with a token field
        ui_plot_query(local_influx.bucket_auth, "ui-1", "Humidity"),
        ui_plot_query(local_influx.bucket, "ui-1", "token"),
        # ...or with more Flux smuggled in after it.
        ui_plot_query(local_influx.bucket, "ui-1", "Humidity")
        + TOKEN_LEAK.format(registry=local_influx.bucket_auth),
    ):
        response = ui.post("/devices/ui-1/measurements", {"query": query})
        assert response.status_code == 400, query
        assert response.json()["code"] == "invalid"
        assert response.json()["message"]
    local_influx.local.stats.wait_idle()
    assert not [r for r in local_influx.local.stats.log if r.flux]  # nothing ran


def test_a_plot_query_for_another_device_is_refused(ui, influx):
    ui.post("/devices", {"deviceId": "ui-1"})
    ui.post("/devices", {"deviceId": "ui-2"})
    response = ui.post(
        "/devices/ui-1/measurements", {"query": ui_plot_query(influx.bucket, "ui-2", "Humidity")}
    )
    assert response.status_code == 400
    assert "device named in the URL" in response.json()["message"]


def test_a_wrong_bucket_says_which_to_set(ui, influx):
    ui.post("/devices", {"deviceId": "ui-1"})
    response = ui.post(
        "/devices/ui-1/measurements", {"query": ui_plot_query("iot_center_x", "ui-1", "Humidity")}
    )
    assert response.status_code == 400
    assert f"NEXT_PUBLIC_INFLUX_BUCKET={influx.bucket}" in response.json()["message"]


@pytest.mark.django_db
def test_a_wrong_key_in_the_path_is_401_json(csrf_client, influx):
    response = csrf_client.get("/api/k/iotc_" + "x" * 43 + "/devices")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


def test_a_bucket_the_tutorial_wrote_integers_to_keeps_working(ui, influx):
    """The tutorial's API writes integer fields, IoT Center floats: InfluxDB refuses the second
    type. Reading and plotting go on; generating says clearly why it cannot write."""
    ui.post("/devices", {"deviceId": "ui-1"})
    when = int((datetime.now(UTC) - timedelta(minutes=5)).timestamp())
    write_lines(
        influx, [f"environment,device=ui-1 Temperature=20i,Humidity=40i,Pressure=1000i {when}"]
    )
    response = ui.post("/devices/generate", {"deviceIds": ["ui-1"]})
    assert response.status_code == 409
    message = response.json()["message"]
    assert "Field type conflict" in message
    assert "as integer" in message
    [device] = ui.get("/devices/ui-1").json()
    assert {r["field"]: r["value"] for r in device["readings"]}["Humidity"] == 40
    for field in ("Humidity", "Pressure", "Temperature"):
        query = ui_plot_query(influx.bucket, "ui-1", field)
        response = ui.post("/devices/ui-1/measurements", {"query": query})
        assert response.status_code == 200, field
        assert field in response.content.decode()
