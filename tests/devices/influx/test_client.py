"""The shared client: built from settings, per process, its retry policies, no token in repr."""

from __future__ import annotations

import os
import time

import pytest

from devices import influx as svc
from devices.influx import client, lowlevel


def test_settings_changes_rebuild_the_client(influx, settings):
    assert svc.list_devices().total == 0
    settings.INFLUX_URL = "http://127.0.0.1:9"  # discard port: nothing answers
    with pytest.raises(svc.InfluxUnavailable):
        svc.list_devices()


@pytest.mark.localonly
def test_rate_limited_writes_are_retried_after_the_wait_asked_for(local_influx):
    local_influx.local.faults.add(status=429, retry_after=1, count=1, path="/api/v2/write")
    creds = svc.register_device("dev-1")
    # One refusal, then the registry write that counts: nothing lost.
    assert local_influx.local.stats.requests(path="/api/v2/write") == 2
    assert svc.get_device("dev-1").key == creds.key


@pytest.mark.localonly
def test_unavailable_queries_are_retried(local_influx):
    local_influx.local.faults.add(status=503, retry_after=1, count=1, path="/api/v2/query")
    assert svc.list_devices().total == 0
    assert local_influx.local.stats.queries == 2


@pytest.mark.localonly
def test_a_long_retry_after_fails_fast_instead_of_holding_the_page(local_influx):
    local_influx.local.faults.add(status=429, retry_after=120, count=1, path="/api/v2/query")
    with pytest.raises(svc.InfluxUnavailable, match="429") as err:
        svc.list_devices()
    assert "retry after 120" in str(err.value)
    assert local_influx.local.stats.queries == 1


@pytest.mark.localonly
def test_rate_limits_that_outlast_the_wait_budget_lose_no_registration(local_influx, settings):
    # A page sleeps at most half of INFLUX_TIMEOUT (here 1 s) between retries in all.
    settings.INFLUX_TIMEOUT = "2"
    local_influx.local.faults.add(status=503, retry_after=1, count=3, path="/api/v2/write")
    with pytest.raises(svc.InfluxUnavailable, match="503"):
        svc.register_device("dev-1")
    assert local_influx.local.stats.requests(path="/api/v2/write") == 2
    # The caller was told; no half-registered device or orphan token remains.
    auths = local_influx.client.authorizations_api().find_authorizations(org_id=local_influx.org_id)
    assert not [a for a in auths if a.description == "IoTCenterDevice: dev-1"]


def test_a_forked_worker_builds_its_own_client(influx):
    # gunicorn forks workers after the app is loaded: a client inherited from the parent
    # must not be shared (its pooled sockets belong to the parent).
    svc.register_device("dev-1")
    parent_client = client.get().client
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report what it sees, then leave without running pytest's teardown
        try:
            rebuilt = client.get().client is not parent_client
            total = svc.list_devices().total
            os.write(write_end, f"{rebuilt} {total}".encode())
        finally:
            os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    with os.fdopen(read_end) as pipe:
        assert pipe.read() == "True 1"
    # The parent's client was left open and still works.
    assert client.get().client is parent_client
    assert svc.list_devices().total == 1


def test_missing_settings_say_what_to_set(settings):
    settings.INFLUX_URL = ""
    with pytest.raises(svc.InfluxMisconfigured, match="INFLUX_URL is not set"):
        svc.list_devices()
    assert svc.health()["status"] == "fail"


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


@pytest.mark.localonly
def test_commands_wait_out_an_outage_that_a_page_gives_up_on(local_influx):
    # Longer than the page's patience however slow the machine (with 3 s, a page whose last
    # try came a second late found it over); cleared once the page has given up.
    local_influx.local.faults.add(status=503, retry_after=1, duration=30)
    with pytest.raises(svc.InfluxUnavailable, match="503"):
        svc.list_devices()  # a page sleeps at most half of INFLUX_TIMEOUT in all
    local_influx.local.faults.clear()
    local_influx.local.faults.add(status=503, retry_after=1, duration=3)
    with client.patient_requests(budget_s=10):
        assert svc.list_devices().total == 0  # registry reads of a command are patient
    # Afterwards the shared connection is a page's again.
    local_influx.local.faults.add(status=503, retry_after=1, count=3)
    with pytest.raises(svc.InfluxUnavailable, match="503"):
        svc.list_devices()


@pytest.mark.localonly
def test_the_retry_budget_bounds_backoff_waits_too(local_influx):
    # 503 without Retry-After: exponential backoff, which must not outgrow the budget either.
    local_influx.local.faults.add(status=503, duration=60)
    started = time.monotonic()
    with client.patient_requests(budget_s=1.5), pytest.raises(svc.InfluxUnavailable, match="503"):
        svc.list_devices()
    assert time.monotonic() - started < 5
    local_influx.local.faults.clear()
