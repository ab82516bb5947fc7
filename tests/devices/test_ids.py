"""What a device id may be (``devices.ids``), and that a bad one stops before any request."""

from __future__ import annotations

import pytest

from devices import ids
from devices import influx as svc

INJECTION = 'x" or r._field == "token" or "" == "'


@pytest.mark.parametrize(
    "device_id",
    ["dev-1", "a", "virtual_device.01", "00:1B:44:11:3A:B7", "x" * 64, "550e8400-e29b-41d4"],
)
def test_it_accepts_ids_within_the_rules(device_id):
    assert ids.is_valid_device_id(device_id)
    assert ids.validate_device_id(device_id) == device_id


@pytest.mark.parametrize(
    "device_id",
    ["", "x" * 65, "with space", 'quo"te', "back\\slash", "${x}", "é", "a\nb", INJECTION, None],
)
def test_it_rejects_ids_outside_the_rules(device_id):
    assert not ids.is_valid_device_id(device_id)
    with pytest.raises(ValueError, match="letters, digits"):
        ids.validate_device_id(device_id)


RESERVED = ["register", ".", ".."]


@pytest.mark.parametrize("device_id", RESERVED)
def test_reserved_ids_are_not_valid(device_id):
    assert not ids.is_valid_device_id(device_id)
    with pytest.raises(ValueError, match="reserved"):
        ids.validate_device_id(device_id)


def test_ids_that_merely_contain_a_reserved_word_stay_valid():
    for device_id in ("register-1", "my.register", "...", ".a", "Register"):
        assert ids.validate_device_id(device_id) == device_id


@pytest.mark.localonly
@pytest.mark.parametrize("device_id", RESERVED)
def test_reserved_ids_are_refused_before_any_request(local_influx, device_id):
    local_influx.local.stats.reset()
    with pytest.raises(svc.InvalidDeviceId, match="reserved"):
        svc.register_device(device_id)
    assert local_influx.local.stats.requests() == 0


@pytest.mark.parametrize("device_id", RESERVED)
def test_the_register_page_explains_that_an_id_is_reserved(staff_client, influx, device_id):
    response = staff_client.post("/devices/register/", {"device_id": device_id})
    assert response.status_code == 200
    assert "reserved" in response.context["form"].errors["device_id"][0]
    assert svc.list_devices().total == 0
