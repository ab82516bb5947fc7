"""Telemetry shared with iot-center-v2, which names a device in tag ``clientId`` (the tutorial
apps and IoT Center use ``device``): our virtual devices write both tags, and every telemetry
read and delete finds a device's points under either tag."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from influxdb_client import Point, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS

from devices import influx as svc

# Telemetry as the tutorial apps write it: the id in ``device``.
from .points import write_telemetry as write_tutorial


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def write_v2(env, device_id, points):
    """Telemetry as iot-center-v2 writes it: the id in ``clientId`` only, written here with
    the operator client. ``points``: [(time, {field: value})]."""
    records = []
    for when, fields in points:
        point = Point("environment").tag("clientId", device_id).tag("CO2Sensor", "virtual_CCS811")
        for name, value in fields.items():
            point = point.field(name, float(value))
        records.append(point.time(when, WritePrecision.S))
    env.client.write_api(write_options=SYNCHRONOUS).write(env.bucket, env.org, records)


def points_tagged(env, tag, device_id) -> int:
    """How many field values the bucket holds under ``tag=<id>``, asked as the operator."""
    query = (
        f'from(bucket: "{env.bucket}") |> range(start: 0) '
        f'|> filter(fn: (r) => r["{tag}"] == "{device_id}") |> count() |> group() |> sum()'
    )
    tables = env.client.query_api().query(query, org=env.org)
    return sum(record.get_value() for table in tables for record in table.records)


# ---- write side -------------------------------------------------------------------------------


def test_the_virtual_device_writes_its_id_in_both_device_tags(influx):
    creds = svc.register_device("sim-1")
    t = now() - timedelta(minutes=5)
    with svc.DeviceSession(creds) as session:
        session.write([(t, {"Temperature": 21.0, "Humidity": 40.0})])
    # What the tutorial apps read (device) and what iot-center-v2 reads (clientId).
    assert points_tagged(influx, "device", "sim-1") == 2
    assert points_tagged(influx, "clientId", "sim-1") == 2
    # One series per field carries both tags: our own reads count each point once.
    stats = {s.field: s.count for s in svc.field_stats("sim-1", range_key="1h")}
    assert stats == {"Humidity": 1, "Temperature": 1}
    with svc.DeviceSession(creds) as session:
        assert session.last_point_time() == t


# ---- read side: a device whose telemetry carries only clientId --------------------------------


def test_the_list_shows_when_a_v2_device_was_last_seen(influx):
    for device_id in ("v2-dev", "tutorial-dev", "silent-dev"):
        svc.register_device(device_id)
    seen = now() - timedelta(minutes=3)
    write_v2(influx, "v2-dev", [(seen - timedelta(hours=1), {"CO2": 700}), (seen, {"CO2": 800})])
    write_tutorial(influx, "tutorial-dev", seen - timedelta(minutes=1), Temperature=20)
    page = svc.list_devices()
    last = {d.device_id: d.last_seen for d in page.devices}
    assert last == {
        "silent-dev": None,
        "tutorial-dev": seen - timedelta(minutes=1),
        "v2-dev": seen,
    }
    assert svc.get_device("v2-dev").last_seen == seen


def test_the_list_page_shows_a_v2_devices_last_seen_time(staff_client, influx):
    svc.register_device("v2-dev")
    write_v2(influx, "v2-dev", [(now() - timedelta(minutes=3), {"Temperature": 20})])
    response = staff_client.get("/devices/")
    [device] = response.context["page"].devices
    assert device.last_seen is not None
    assert "3\xa0minutes ago" in response.content.decode()


def test_the_device_page_shows_a_v2_devices_latest_values_and_stats(staff_client, influx):
    svc.register_device("v2-dev")
    t = now() - timedelta(seconds=20)
    write_v2(
        influx,
        "v2-dev",
        [
            (t - timedelta(minutes=10), {"Temperature": 18.5, "TVOC": 300}),
            (t, {"Temperature": 19.25, "TVOC": 310}),
        ],
    )
    response = staff_client.get("/devices/v2-dev/")
    page = response.content.decode()
    assert response.status_code == 200
    assert "19.25 °C" in page
    assert "just now" in page
    readings = {r.field: r.value for r in response.context["readings"]}
    assert readings == {"TVOC": 310.0, "Temperature": 19.25}
    stats = {s.field: s for s in response.context["stats"]}
    assert (stats["Temperature"].count, stats["Temperature"].min) == (2, 18.5)
    assert (stats["TVOC"].count, stats["TVOC"].max, stats["TVOC"].last_time) == (2, 310.0, t)
    assert response.context["device"].last_seen == t


def test_the_dashboard_draws_a_v2_devices_charts(staff_client, influx):
    svc.register_device("v2-dev")
    end = now()
    write_v2(
        influx,
        "v2-dev",
        [
            (end - timedelta(minutes=m), {"Temperature": 20 + m / 10, "CO2": 800 + m})
            for m in range(0, 60, 2)
        ],
    )
    response = staff_client.get("/devices/v2-dev/dashboard/", {"range": "1h"})
    page = response.content.decode()
    assert response.status_code == 200
    series = {c.field: c.points for c in response.context["charts"]}
    assert list(series) == ["Temperature", "CO2"]
    assert sum(1 for p in series["CO2"] if p.value is not None) >= 29
    assert page.count('class="line"') == 2
    assert page.count('class="gauge"') == 2


def test_a_device_with_points_under_both_tags_has_them_merged(influx):
    # Written by the tutorial apps first, by iot-center-v2 later: one device, one history.
    svc.register_device("moved-dev")
    t = now() - timedelta(hours=2)
    write_tutorial(influx, "moved-dev", t, Temperature=10)
    write_v2(influx, "moved-dev", [(t + timedelta(hours=1), {"Temperature": 30})])
    [stats] = svc.field_stats("moved-dev")
    assert (stats.count, stats.min, stats.max) == (2, 10.0, 30.0)
    assert [r.value for r in svc.latest_readings("moved-dev")] == [30.0]
    series = svc.telemetry_series("moved-dev", range_key="1d")["Temperature"]
    assert [p.value for p in series] == [10.0, 30.0]


def test_other_devices_v2_telemetry_is_not_attributed(influx):
    svc.register_device("mine")
    write_v2(influx, "someone-else", [(now(), {"Temperature": 99})])
    write_v2(influx, "mine-2", [(now(), {"Temperature": 98})])  # a longer id, same prefix
    assert svc.latest_readings("mine") == []
    assert svc.list_devices().devices[0].last_seen is None


# ---- delete ------------------------------------------------------------------------------------


def test_removing_with_telemetry_deletes_it_under_both_tags(staff_client, influx):
    svc.register_device("v2-dev")
    t = now() - timedelta(minutes=1)
    write_v2(influx, "v2-dev", [(t, {"Temperature": 1})])
    write_tutorial(influx, "v2-dev", t - timedelta(minutes=1), Temperature=2)
    write_v2(influx, "kept-dev", [(t, {"Temperature": 3})])
    response = staff_client.post("/devices/v2-dev/remove/", {"delete_telemetry": "on"})
    assert response.status_code == 302
    assert points_tagged(influx, "clientId", "v2-dev") == 0
    assert points_tagged(influx, "device", "v2-dev") == 0
    assert svc.latest_readings("v2-dev") == []
    assert points_tagged(influx, "clientId", "kept-dev") == 1


def test_removing_without_telemetry_keeps_v2_telemetry(influx):
    svc.register_device("v2-dev")
    write_v2(influx, "v2-dev", [(now(), {"Temperature": 1})])
    svc.remove_device("v2-dev")
    assert points_tagged(influx, "clientId", "v2-dev") == 1


@pytest.mark.localonly
def test_both_deletes_come_before_the_registry_changes(local_influx):
    svc.register_device("v2-dev")
    write_v2(local_influx, "v2-dev", [(now(), {"Temperature": 1})])
    local_influx.local.stats.reset()
    svc.remove_device("v2-dev", delete_telemetry=True)
    steps = [
        r.path
        for r in local_influx.local.stats.log
        if r.method in ("POST", "DELETE") and r.path != "/api/v2/query"
    ]
    # device=..., clientId=..., its hourly rollup, then revoke the authorization, then
    # soft-delete the registry.
    assert steps[:5] == [
        "/api/v2/delete",
        "/api/v2/delete",
        "/api/v2/delete",
        steps[3],
        "/api/v2/write",
    ]
    assert steps[3].startswith("/api/v2/authorizations/")


@pytest.mark.localonly
def test_a_failed_clientid_delete_keeps_the_device_so_removal_can_be_retried(local_influx):
    creds = svc.register_device("v2-dev")
    write_v2(local_influx, "v2-dev", [(now(), {"Temperature": 1})])
    write_tutorial(local_influx, "v2-dev", now() - timedelta(minutes=1), Temperature=2)
    faults = local_influx.local.faults
    faults.add(path="/api/v2/delete", count=1)  # the device=... delete goes through
    faults.add(status=500, count=1, path="/api/v2/delete")  # the clientId=... one fails
    with pytest.raises(svc.InfluxUnavailable, match="delete the telemetry"):
        svc.remove_device("v2-dev", delete_telemetry=True)
    assert svc.get_device("v2-dev").key == creds.key  # still listed, token still valid
    assert points_tagged(local_influx, "device", "v2-dev") == 0
    assert points_tagged(local_influx, "clientId", "v2-dev") == 1

    svc.remove_device("v2-dev", delete_telemetry=True)
    assert points_tagged(local_influx, "clientId", "v2-dev") == 0
    assert svc.list_devices().total == 0


# ---- iot-center-v2 boards: ``device`` names the board type, ``clientId`` the device -----------


def write_v2_board(env, client_id, board, when, **fields):
    """An iot-center-v2 client's point: ``clientId=<its id>``, ``device=<board type>``."""
    point = Point("environment").tag("clientId", client_id).tag("device", board).time(when, "s")
    for name, value in fields.items():
        point = point.field(name, float(value))
    env.client.write_api(write_options=SYNCHRONOUS).write(env.bucket, env.org, point)


def test_a_board_type_in_the_device_tag_is_not_mistaken_for_a_device_named_like_it(influx):
    svc.register_device("dart")
    svc.register_device("phone-1")
    t = now() - timedelta(minutes=2)
    write_v2_board(influx, "phone-1", "dart", t, Temperature=21.5)

    assert svc.device_view("dart").readings == []
    assert svc.device_view("dart", stats=True).stats == []
    assert svc.device_view("dart", series=True).series == {}
    phone = svc.device_view("phone-1")
    assert [(r.field, r.value) for r in phone.readings] == [("Temperature", 21.5)]
    seen = {d.device_id: d.last_seen for d in svc.list_devices().devices}
    assert seen["dart"] is None
    assert seen["phone-1"] == t


def test_removing_a_device_named_like_a_board_keeps_the_boards_telemetry(influx, staff_client):
    svc.register_device("dart")
    svc.register_device("phone-1")
    t = now() - timedelta(minutes=2)
    write_v2_board(influx, "phone-1", "dart", t, Temperature=21.5)
    write_v2(influx, "dart", [(t, {"Temperature": 18.0})])  # dart's own, as iot-center-v2

    response = staff_client.post("/devices/dart/remove/", {"delete_telemetry": "on"}, follow=True)

    assert response.status_code == 200
    assert points_tagged(influx, "clientId", "phone-1") == 1  # the other device's data is kept
    assert points_tagged(influx, "clientId", "dart") == 0  # dart's own is gone
    message = " ".join(str(m) for m in response.context["messages"])
    assert "were kept" in message
