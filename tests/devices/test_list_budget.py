"""What one device-list page costs InfluxDB, counted on the local server: queries and rows.

The list must stay fast at 10,000 devices, so its cost may grow with the number of devices
only by one small row each (the id), never with the number of points, and the number of
queries must not grow at all.
"""

from datetime import UTC, datetime, timedelta

import pytest
from influxdb_client import Point, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS

from devices import influx as svc
from devices import queries

CREATED = "2026-01-01T00:00:00Z"
T0 = datetime(2026, 1, 2, tzinfo=UTC)


def _ns(when: datetime) -> int:
    return int(when.timestamp()) * 10**9


def register_many(env, ids, when=T0):
    """Registry points as register_device writes them (made-up keys and tokens), in bulk."""
    lines = [
        f'deviceauth,deviceId={d} key="k-{d}",token="tok-{d}",createdAt="{CREATED}" {_ns(when)}'
        for d in ids
    ]
    env.client.write_api(write_options=SYNCHRONOUS).write(env.bucket_auth, env.org, lines)


def soft_delete(env, ids, when):
    lines = [f'deviceauth,deviceId={d} key="",token="" {_ns(when)}' for d in ids]
    env.client.write_api(write_options=SYNCHRONOUS).write(env.bucket_auth, env.org, lines)


def telemetry(env, ids, points, fields=("Temperature", "Humidity")):
    lines = [
        f"environment,device={d} "
        + ",".join(f"{name}={20 + p}" for name in fields)
        + f" {_ns(T0 + timedelta(minutes=p))}"
        for d in ids
        for p in range(points)
    ]
    env.client.write_api(write_options=SYNCHRONOUS).write(env.bucket, env.org, lines)


def one_listing(env, **kwargs):
    """(page, queries, rows) of one list_devices call."""
    env.local.stats.wait_idle()
    env.local.stats.reset()
    page = svc.list_devices(**kwargs)
    env.local.stats.wait_idle()
    return page, env.local.stats.queries, env.local.stats.rows_returned


@pytest.mark.localonly
def test_a_page_costs_two_queries_and_one_row_per_device_plus_the_page(local_influx):
    ids = [f"dev-{i:04d}" for i in range(300)]
    register_many(local_influx, ids)
    telemetry(local_influx, ids[:10], points=1)
    page, queries, rows = one_listing(local_influx, per_page=20)
    assert page.total == 300
    assert [d.device_id for d in page.devices] == ids[:20]
    assert queries == 2
    # One id per device; key and createdAt of the 20 on the page; the last time of each of
    # the two fields of the 10 page devices that sent telemetry.
    assert rows == 300 + 2 * 20 + 2 * 10
    first = page.devices[0]
    assert first.key == "k-dev-0000"
    assert first.created_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert first.last_seen == T0
    assert page.devices[15].last_seen is None


@pytest.mark.localonly
def test_rows_do_not_grow_with_points(local_influx):
    ids = [f"dev-{i:03d}" for i in range(40)]
    register_many(local_influx, ids)
    telemetry(local_influx, ids, points=1)
    _, queries_before, rows_before = one_listing(local_influx, per_page=10)
    # More registry points (re-registrations) and much more telemetry for every device.
    register_many(local_influx, ids, when=T0 + timedelta(hours=1))
    telemetry(local_influx, ids, points=30)
    page, queries_after, rows_after = one_listing(local_influx, per_page=10)
    assert (queries_after, rows_after) == (queries_before, rows_before) == (2, 40 + 20 + 20)
    assert page.devices[0].last_seen == T0 + timedelta(minutes=29)


@pytest.mark.localonly
def test_removed_devices_cost_no_row(local_influx):
    ids = [f"dev-{i:03d}" for i in range(30)]
    register_many(local_influx, ids)
    soft_delete(local_influx, ids[:25], T0 + timedelta(hours=1))
    page, queries, rows = one_listing(local_influx)
    assert [d.device_id for d in page.devices] == ids[25:]
    assert all(d.key and d.created_at for d in page.devices)
    assert (queries, rows) == (2, 5 + 2 * 5)


@pytest.mark.localonly
def test_a_search_without_matches_costs_one_query(local_influx):
    register_many(local_influx, [f"dev-{i:03d}" for i in range(50)])
    page, queries, rows = one_listing(local_influx, search="nothing-like-this")
    assert page.total == 0
    assert (queries, rows) == (1, 50)


@pytest.mark.localonly
def test_the_list_queries_never_ask_for_tokens(local_influx):
    register_many(local_influx, ["dev-1", "dev-2"])
    one_listing(local_influx)
    sent = [r.flux for r in local_influx.local.stats.log if r.path == "/api/v2/query"]
    assert len(sent) == 2
    for text in sent:
        assert '"token"' not in text
        # Reading every field of the registry would include the token.
        assert "_field" in text


@pytest.mark.localonly
def test_devices_with_ids_other_apps_wrote_are_listed_without_details(local_influx):
    # A space is not allowed in our ids, so this one cannot be put in a query.
    local_influx.client.write_api(write_options=SYNCHRONOUS).write(
        local_influx.bucket_auth,
        local_influx.org,
        [f'deviceauth,deviceId=odd\\ id key="k",token="t" {_ns(T0)}'],
    )
    register_many(local_influx, ["dev-1"])
    page, queries, _ = one_listing(local_influx)
    by_id = {d.device_id: d for d in page.devices}
    assert set(by_id) == {"odd id", "dev-1"}
    assert by_id["dev-1"].key == "k-dev-1"
    assert by_id["odd id"].key == "k"
    assert by_id["odd id"].created_at == T0  # no createdAt field: the point's time
    assert by_id["odd id"].last_seen is None
    assert queries == 2


@pytest.mark.localonly
def test_a_page_of_only_foreign_ids_still_costs_two_queries(local_influx):
    odd = 'say "hi" / ${x}'  # quotes and interpolation must reach Flux as plain text
    point = (
        Point("deviceauth")
        .tag("deviceId", odd)
        .field("key", "k")
        .field("token", "t")
        .time(T0, WritePrecision.S)
    )
    local_influx.client.write_api(write_options=SYNCHRONOUS).write(
        local_influx.bucket_auth, local_influx.org, point
    )
    page, queries, rows = one_listing(local_influx)
    [device] = page.devices
    assert (device.device_id, device.key, device.created_at) == (odd, "k", T0)
    assert (queries, rows) == (2, 1 + 1)


def test_the_page_query_takes_only_valid_ids_and_names_its_two_results():
    query = queries.list_page("iot_center_devices", "iot_center", ["dev-1", "dev.2"])
    assert 'yield(name: "registry")' in query
    assert 'yield(name: "telemetry")' in query
    assert "/^(?:dev-1|dev\\.2)$/" in query
    assert '"token"' not in query
    with pytest.raises(ValueError, match="invalid device id"):
        queries.list_page("iot_center_devices", "iot_center", ["dev-1", 'x" or true or "'])
    with pytest.raises(ValueError, match="at least one device"):
        queries.list_page("iot_center_devices", "iot_center", [])
    foreign = queries.list_page("iot_center_devices", "iot_center", [], ['a"b'])
    assert 'r["deviceId"] == "a\\"b"' in foreign
    assert "telemetry" not in foreign


@pytest.mark.localonly
def test_devices_tagged_device_or_clientid_cost_the_same_two_queries(local_influx):
    # iot-center-v2 tags telemetry clientId=<id>; our virtual devices write device and clientId.
    ids = [f"dev-{i:03d}" for i in range(30)]
    register_many(local_influx, ids)
    telemetry(local_influx, ids[:4], points=3)  # device=<id>
    lines = [
        f"environment,clientId={d} Temperature=21,Humidity=40 {_ns(T0 + timedelta(minutes=p))}"
        for d in ids[4:8]
        for p in range(3)
    ] + [
        f"environment,clientId={d},device={d} Temperature=22,Humidity=41 "
        f"{_ns(T0 + timedelta(minutes=p))}"
        for d in ids[8:10]
        for p in range(5)
    ]
    local_influx.client.write_api(write_options=SYNCHRONOUS).write(
        local_influx.bucket, local_influx.org, lines
    )
    page, queries, rows = one_listing(local_influx, per_page=12)
    # One id per device, key and createdAt of the 12 on the page, and the last time of each
    # of the two fields of the 10 with telemetry: a series carrying both tags is read once.
    assert (queries, rows) == (2, 30 + 2 * 12 + 2 * 10)
    last = {d.device_id: d.last_seen for d in page.devices}
    assert all(last[d] == T0 + timedelta(minutes=2) for d in ids[:8])
    assert all(last[d] == T0 + timedelta(minutes=4) for d in ids[8:10])
    assert last["dev-010"] is None
