"""The device list's live refresh: ``/devices/last-telemetry?d=...`` gives the last telemetry
and freshness label of a page's devices in one query, whatever the fleet size."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client

from devices import influx as svc
from devices import pages
from tests.devices.influx.points import write_lines
from tests.devices.test_views_overview import now, point, register

URL = "/devices/last-telemetry"


def test_it_gives_each_devices_last_telemetry_and_freshness(staff_client, influx):
    register(influx, ["live-1", "old-1", "never-1"])
    last = now() - timedelta(minutes=90)  # one clock reading: the write and the check agree
    old = f"environment,device=old-1 CO2=1 {int(last.timestamp())}"
    write_lines(influx, [point("live-1", 0.5, Temperature=1), old])
    response = staff_client.get(URL, {"d": ["live-1", "old-1", "never-1", "not registered!"]})
    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"]
    devices = response.json()["devices"]
    assert devices["live-1"]["freshness"] == "just now"
    assert devices["live-1"]["class"] == "fresh"
    assert devices["old-1"]["freshness"] == "long time ago"
    assert devices["old-1"]["ago"] == "1\xa0hour ago"  # as the page prints it
    assert devices["never-1"] == {
        "last_seen": None,
        "utc": "",
        "ago": "never",
        "freshness": "no data",
        "class": "stale",
    }
    assert devices["not registered!"]["last_seen"] is None  # an id no query can take
    assert devices["old-1"]["last_seen"] == last.isoformat()


def test_it_needs_a_login_and_one_to_a_page_of_ids(staff_client, influx):
    assert Client().get(URL, {"d": "x"}).status_code == 302
    assert staff_client.get(URL).status_code == 400
    too_many = [f"d-{i}" for i in range(pages.PER_PAGE + 1)]
    assert staff_client.get(URL, {"d": too_many}).status_code == 400


@pytest.mark.localonly
def test_a_page_of_devices_costs_one_query_with_10_or_1000_registered(staff_client, local_influx):
    stats = local_influx.local.stats
    register(local_influx, [f"dev-{i:04d}" for i in range(10)])
    page = [f"dev-{i:04d}" for i in range(pages.PER_PAGE)]

    def cost():
        stats.wait_idle()
        stats.reset()
        assert staff_client.get(URL, {"d": page}).status_code == 200
        stats.wait_idle()
        return stats.queries, stats.rows_returned

    small = cost()
    ids = [f"dev-{i:04d}" for i in range(1000)]
    register(local_influx, ids)
    write_lines(local_influx, [point(d, 1, Temperature=2) for d in ids])
    large = cost()
    # Per registered device of the page: its registry entry (key, createdAt), then one row
    # of telemetry when it has any.
    assert small == (1, 2 * 10)
    assert large == (1, 3 * pages.PER_PAGE)


def test_the_list_page_carries_what_the_script_needs(staff_client, influx):
    register(influx, ["dev-1"])
    page = staff_client.get("/devices/").content.decode()
    assert 'data-live-url="/devices/last-telemetry"' in page
    assert '<tr data-device="dev-1">' in page
    assert 'src="/static/js/devicelist.js"' in page or "devicelist" in page
    assert '<span class="freshness stale">no data</span>' in page


def test_only_registered_devices_get_a_time_so_it_tells_no_more_than_the_list(staff_client, influx):
    """Any id may be asked for: one the list does not show (never registered, or removed, its
    telemetry kept) gets the answer of a device never seen, not when it last wrote."""
    register(influx, ["shown-1"])
    svc.register_device("gone-1")
    write_lines(
        influx, [point(d, 1, Temperature=1) for d in ("shown-1", "gone-1", "unregistered-1")]
    )
    svc.remove_device("gone-1")
    asked = ["shown-1", "gone-1", "unregistered-1"]
    devices = staff_client.get(URL, {"d": asked}).json()["devices"]
    assert devices["shown-1"]["freshness"] == "<5 min"
    assert (
        devices["gone-1"]
        == devices["unregistered-1"]
        == {
            "last_seen": None,
            "utc": "",
            "ago": "never",
            "freshness": "no data",
            "class": "stale",
        }
    )


def test_a_devices_age_and_freshness_come_from_one_reading_of_the_clock(
    staff_client, influx, monkeypatch
):
    """Wherever the 1-minute threshold falls among the answer's readings of the clock, "ago"
    and the freshness label say the same ("(just now)" is never beside "<5 min")."""
    from devices.templatetags import iot
    from tests.devices.test_views_charts import SteppingClock

    register(influx, ["edge-1"])
    at = now() - timedelta(seconds=30)
    write_lines(influx, [f"environment,device=edge-1 CO2=1 {int(at.timestamp())}"])
    for before in range(4):
        monkeypatch.setattr(iot, "_now", SteppingClock(at, before, timedelta(minutes=1)))
        device = staff_client.get(URL, {"d": "edge-1"}).json()["devices"]["edge-1"]
        assert (device["ago"] == "just now") == (device["freshness"] == "just now"), device
