"""Registration, rotation and removal that fail part-way or race leave no orphan or dead token.

Faults are injected by the local InfluxDB-compatible server. A delayed request is carried out by
the server after the delay: with a delay longer than INFLUX_TIMEOUT the app gives up waiting,
and InfluxDB does the work afterwards, exactly the "done, but the answer never came" case.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
from django.db import connections
from influxdb_client import Point, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS

from devices import influx as svc

from .points import telemetry_count

pytestmark = pytest.mark.localonly


def auth_ids(env, device_id: str) -> set[str]:
    """Ids of the authorizations InfluxDB holds for the device (by their description)."""
    return {
        a.id
        for a in env.client.authorizations_api().find_authorizations(org_id=env.org_id)
        if a.description == f"IoTCenterDevice: {device_id}"
    }


def registry_key(env, device_id: str) -> str | None:
    """The ``key`` the registry holds for the device now ("" removed, None never written)."""
    query = (
        f'from(bucket: "{env.bucket_auth}") |> range(start: 0)'
        f' |> filter(fn: (r) => r._measurement == "deviceauth" and r.deviceId == "{device_id}"'
        ' and r._field == "key") |> last()'
    )
    values = [
        record.get_value()
        for table in env.client.query_api().query(query, org=env.org)
        for record in table.records
    ]
    # The client reads an empty string field as None.
    return (values[-1] or "") if values else None


def settle(env) -> None:
    """Let the server finish requests the app stopped waiting for (it carries them out late)."""
    assert env.local.stats.wait_idle(timeout=10)


def authorization_made_late(env, settings, change, device_id: str) -> None:
    """``change(device_id)`` (``register_device``, ``rotate_token``) gives up waiting for its new
    authorization (InfluxUnavailable), which InfluxDB creates afterwards: returns once it has."""
    settings.INFLUX_TIMEOUT = "1"
    env.local.faults.add(delay=1.5, count=1, path="/api/v2/authorizations", method="POST")
    with pytest.raises(svc.InfluxUnavailable):
        change(device_id)
    settle(env)


def write_telemetry(env, device_id: str) -> None:
    point = Point("environment").tag("device", device_id).field("Temperature", 21.5)
    point = point.time(datetime.now(UTC), WritePrecision.S)
    env.client.write_api(write_options=SYNCHRONOUS).write(env.bucket, env.org, point)


# ---- concurrent registrations --------------------------------------------------------------------


def registering(device_id: str, outcome: list[object]) -> threading.Thread:
    """A thread started registering ``device_id``: the credentials or the InfluxError it raised
    go to ``outcome``."""

    def register():
        try:
            outcome.append(svc.register_device(device_id))
        except svc.InfluxError as exc:
            outcome.append(exc)
        finally:
            connections.close_all()  # this thread's own connection (its device lock)

    thread = threading.Thread(target=register)
    thread.start()
    return thread


def test_concurrent_registrations_of_one_id_leave_one_device_and_one_token(local_influx):
    results: list[object] = []
    threads = [registering("race-1", results) for _ in range(4)]
    for thread in threads:
        thread.join(timeout=30)

    winners = [r for r in results if isinstance(r, svc.DeviceCredentials)]
    assert len(results) == 4
    assert len(winners) == 1
    assert sum(isinstance(r, svc.DeviceExists) for r in results) == 3
    # The one token handed out is the one the registry holds, and the only one valid.
    assert registry_key(local_influx, "race-1") == winners[0].key
    assert auth_ids(local_influx, "race-1") == {winners[0].key}


def test_a_registration_that_loses_a_race_with_another_process_revokes_its_token(local_influx):
    # Another app process registers the same id while our registry write is on its way: its
    # point is newer, so the registry references its key and ours must not stay valid.
    held = local_influx.local.faults.add(delay=1.0, count=1, path="/api/v2/write")
    outcome: list[object] = []
    thread = registering("race-2", outcome)
    deadline = time.monotonic() + 10
    # Our registry write has reached the server (the delay took it), its point timed before
    # the other process's: waited for, not guessed with a pause that a slow machine outlasts.
    while held.count:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert auth_ids(local_influx, "race-2")  # our authorization was made before that write
    other = (
        Point("deviceauth")
        .tag("deviceId", "race-2")
        .field("key", "0123456789abcdef")
        .field("token", "the-other-process-token")
        .field("createdAt", datetime.now(UTC).isoformat())
        .time(datetime.now(UTC), WritePrecision.NS)
    )
    local_influx.client.write_api(write_options=SYNCHRONOUS).write(
        local_influx.bucket_auth, local_influx.org, other
    )
    thread.join(timeout=30)

    assert len(outcome) == 1
    assert isinstance(outcome[0], svc.DeviceExists)
    assert registry_key(local_influx, "race-2") == "0123456789abcdef"
    assert auth_ids(local_influx, "race-2") == set()


# ---- registration failing part-way ---------------------------------------------------------------


def test_an_authorization_created_after_its_answer_timed_out_is_revoked_by_the_next_change(
    local_influx, settings
):
    authorization_made_late(local_influx, settings, svc.register_device, "slow-auth")
    assert svc.list_devices().total == 0

    creds = svc.register_device("slow-auth")
    # Only the token the registry references is valid: the stray one was revoked.
    assert registry_key(local_influx, "slow-auth") == creds.key
    assert auth_ids(local_influx, "slow-auth") == {creds.key}


def test_a_registry_write_stored_after_its_answer_timed_out_leaves_no_dead_device(
    local_influx, settings
):
    settings.INFLUX_TIMEOUT = "1"
    local_influx.local.faults.add(delay=1.5, count=1, path="/api/v2/write")
    with pytest.raises(svc.InfluxUnavailable, match="register device"):
        svc.register_device("late-1")
    settle(local_influx)  # the registry write has landed now, after the app revoked its token

    # Not listed with a dead token, and no token left valid.
    assert svc.list_devices().total == 0
    with pytest.raises(svc.DeviceNotFound):
        svc.get_device("late-1")
    assert auth_ids(local_influx, "late-1") == set()
    # Registering again works (not "already registered"), and its token is the one stored.
    creds = svc.register_device("late-1")
    assert svc.get_device("late-1").key == creds.key
    assert auth_ids(local_influx, "late-1") == {creds.key}


def test_a_registry_write_stored_though_unanswered_keeps_the_registration(local_influx, settings):
    settings.INFLUX_TIMEOUT = "2"
    # The registry write is stored 2.4 s after it was sent, the app stops waiting at 2 s; the
    # registry read that follows is answered after the write landed (queries take 1.2 s here).
    local_influx.local.faults.add(delay=2.4, count=1, path="/api/v2/write")
    local_influx.local.faults.add(delay=1.2, count=2, path="/api/v2/query")
    creds = svc.register_device("kept-1")
    settle(local_influx)
    assert registry_key(local_influx, "kept-1") == creds.key
    assert auth_ids(local_influx, "kept-1") == {creds.key}


def test_a_registry_write_refused_revokes_the_new_token_at_once(local_influx):
    local_influx.local.faults.add(status=500, count=1, path="/api/v2/write")
    with pytest.raises(svc.InfluxUnavailable):
        svc.register_device("refused-1")
    assert auth_ids(local_influx, "refused-1") == set()
    assert registry_key(local_influx, "refused-1") is None


# ---- rotation failing part-way -------------------------------------------------------------------


def test_a_rotation_whose_registry_write_timed_out_keeps_the_old_token(local_influx, settings):
    old = svc.register_device("rot-1")
    settings.INFLUX_TIMEOUT = "1"
    local_influx.local.faults.add(delay=1.5, count=1, path="/api/v2/write")
    with pytest.raises(svc.InfluxUnavailable):
        svc.rotate_token("rot-1")
    settle(local_influx)  # the new key's registry point landed late: it must not win

    assert registry_key(local_influx, "rot-1") == old.key
    assert auth_ids(local_influx, "rot-1") == {old.key}  # the old token still works
    new = svc.rotate_token("rot-1")
    assert registry_key(local_influx, "rot-1") == new.key
    assert auth_ids(local_influx, "rot-1") == {new.key}


def test_an_old_token_a_rotation_could_not_revoke_is_revoked_by_the_next_change(local_influx):
    old = svc.register_device("rot-2")
    local_influx.local.faults.add(
        status=500, count=1, path=f"/api/v2/authorizations/{old.key}", method="DELETE"
    )
    # The new token is shown (it is valid and stored), with the old one's state in words.
    new = svc.rotate_token("rot-2")
    assert "could NOT be revoked and still works" in new.warning
    assert "manage.py influx_check --revoke-orphans" in new.warning
    stored = registry_key(local_influx, "rot-2")
    assert stored == new.key != old.key
    assert auth_ids(local_influx, "rot-2") == {old.key, stored}  # the leftover, until...

    newest = svc.rotate_token("rot-2")
    assert auth_ids(local_influx, "rot-2") == {newest.key}


def test_removing_a_device_revokes_every_token_it_ever_had(local_influx, settings):
    svc.register_device("gone-1")
    # A stray authorization of the device (a failed change another process left behind).
    authorization_made_late(local_influx, settings, svc.rotate_token, "gone-1")
    assert len(auth_ids(local_influx, "gone-1")) == 2

    svc.remove_device("gone-1")
    assert auth_ids(local_influx, "gone-1") == set()
    assert registry_key(local_influx, "gone-1") == ""


# ---- removal with its telemetry ------------------------------------------------------------------


def test_a_failed_telemetry_delete_keeps_the_device_so_the_removal_can_be_retried(local_influx):
    creds = svc.register_device("tele-1")
    write_telemetry(local_influx, "tele-1")
    local_influx.local.faults.add(status=500, count=1, path="/api/v2/delete")
    with pytest.raises(svc.InfluxUnavailable, match="delete the telemetry"):
        svc.remove_device("tele-1", delete_telemetry=True)

    # Nothing changed: still listed, its token still valid, its telemetry still there.
    assert svc.get_device("tele-1").key == creds.key
    assert auth_ids(local_influx, "tele-1") == {creds.key}
    assert telemetry_count(local_influx, "tele-1") == 1

    svc.remove_device("tele-1", delete_telemetry=True)
    assert telemetry_count(local_influx, "tele-1") == 0
    assert svc.list_devices().total == 0
    assert auth_ids(local_influx, "tele-1") == set()


def test_the_remove_page_reports_a_failed_telemetry_delete_and_keeps_the_device(
    staff_client, local_influx
):
    svc.register_device("tele-2")
    write_telemetry(local_influx, "tele-2")
    local_influx.local.faults.add(status=500, count=1, path="/api/v2/delete")
    response = staff_client.post("/devices/tele-2/remove/", {"delete_telemetry": "on"})
    assert response.status_code == 503
    assert "tele-2" in staff_client.get("/devices/").content.decode()
    assert telemetry_count(local_influx, "tele-2") == 1
