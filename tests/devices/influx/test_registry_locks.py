"""The device change lock: bounded waits, a clear error, and a dead holder's lock expiring."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from devices import influx as svc
from devices.influx import locks
from devices.models import DeviceLock


def test_a_change_that_cannot_get_the_lock_in_time_says_another_change_is_in_progress(
    influx, monkeypatch
):
    monkeypatch.setattr(locks, "WAIT_S", 0.5)
    held = locks.acquire("busy-1")  # another worker in the middle of a change of busy-1
    started = time.monotonic()
    with pytest.raises(svc.DeviceBusy, match="another change to device 'busy-1' is in progress"):
        svc.register_device("busy-1")
    assert time.monotonic() - started < 2
    assert svc.list_devices().total == 0  # nothing was changed
    locks.release(held)
    assert svc.register_device("busy-1").device_id == "busy-1"


def test_the_lock_of_a_process_that_died_holding_it_expires(influx):
    locks.acquire("dead-1")  # never released: the worker was killed
    DeviceLock.objects.filter(device_id="dead-1").update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert svc.register_device("dead-1").device_id == "dead-1"


def test_ids_longer_than_the_lock_column_get_a_digest_key():
    long_id = "x" * 500
    key = locks.lock_key(long_id)
    assert len(key) <= 128
    assert key != locks.lock_key("y" * 500)
    assert locks.lock_key("dev-1") == "dev-1"


def test_the_register_page_says_the_device_is_busy_while_another_change_holds_it(
    staff_client, influx, monkeypatch
):
    monkeypatch.setattr(locks, "WAIT_S", 0.3)
    held = locks.acquire("busy-2")
    response = staff_client.post("/devices/register/", {"device_id": "busy-2"})
    # A conflict in words, not "InfluxDB unavailable": InfluxDB is fine, the device is busy.
    assert response.status_code == 409
    page = response.content.decode()
    assert "another change to device" in page
    assert "busy-2" in page
    assert "InfluxDB unavailable" not in page
    locks.release(held)
    assert svc.list_devices().total == 0


def test_a_double_submitted_registration_shows_already_registered_the_second_time(
    staff_client, influx
):
    first = staff_client.post("/devices/register/", {"device_id": "twice"})
    second = staff_client.post("/devices/register/", {"device_id": "twice"})
    assert first.status_code == 302
    assert "already registered" in second.content.decode()
