"""When InfluxDB is down, slow or misconfigured, pages say so clearly (503), never a traceback."""

import time

import pytest

PAGES = ["/devices/", "/devices/dev-1/", "/devices/dev-1/dashboard/", "/devices/dev-1/remove/"]


@pytest.mark.parametrize("url", PAGES)
def test_it_answers_503_naming_the_url_when_influxdb_is_stopped(staff_client, offline_influx, url):
    response = staff_client.get(url)
    assert response.status_code == 503
    assert f"InfluxDB unavailable at {offline_influx}" in response.content.decode()
    assert response["Content-Type"].startswith("text/html")
    assert response["Retry-After"]


def test_it_answers_503_to_a_registration_when_influxdb_is_stopped(staff_client, offline_influx):
    response = staff_client.post("/devices/register/", {"device_id": "dev-1"})
    assert response.status_code == 503
    assert f"InfluxDB unavailable at {offline_influx}" in response.content.decode()


def test_it_answers_503_json_from_the_api_when_influxdb_is_stopped(staff_client, offline_influx):
    for url in ("/api/devices", "/api/devices/dev-1"):
        response = staff_client.get(url)
        assert response.status_code == 503
        assert response.json() == {
            "code": "unavailable",
            "message": f"InfluxDB unavailable at {offline_influx}",
        }


@pytest.mark.django_db  # every request sweeps unclaimed device tokens
def test_healthz_reports_a_stopped_influxdb_without_login(client, offline_influx):
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["app"] == "pass"
    assert body["influxdb"]["status"] == "fail"
    # Load balancers need the statuses only; where InfluxDB lives is not for anyone who asks.
    assert "url" not in body["influxdb"]
    assert offline_influx not in response.content.decode()
    assert "offline-token" not in response.content.decode()


@pytest.mark.django_db
def test_healthz_tells_logged_in_users_where_influxdb_is(user_client, offline_influx):
    body = user_client.get("/healthz").json()
    assert body["influxdb"]["url"] == offline_influx
    assert body["influxdb"]["message"]


@pytest.mark.django_db  # every request sweeps unclaimed device tokens
def test_healthz_passes_when_influxdb_is_ready(client, influx):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "pass"
    assert body["influxdb"]["status"] == "pass"
    assert influx.token not in response.content.decode()


@pytest.mark.localonly
def test_it_answers_503_when_influxdb_is_too_slow(staff_client, local_influx, settings):
    settings.INFLUX_TIMEOUT = "1"
    stats = local_influx.local.stats
    local_influx.local.faults.add(delay=3, count=1)
    response = staff_client.get("/devices/")
    assert response.status_code == 503
    assert f"InfluxDB unavailable at {local_influx.url}" in response.content.decode()
    # The server is still sleeping on that request; let it finish inside this test, or it
    # would be counted by a later test's request counters (and hit this test's deleted buckets).
    for _ in range(100):
        if stats.requests("/api/v2/query"):
            break
        time.sleep(0.05)


@pytest.mark.localonly
def test_it_answers_503_when_influxdb_drops_connections(staff_client, local_influx):
    local_influx.local.faults.add(drop=True, count=10)
    response = staff_client.get("/devices/")
    assert response.status_code == 503
    assert "InfluxDB unavailable at" in response.content.decode()


@pytest.mark.localonly
def test_it_answers_503_when_influxdb_keeps_asking_to_retry_later(staff_client, local_influx):
    local_influx.local.faults.add(status=503, retry_after=60, count=10, path="/api/v2/query")
    response = staff_client.get("/devices/")
    assert response.status_code == 503
    assert "InfluxDB unavailable at" in response.content.decode()


@pytest.mark.localonly
def test_the_page_recovers_once_influxdb_answers_again(staff_client, local_influx):
    local_influx.local.faults.add(drop=True, count=10)
    assert staff_client.get("/devices/").status_code == 503
    local_influx.local.faults.clear()
    assert staff_client.get("/devices/").status_code == 200


def test_it_says_what_to_fix_when_a_bucket_is_missing(staff_client, influx, settings):
    settings.INFLUX_BUCKET_AUTH = "no_such_registry"
    response = staff_client.get("/devices/")
    assert response.status_code == 503
    assert "no_such_registry" in response.content.decode()


def test_it_says_what_to_fix_when_the_token_is_rejected(staff_client, influx, settings):
    settings.INFLUX_TOKEN = "not-a-valid-token"
    response = staff_client.get("/devices/")
    assert response.status_code == 503
    page = response.content.decode()
    assert "Service unavailable" in page
    assert "refused INFLUX_TOKEN" in page  # says which setting to fix...
    assert "not-a-valid-token" not in page  # ...without showing it


@pytest.mark.django_db  # every request sweeps unclaimed device tokens
def test_healthz_answers_head_requests_for_load_balancers(client, influx):
    response = client.head("/healthz")
    assert response.status_code == 200
