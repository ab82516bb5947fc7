"""Registering stays O(1) requests per device, however many devices exist (issue 7)."""

from __future__ import annotations

import pytest

from devices import influx as svc

from .test_registry_failures import authorization_made_late

pytestmark = pytest.mark.localonly


def requests_of_one_registration(env, device_id: str) -> tuple[int, int]:
    """(requests, authorization listings) the registration of ``device_id`` cost."""
    stats = env.local.stats
    stats.reset()
    svc.register_device(device_id)
    return stats.requests(), stats.requests("/api/v2/authorizations", "GET")


def test_a_registration_costs_the_same_requests_with_10_or_500_devices(local_influx):
    for i in range(10):
        svc.register_device(f"fleet-{i:03d}")
    small, small_listings = requests_of_one_registration(local_influx, "probe-small")
    for i in range(10, 500):
        svc.register_device(f"fleet-{i:03d}")
    large, large_listings = requests_of_one_registration(local_influx, "probe-large")

    assert large == small <= 6
    # No listing of every device's authorization (InfluxDB cannot filter it by device).
    assert small_listings == large_listings == 0
    assert svc.list_devices().total == 502


def test_a_device_left_unsettled_is_checked_once_then_registrations_are_cheap_again(
    local_influx, settings
):
    authorization_made_late(local_influx, settings, svc.register_device, "retry-me")
    # The next change of that device lists its authorizations (one listing) and settles it.
    _, listings = requests_of_one_registration(local_influx, "retry-me")
    assert listings == 1
    svc.remove_device("retry-me")
    local_influx.local.stats.reset()
    svc.register_device("retry-me")
    assert local_influx.local.stats.requests("/api/v2/authorizations", "GET") == 0
