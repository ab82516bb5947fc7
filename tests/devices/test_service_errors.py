"""InfluxDB trouble becomes InfluxUnavailable / InfluxMisconfigured, with no token in sight."""

import os
import time

import pytest

from devices import influx as svc
from devices.influx import client


def test_a_server_that_is_down_is_unavailable_not_a_traceback(offline_influx, settings):
    with pytest.raises(svc.InfluxUnavailable) as err:
        svc.list_devices()
    assert err.value.url == offline_influx
    assert "connection refused" in err.value.reason
    assert settings.INFLUX_TOKEN not in str(err.value)
    status = svc.health()
    assert status["status"] == "fail"
    assert status["url"] == offline_influx


def test_health_passes_when_everything_is_in_place(influx):
    assert svc.health() == {
        "status": "pass",
        "url": influx.url,
        "message": "ready for queries and writes",
    }


def test_a_wrong_token_says_what_to_fix_and_hides_the_token(influx, settings):
    settings.INFLUX_TOKEN = "wrong-token-0123456789"
    with pytest.raises(svc.InfluxMisconfigured) as err:
        svc.list_devices()
    assert "INFLUX_TOKEN" in str(err.value)
    assert "wrong-token-0123456789" not in str(err.value)
    assert svc.health()["status"] == "fail"


def test_a_missing_bucket_says_to_run_influx_setup(influx, settings):
    settings.INFLUX_BUCKET_AUTH = "no_such_bucket"
    with pytest.raises(svc.InfluxMisconfigured, match="influx_setup"):
        svc.list_devices()


def test_a_missing_org_says_to_set_influx_org(influx, settings):
    settings.INFLUX_ORG = "no-such-org"
    with pytest.raises(svc.InfluxMisconfigured, match="INFLUX_ORG"):
        svc.register_device("dev-1")


def test_settings_changes_rebuild_the_client(influx, settings):
    assert svc.list_devices().total == 0
    settings.INFLUX_URL = "http://127.0.0.1:9"  # discard port: nothing answers
    with pytest.raises(svc.InfluxUnavailable):
        svc.list_devices()


@pytest.mark.localonly
def test_a_server_slower_than_the_timeout_is_unavailable(local_influx, settings):
    settings.INFLUX_TIMEOUT = "0.5"
    local_influx.local.faults.add(delay=1, count=1, path="/api/v2/query")
    with pytest.raises(svc.InfluxUnavailable, match="no answer within INFLUX_TIMEOUT"):
        svc.list_devices()
    # Let the server finish the delayed request, so it can't land in the next test's counters.
    # One request only: the timed-out read was not sent again (a page waits one timeout).
    deadline = time.monotonic() + 10
    while local_influx.local.stats.requests(path="/api/v2/query") < 1:
        assert time.monotonic() < deadline, "the delayed query never completed"
        time.sleep(0.05)
    assert local_influx.local.stats.requests(path="/api/v2/query") == 1


@pytest.mark.localonly
def test_a_dropped_connection_is_unavailable(local_influx):
    local_influx.local.faults.add(drop=True, count=1, path="/api/v2/query")
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


def test_query_errors_never_carry_the_token(influx, settings):
    # The device's own token may write but not read the registry: a 404 from InfluxDB.
    creds = svc.register_device("dev-1")
    settings.INFLUX_TOKEN = creds.token
    with pytest.raises(svc.InfluxMisconfigured) as err:
        svc.list_devices()
    assert creds.token not in str(err.value)
    assert "INFLUX_BUCKET_AUTH" in str(err.value)


def test_a_registration_is_stored_when_register_returns(influx):
    # Synchronous writes: no batch left in a buffer that could be lost.
    svc.register_device("dev-1")
    rows = influx.client.query_api().query(
        f'from(bucket: "{influx.bucket_auth}") |> range(start: 0)', org=influx.org
    )
    assert {r.get_field() for t in rows for r in t.records} == {"key", "token", "createdAt"}


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


def test_health_notices_a_bucket_deleted_after_startup(influx, settings):
    settings.INFLUX_BUCKET = f"{influx.bucket}_gone"
    buckets = influx.client.buckets_api()
    doomed = buckets.create_bucket(bucket_name=settings.INFLUX_BUCKET, org=influx.org)
    assert svc.health()["status"] == "pass"
    buckets.delete_bucket(doomed)
    status = svc.health()
    assert status["status"] == "fail"
    assert "influx_setup" in status["message"]
