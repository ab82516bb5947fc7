"""The JSON API's device reads: reference shapes, login or key required, never a token."""

from datetime import UTC, datetime, timedelta

import pytest

from devices import influx as service
from tests.devices.influx.points import write_lines


def register(staff_client, device_id):
    response = staff_client.post("/devices/register/", {"device_id": device_id}, follow=True)
    assert response.status_code == 200
    return response.context["creds"]


def test_it_lists_devices_in_the_reference_shape(staff_client, influx):
    tokens = [register(staff_client, d).token for d in ("api-2", "api-1")]
    when = datetime.now(UTC) - timedelta(minutes=1)
    write_lines(influx, [f"environment,device=api-1 Temperature=20.5 {int(when.timestamp())}"])
    response = staff_client.get("/api/devices")
    assert response.status_code == 200
    body = response.json()
    assert [d["deviceId"] for d in body] == ["api-1", "api-2"]
    assert set(body[0]) == {"deviceId", "key", "createdAt", "updatedAt", "lastSeen"}
    assert body[0]["lastSeen"].endswith("Z")
    assert body[1]["lastSeen"] is None
    assert body[0]["createdAt"] is not None
    # iot-api-ui shows "Updated: <updatedAt>": the newer of registration and last telemetry.
    first = body[0]
    newest = max(first["lastSeen"], first["createdAt"], key=datetime.fromisoformat)
    assert first["updatedAt"] == newest
    assert body[1]["updatedAt"] == body[1]["createdAt"]
    assert response["X-Total-Count"] == "2"
    for token in tokens:
        assert token not in response.content.decode()


def test_it_filters_the_api_list_by_id(staff_client, influx):
    register(staff_client, "north-1")
    register(staff_client, "south-1")
    body = staff_client.get("/api/devices", {"q": "south"}).json()
    assert [d["deviceId"] for d in body] == ["south-1"]


def test_it_returns_one_device_with_latest_readings(staff_client, influx):
    creds = register(staff_client, "api-3")
    when = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)
    write_lines(
        influx, [f"environment,device=api-3 Temperature=22.5,Humidity=40 {int(when.timestamp())}"]
    )
    response = staff_client.get("/api/devices/api-3")
    assert response.status_code == 200
    # A list of one, as the reference API answers (iot-api-ui shows nothing otherwise).
    [body] = response.json()
    assert body["deviceId"] == "api-3"
    assert body["key"] == creds.key
    readings = {r["field"]: r for r in body["readings"]}
    assert readings["Temperature"]["value"] == 22.5
    assert readings["Humidity"]["value"] == 40
    assert readings["Temperature"]["time"] == when.isoformat().replace("+00:00", "Z")
    assert creds.token not in response.content.decode()


def test_it_answers_an_empty_list_for_an_unknown_device(user_client, influx):
    response = user_client.get("/api/devices/ghost")
    assert response.status_code == 200
    assert response.json() == []


@pytest.mark.parametrize("device_id", ['x"%20or%20"1"=="1', "%24%7Bx%7D"])
def test_it_answers_404_json_for_invalid_ids(user_client, influx, device_id):
    response = user_client.get(f"/api/devices/{device_id}")
    assert response.status_code == 404
    assert response.json()["code"] == "not found"


def test_plain_users_may_read_the_api(user_client, influx):
    service.register_device("seen-by-all")
    assert [d["deviceId"] for d in user_client.get("/api/devices").json()] == ["seen-by-all"]


def test_devices_are_not_changed_by_put_or_delete(staff_client):
    assert staff_client.put("/api/devices", {"deviceId": "x"}).status_code == 405
    assert staff_client.delete("/api/devices/x").status_code == 405


def test_it_answers_400_json_to_a_page_that_is_not_a_number(staff_client):
    response = staff_client.get("/api/devices", {"page": "two"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
