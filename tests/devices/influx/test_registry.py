"""Registry changes through the real client: register, rotate, remove, orphans."""

from datetime import UTC, datetime, timedelta

import pytest
from influxdb_client import (
    InfluxDBClient,
)
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.rest import ApiException

from devices import influx as svc

from .points import make_device_auth, write_registry, write_telemetry

INJECTION = 'x" or r._field == "token" or "" == "'


def device_auths(env, device_id):
    """Authorizations InfluxDB holds for the device (by the reference apps' description)."""
    return [
        a
        for a in env.client.authorizations_api().find_authorizations(org_id=env.org_id)
        if a.description == f"IoTCenterDevice: {device_id}"
    ]


def test_it_registers_a_device_with_a_write_only_token_for_the_telemetry_bucket(influx):
    creds = svc.register_device("dev-1")
    [auth] = device_auths(influx, "dev-1")
    assert auth.id == creds.key
    grants = {(p.action, p.resource.type, p.resource.id) for p in auth.permissions}
    assert grants == {("write", "buckets", influx.bucket_id)}
    assert all(p.resource.org_id == influx.org_id for p in auth.permissions)
    assert creds.token
    assert creds.token not in repr(creds)
    config = creds.config()
    assert config["influx_url"] == influx.url
    assert config["org"] == influx.org
    assert config["bucket"] == influx.bucket
    assert config["device_id"] == "dev-1"
    assert config["token"] == creds.token


def test_a_device_token_can_read_telemetry_only_when_the_setting_asks_for_it(influx, settings):
    settings.INFLUX_DEVICE_TOKEN_READ = True
    creds = svc.register_device("dev-1")
    [auth] = device_auths(influx, "dev-1")
    grants = {(p.action, p.resource.type, p.resource.id) for p in auth.permissions}
    assert grants == {
        ("read", "buckets", influx.bucket_id),
        ("write", "buckets", influx.bucket_id),
    }
    assert all(p.resource.org_id == influx.org_id for p in auth.permissions)
    with InfluxDBClient(url=creds.url, token=creds.token, org=creds.org) as device:
        writer = device.write_api(write_options=SYNCHRONOUS)
        writer.write(creds.bucket, creds.org, "environment,device=dev-1 Temperature=21.5")
        rows = device.query_api().query(
            f'from(bucket: "{creds.bucket}") |> range(start: -1h)', org=creds.org
        )
        assert [r.get_value() for t in rows for r in t.records] == [21.5]


def test_a_device_token_writes_telemetry_but_cannot_touch_the_registry(influx):
    creds = svc.register_device("dev-1")
    with InfluxDBClient(url=creds.url, token=creds.token, org=creds.org) as device:
        writer = device.write_api(write_options=SYNCHRONOUS)
        writer.write(creds.bucket, creds.org, "environment,device=dev-1 Temperature=21.5")
        # Write-only by default: it cannot read even the telemetry (InfluxDB: "not found").
        with pytest.raises(ApiException) as own:
            device.query_api().query(
                f'from(bucket: "{creds.bucket}") |> range(start: -1h)', org=creds.org
            )
        assert own.value.status == 404
        rows = influx.client.query_api().query(
            f'from(bucket: "{creds.bucket}") |> range(start: -1h)', org=creds.org
        )
        assert [r.get_value() for t in rows for r in t.records] == [21.5]

        with pytest.raises(ApiException) as read:
            device.query_api().query(
                f'from(bucket: "{influx.bucket_auth}") |> range(start: 0)', org=creds.org
            )
        assert read.value.status == 404
        with pytest.raises(ApiException) as write:
            writer.write(influx.bucket_auth, creds.org, 'deviceauth,deviceId=x key="k"')
        assert write.value.status == 403


def test_an_empty_id_gets_a_generated_one(influx):
    creds = svc.register_device("")
    assert len(creds.device_id) == 36  # a uuid4
    assert svc.get_device(creds.device_id).key == creds.key


def test_an_existing_id_is_refused_until_removed(influx):
    first = svc.register_device("dev-1")
    with pytest.raises(svc.DeviceExists):
        svc.register_device("dev-1")
    assert len(device_auths(influx, "dev-1")) == 1
    svc.remove_device("dev-1")
    again = svc.register_device("dev-1")
    assert again.key != first.key
    assert svc.get_device("dev-1").key == again.key


@pytest.mark.localonly
def test_invalid_ids_never_reach_influxdb(local_influx):
    local_influx.local.stats.reset()
    calls = [
        svc.register_device,
        svc.get_device,
        svc.remove_device,
        svc.rotate_token,
        svc.latest_readings,
        svc.field_stats,
        svc.telemetry_series,
        svc.device_credentials,
    ]
    for call in calls:
        for bad in (INJECTION, "a b", "${x}", "x" * 65):
            with pytest.raises(svc.InvalidDeviceId):
                call(bad)
    assert local_influx.local.stats.requests() == 0


@pytest.mark.localonly
def test_a_failed_registry_write_revokes_the_new_authorization(local_influx):
    # 500 is not retried, so the first registry write fails for good.
    local_influx.local.faults.add(status=500, count=1, path="/api/v2/write")
    with pytest.raises(svc.InfluxUnavailable, match="register device"):
        svc.register_device("dev-1")
    assert device_auths(local_influx, "dev-1") == []
    assert svc.list_devices().total == 0
    # Nothing half-done stays behind: the id can be registered once InfluxDB is back.
    assert svc.register_device("dev-1").device_id == "dev-1"


def test_rotating_a_token_revokes_the_old_one(influx):
    old = svc.register_device("dev-1")
    created = svc.get_device("dev-1").created_at
    new = svc.rotate_token("dev-1")
    assert new.token != old.token
    assert new.key != old.key
    [auth] = device_auths(influx, "dev-1")
    assert auth.id == new.key
    device = svc.get_device("dev-1")
    assert device.key == new.key
    assert device.created_at == created  # still the first registration
    with InfluxDBClient(url=old.url, token=old.token, org=old.org) as revoked:
        with pytest.raises(ApiException) as err:
            revoked.write_api(write_options=SYNCHRONOUS).write(
                old.bucket, old.org, "environment,device=dev-1 Temperature=1"
            )
        assert err.value.status == 401


def test_rotate_and_remove_of_unknown_devices_say_not_found(influx):
    with pytest.raises(svc.DeviceNotFound):
        svc.rotate_token("nope")
    with pytest.raises(svc.DeviceNotFound):
        svc.remove_device("nope")
    with pytest.raises(svc.DeviceNotFound):
        svc.get_device("nope")


def test_removing_revokes_the_token_and_keeps_telemetry(influx):
    svc.register_device("dev-1")
    now = datetime.now(UTC).replace(microsecond=0)
    write_telemetry(influx, "dev-1", now, Temperature=20)
    svc.remove_device("dev-1")
    assert device_auths(influx, "dev-1") == []
    assert svc.list_devices().devices == []
    with pytest.raises(svc.DeviceNotFound):
        svc.get_device("dev-1")
    assert [r.field for r in svc.latest_readings("dev-1")] == ["Temperature"]


def test_removing_with_telemetry_deletes_only_that_devices_data(influx):
    svc.register_device("dev-1")
    now = datetime.now(UTC).replace(microsecond=0)
    write_telemetry(influx, "dev-1", now - timedelta(days=400), Temperature=1)
    write_telemetry(influx, "dev-1", now, Temperature=2)
    write_telemetry(influx, "dev-2", now, Temperature=3)
    svc.remove_device("dev-1", delete_telemetry=True)
    assert svc.latest_readings("dev-1") == []
    assert [r.value for r in svc.latest_readings("dev-2")] == [3.0]


def test_removing_works_when_the_authorization_is_already_gone(influx):
    creds = svc.register_device("dev-1")
    influx.client.authorizations_api().delete_authorization(creds.key)
    svc.remove_device("dev-1")
    assert svc.list_devices().total == 0


def test_a_recreated_telemetry_bucket_gets_the_new_tokens(influx, settings):
    buckets = influx.client.buckets_api()
    name = f"{influx.bucket}_x"
    settings.INFLUX_BUCKET = name
    old = buckets.create_bucket(bucket_name=name, org=influx.org)
    first = svc.register_device("dev-1")
    buckets.delete_bucket(old)
    fresh = buckets.create_bucket(bucket_name=name, org=influx.org)
    try:
        second = svc.register_device("dev-2")
        [auth] = device_auths(influx, "dev-2")
        assert {p.resource.id for p in auth.permissions} == {fresh.id}
        assert second.key == auth.id
    finally:
        buckets.delete_bucket(fresh)
        for creds in (first, second):
            influx.client.authorizations_api().delete_authorization(creds.key)


def test_rotating_a_reference_app_device_keeps_its_registration_time(influx):
    # Registered long ago without createdAt, with an authorization InfluxDB no longer has.
    long_ago = datetime.now(UTC).replace(microsecond=0) - timedelta(days=100)
    write_registry(influx, "legacy", {"key": "0123456789abcdef", "token": "gone"}, long_ago)
    creds = svc.rotate_token("legacy")
    device = svc.get_device("legacy")
    assert device.key == creds.key
    assert device.created_at == long_ago


def test_orphans_are_authorizations_the_registry_does_not_reference(influx):
    kept = svc.register_device("dev-1")
    gone = svc.register_device("dev-2")
    # dev-2 soft-deleted by another app that did not revoke its authorization.
    write_registry(influx, "dev-2", {"key": "", "token": ""})
    # An id other apps may write but our queries cannot name, registered with a live token...
    odd_live = make_device_auth(influx, "odd id")
    write_registry(influx, "odd id", {"key": odd_live.id, "token": odd_live.token})
    # ...and a second, stale one for it.
    odd_stale = make_device_auth(influx, "odd id")

    found = svc.orphan_authorizations()
    assert found == sorted(
        [
            svc.OrphanAuthorization("dev-2", gone.key),
            svc.OrphanAuthorization("odd id", odd_stale.id),
        ],
        key=lambda o: o.device_id,
    )

    revoked = svc.revoke_orphan_authorizations()
    assert sorted(revoked, key=lambda o: o.device_id) == found
    assert [a.id for a in device_auths(influx, "dev-2")] == []
    assert [a.id for a in device_auths(influx, "odd id")] == [odd_live.id]
    assert [a.id for a in device_auths(influx, "dev-1")] == [kept.key]
    assert svc.orphan_authorizations() == []
