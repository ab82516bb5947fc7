"""Ids whose pages could not be opened are refused; tokens never show up in a repr."""

from __future__ import annotations

import pytest

from devices import ids
from devices import influx as svc
from devices.influx import client, lowlevel

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


def test_the_shared_connection_repr_shows_no_token(influx):
    conn = client.get()
    assert influx.token not in repr(conn)
    assert "token=" not in repr(conn)


def test_credentials_and_registrations_repr_show_no_token(influx):
    creds = svc.register_device("repr-1")
    assert creds.token not in repr(creds)
    reg = lowlevel.registration(client.get(), "repr-1")
    assert reg.token == creds.token
    assert creds.token not in repr(reg)
    with svc.DeviceSession(creds) as session:
        assert creds.token not in repr(session._conn)
