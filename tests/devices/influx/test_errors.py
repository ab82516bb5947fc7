"""InfluxDB trouble becomes InfluxUnavailable / InfluxMisconfigured, with no token in sight."""

import time

import pytest

from devices import influx as svc


def test_a_server_that_is_down_is_unavailable_not_a_traceback(offline_influx, settings):
    with pytest.raises(svc.InfluxUnavailable) as err:
        svc.list_devices()
    assert err.value.url == offline_influx
    assert "connection refused" in err.value.reason
    assert settings.INFLUX_TOKEN not in str(err.value)
    status = svc.health()
    assert status["status"] == "fail"
    assert status["url"] == offline_influx


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
