"""What one device-list page costs InfluxDB, counted on the local server: queries and rows.

The list must stay fast at 100,000 devices, so InfluxDB counts, searches, sorts and slices the
ids: the rows a page fetches are bounded by the page size (the count, the page's ids, their
details), never by the number of devices or points, and the number of queries does not grow.

Also: the list, one device and its credentials, as read through the real client.
"""

from datetime import UTC, datetime, timedelta

import pytest
from influxdb_client.client.write_api import SYNCHRONOUS

from devices import influx as svc
from devices import queries

from .points import write_registry, write_telemetry

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


def register_fleet(env, first: int, count: int) -> None:
    """Devices dev-<first> .. dev-<first + count - 1> (five digits), registered in bulk."""
    register_many(env, [f"dev-{i:05d}" for i in range(first, first + count)])


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
def test_a_page_costs_two_queries_and_rows_bounded_by_the_page_size(local_influx):
    ids = [f"dev-{i:04d}" for i in range(300)]
    register_many(local_influx, ids)
    telemetry(local_influx, ids[:10], points=1)
    page, queries, rows = one_listing(local_influx, per_page=20)
    assert page.total == 300
    assert [d.device_id for d in page.devices] == ids[:20]
    assert queries == 2
    # The count, the 20 ids of the page, key and createdAt of each, the last time of each of
    # the two fields of the 10 page devices that sent telemetry.
    assert rows == 1 + 20 + 2 * 20 + 2 * 10
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
    assert (queries_after, rows_after) == (queries_before, rows_before) == (2, 1 + 10 + 20 + 20)
    assert page.devices[0].last_seen == T0 + timedelta(minutes=29)


@pytest.mark.localonly
def test_removed_devices_cost_no_row(local_influx):
    ids = [f"dev-{i:03d}" for i in range(30)]
    register_many(local_influx, ids)
    soft_delete(local_influx, ids[:25], T0 + timedelta(hours=1))
    page, queries, rows = one_listing(local_influx)
    assert [d.device_id for d in page.devices] == ids[25:]
    assert all(d.key and d.created_at for d in page.devices)
    assert (queries, rows) == (2, 1 + 5 + 2 * 5)


@pytest.mark.localonly
def test_a_search_without_matches_costs_one_query(local_influx):
    register_many(local_influx, [f"dev-{i:03d}" for i in range(50)])
    page, queries, rows = one_listing(local_influx, search="nothing-like-this")
    assert page.total == 0
    assert (queries, rows) == (1, 0)  # no table left to count: no row at all


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
    write_registry(local_influx, odd, {"key": "k", "token": "t"}, T0)
    page, queries, rows = one_listing(local_influx)
    [device] = page.devices
    assert (device.device_id, device.key, device.created_at) == (odd, "k", T0)
    assert (queries, rows) == (2, 1 + 1 + 1)


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
    # The count, 12 ids, key and createdAt of the 12 on the page, and the last time of each
    # of the two fields of the 10 with telemetry: a series carrying both tags is read once.
    assert (queries, rows) == (2, 1 + 12 + 2 * 12 + 2 * 10)
    last = {d.device_id: d.last_seen for d in page.devices}
    assert all(last[d] == T0 + timedelta(minutes=2) for d in ids[:8])
    assert all(last[d] == T0 + timedelta(minutes=4) for d in ids[8:10])
    assert last["dev-010"] is None


INJECTION = 'x" or r._field == "token" or "" == "'


def test_the_list_is_sorted_searchable_paginated_and_hides_removed_devices(influx):
    for device_id in ["kitchen-2", "Kitchen-1", "garage", "attic"]:
        svc.register_device(device_id)
    svc.remove_device("attic")
    page = svc.list_devices()
    assert [d.device_id for d in page.devices] == ["Kitchen-1", "garage", "kitchen-2"]
    assert page.total == 3
    found = svc.list_devices(search="KITCHEN")
    assert [d.device_id for d in found.devices] == ["Kitchen-1", "kitchen-2"]
    second = svc.list_devices(page=2, per_page=2)
    assert [d.device_id for d in second.devices] == ["kitchen-2"]
    assert (second.total, second.page, second.num_pages) == (3, 2, 2)
    beyond = svc.list_devices(page=99, per_page=2)
    assert beyond.page == 2
    assert all(d.token_hint == "" for d in page.devices)


def test_the_list_shows_last_telemetry_time(influx):
    svc.register_device("dev-1")
    svc.register_device("dev-2")
    seen = datetime.now(UTC).replace(microsecond=0) - timedelta(days=90)
    write_telemetry(influx, "dev-1", seen, Temperature=20, Humidity=40)
    by_id = {d.device_id: d for d in svc.list_devices().devices}
    assert by_id["dev-1"].last_seen == seen
    assert by_id["dev-2"].last_seen is None


def test_old_registrations_and_reference_app_devices_are_listed(influx):
    # A device registered two years ago by the reference apps: no createdAt field.
    long_ago = datetime.now(UTC).replace(microsecond=0) - timedelta(days=730)
    write_registry(influx, "old-device", {"key": "0123456789abcdef", "token": "t"}, long_ago)
    [device] = svc.list_devices().devices
    assert device.device_id == "old-device"
    assert device.created_at == long_ago


@pytest.mark.localonly
def test_listing_costs_the_same_number_of_queries_for_10_and_1000_devices(local_influx):
    register_fleet(local_influx, 0, 10)
    page, small, _ = one_listing(local_influx, per_page=50)
    assert page.total == 10
    register_fleet(local_influx, 10, 990)
    page, large, _ = one_listing(local_influx, per_page=50)
    assert page.total == 1000
    assert len(page.devices) == 50
    assert small == large <= 2


def test_a_device_page_shows_a_masked_token_only(influx):
    creds = svc.register_device("dev-1")
    device = svc.get_device("dev-1")
    assert device.token_hint.endswith(creds.token[-4:])
    assert creds.token not in device.token_hint
    assert creds.token not in repr(device)
    assert device.created_at is not None
    assert abs(device.created_at - datetime.now(UTC)) < timedelta(minutes=5)


def test_device_credentials_come_from_the_registry(influx):
    creds = svc.register_device("dev-1")
    stored = svc.device_credentials("dev-1")
    assert (stored.token, stored.key, stored.bucket) == (creds.token, creds.key, influx.bucket)


@pytest.mark.localonly
def test_search_text_never_reaches_a_query(local_influx):
    svc.register_device("dev-1")
    local_influx.local.stats.reset()
    assert svc.list_devices(search=INJECTION).total == 0
    assert local_influx.local.stats.queries == 1  # the registry; no page, no last-seen query
    assert svc.list_devices(search="DEV").total == 1
