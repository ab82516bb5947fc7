"""INFLUX_TIMEOUT bounds a whole page, however many reads it makes; changes are never cut short.

The one place the suite measures time: answering within the timeout is the promise made to users
and load balancers. Margins are generous (timeout 2 s, answer within 3.5 s), while a page that
waited for each of its reads in turn would take 3.8 s or more here.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest

from devices import influx as svc
from devices.influx import client, deadline

from .points import write_telemetry

pytestmark = pytest.mark.localonly

PAGES = [
    "/devices/",
    "/devices/slow-1/",
    "/devices/slow-1/dashboard/",
    "/api/devices",
    "/api/devices/slow-1",
    "/healthz",
]


def test_every_page_answers_within_influx_timeout_when_each_request_is_slow(
    staff_client, local_influx, settings
):
    svc.register_device("slow-1")
    write_telemetry(local_influx, "slow-1", datetime.now(UTC), Temperature=20.0)
    settings.INFLUX_TIMEOUT = "2"
    # Every request answers just under the timeout: each alone would be fine.
    local_influx.local.faults.add(delay=1.9, duration=60)
    for url in PAGES:
        started = time.monotonic()
        response = staff_client.get(url)
        elapsed = time.monotonic() - started
        assert response.status_code in (200, 503), url
        assert elapsed < 3.5, f"{url} took {elapsed:.1f} s"
        if response.status_code == 503:
            assert f"InfluxDB unavailable at {local_influx.url}" in response.content.decode()
    local_influx.local.faults.clear()


def test_a_device_page_needs_one_request(staff_client, local_influx):
    svc.register_device("one-trip")
    for url in ("/devices/one-trip/", "/devices/one-trip/dashboard/", "/api/devices/one-trip"):
        local_influx.local.stats.reset()
        assert staff_client.get(url).status_code == 200
        assert local_influx.local.stats.requests() == 1, url


def test_the_detail_page_reads_registry_readings_and_statistics_together(
    staff_client, local_influx
):
    svc.register_device("combo-1")
    write_telemetry(local_influx, "combo-1", datetime.now(UTC), Temperature=20.5)
    view = svc.device_view("combo-1", stats=True, series=True)
    assert view.device.key == svc.get_device("combo-1").key
    assert view.device.last_seen == svc.get_device("combo-1").last_seen
    assert [r.value for r in view.readings] == [20.5]
    assert [(s.field, s.count) for s in view.stats] == [("Temperature", 1)]
    assert list(view.series) == ["Temperature"]
    svc.remove_device("combo-1")
    with pytest.raises(svc.DeviceNotFound):
        svc.device_view("combo-1")


def test_a_registration_is_not_cut_short_by_the_page_deadline(staff_client, local_influx, settings):
    settings.INFLUX_TIMEOUT = "4"
    # Creating the token and writing the registry take 5 s together: over the page's budget,
    # but each request is within its own timeout (with 1.5 s to spare on a busy machine), and a
    # change must not stop half-way.
    local_influx.local.faults.add(delay=2.5, count=1, path="/api/v2/authorizations", method="POST")
    local_influx.local.faults.add(delay=2.5, count=1, path="/api/v2/write")
    response = staff_client.post("/devices/register/", {"device_id": "patient-1"})
    assert response.status_code == 302
    key = svc.get_device("patient-1").key
    auths = local_influx.client.authorizations_api().find_authorizations(org_id=local_influx.org_id)
    assert [a.id for a in auths if a.description == "IoTCenterDevice: patient-1"] == [key]


def test_pages_answer_at_once_when_influxdb_is_back_after_an_outage_left_reads_hanging(
    staff_client, local_influx, settings
):
    svc.register_device("back-1")
    settings.INFLUX_TIMEOUT = "3"
    # An outage: the next 20 queries hang past the timeout, more than the 16 reads the pool
    # used to hold. Their pages give up after 3 s; each read ends only by its own timeout.
    hang = local_influx.local.faults.add(delay=4, count=20, path="/api/v2/query")
    failed: list[Exception] = []

    def abandoned_page():
        with svc.page_deadline():
            try:
                svc.get_device("back-1")
            except svc.InfluxUnavailable as exc:
                failed.append(exc)

    pages = [threading.Thread(target=abandoned_page) for _ in range(20)]
    for page in pages:
        page.start()
    while hang.count > 4:  # 16 reads hang at the server: as many as the pool used to hold
        time.sleep(0.02)
    local_influx.local.faults.clear()  # InfluxDB is back
    started = time.monotonic()
    response = staff_client.get("/devices/back-1/")
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert elapsed < 1.0, f"the page waited {elapsed:.1f} s for reads abandoned earlier"
    for page in pages:
        page.join()
    assert len(failed) >= 16  # the pages whose reads hung answered "unavailable" in time


def test_the_page_deadline_is_seen_inside_the_read_pool(influx):
    conn = client.get()
    with svc.page_deadline():
        outside = deadline.seconds_left()
        inside = deadline.bounded(conn, "look at the deadline", deadline.seconds_left)
    assert inside is not None
    assert 0 < inside <= outside
    assert deadline.seconds_left() is None  # the page is over


def test_reads_past_the_pool_limit_are_refused_at_once_and_the_pool_recovers():
    pool = deadline.ReadPool(limit=2, idle_s=0.2)
    release = threading.Event()
    stuck = [pool.submit(release.wait) for _ in range(2)]
    assert pool.busy() == 2
    assert pool.submit(lambda: "third") is None  # no queueing behind stuck reads
    release.set()
    assert [f.result(timeout=2) for f in stuck] == [True, True]
    assert pool.submit(lambda: "again").result(timeout=2) == "again"
    time.sleep(0.5)  # idle workers end
    assert pool.busy() == 0
