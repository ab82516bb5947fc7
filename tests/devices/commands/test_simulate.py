"""manage.py simulate: virtual devices writing with their own tokens, exact about what they
wrote."""

import re
import threading
import time
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from influxdb_client.client.write_api import SYNCHRONOUS

from devices import influx as svc
from devices import simulator
from devices.management.commands.simulate import Command, in_shard

SUMMARY = re.compile(
    r"Summary: ([\d,]+) devices, ([\d,]+) points generated, ([\d,]+) written, ([\d,]+) failed"
)


def simulate(*args):
    out, err = StringIO(), StringIO()
    call_command("simulate", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def simulate_failing(*args):
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError) as exc:
        call_command("simulate", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue(), str(exc.value)


def summary(out: str) -> dict[str, int]:
    found = SUMMARY.search(out)
    assert found, out
    devices, generated, written, failed = (int(g.replace(",", "")) for g in found.groups())
    return {"devices": devices, "generated": generated, "written": written, "failed": failed}


def count_points(env, device_id=None, field="Temperature"):
    device = f' and r.device == "{device_id}"' if device_id else ""
    rows = env.client.query_api().query(
        f'from(bucket: "{env.bucket}") |> range(start: 0)'
        f' |> filter(fn: (r) => r._field == "{field}"{device}) |> group() |> count()',
        org=env.org,
    )
    return sum(r.get_value() for t in rows for r in t.records)


def test_it_backfills_one_point_a_minute_then_catches_up(influx):
    svc.register_device("dev-1")
    out, _ = simulate("dev-1", "--backfill-days", "1", "--seed", "1", "-v", "2")
    assert "dev-1: wrote 144" in out  # 1440 or 1441 points depending on the second
    first = count_points(influx, "dev-1")
    assert first in (1440, 1441)
    assert summary(out) == {"devices": 1, "generated": first, "written": first, "failed": 0}
    assert {r.field for r in svc.latest_readings("dev-1")} == {
        "CO2", "Humidity", "Lat", "Lon", "Pressure", "TVOC", "Temperature",
    }  # fmt: skip
    # A second pass resumes after the last point: at most the minute that just began.
    simulate("dev-1", "--backfill-days", "1")
    assert count_points(influx, "dev-1") - first <= 1


def test_points_carry_both_device_tags_and_the_six_sensor_tags(influx):
    svc.register_device("dev-1")
    simulate("dev-1", "--backfill-days", "0.01")
    rows = influx.client.query_api().query(
        f'from(bucket: "{influx.bucket}") |> range(start: -1d) |> limit(n: 1)', org=influx.org
    )
    record = rows[0].records[0].values
    assert record["device"] == record["clientId"] == "dev-1"
    bme280 = ("TemperatureSensor", "HumiditySensor", "PressureSensor")
    for tag in (*bme280, "CO2Sensor", "TVOCSensor", "GPSSensor"):
        assert record[tag] == simulator.SENSOR_TAGS[tag]


@pytest.mark.localonly
def test_it_writes_gzip_batches_of_5000_lines(local_influx):
    svc.register_device("dev-1")
    local_influx.local.stats.reset()
    simulate("dev-1", "--backfill-days", "4")
    assert local_influx.local.stats.requests(path="/api/v2/write") == 2  # 5761 points
    assert local_influx.local.stats.points_written == count_points(local_influx, "dev-1")


def test_it_uses_the_devices_own_token_and_says_so_once(influx):
    creds = svc.register_device("dev-1")
    # Revoke the device's token behind the app's back: the operator token would still work,
    # the device's must not.
    influx.client.authorizations_api().delete_authorization(creds.key)
    out, err, _ = simulate_failing("dev-1", "--backfill-days", "1")
    assert err.count("refused the token of device 'dev-1'") == 1
    assert creds.token not in err + out
    assert count_points(influx, "dev-1") == 0
    assert summary(out)["written"] == 0


def test_unknown_devices_fail_with_a_hint_unless_created(influx):
    _, err, _ = simulate_failing("ghost", "--backfill-days", "0.01")
    assert "--create" in err
    out, _ = simulate("ghost", "--create", "--backfill-days", "0.01", "-v", "2")
    assert "ghost: registered" in out
    assert "ghost: wrote" in out
    assert svc.get_device("ghost").device_id == "ghost"


def test_all_simulates_every_registered_device(influx):
    svc.register_device("a")
    svc.register_device("b")
    out, _ = simulate("--all", "--backfill-days", "0.01", "-v", "2")
    assert "a: wrote" in out
    assert "b: wrote" in out
    assert summary(out)["devices"] == 2


def test_count_creates_and_runs_a_fleet_and_shards_split_it(influx):
    out1, _ = simulate(
        "--count", "6", "--prefix", "fleet-", "--shard", "1/2", "--backfill-days", "0.01"
    )
    out2, _ = simulate(
        "--count", "6", "--prefix", "fleet-", "--shard", "2/2", "--backfill-days", "0.01"
    )
    ids = [f"fleet-{i:04d}" for i in range(1, 7)]
    assert sorted(svc.registered_device_ids()) == ids
    first = [d for d in ids if in_shard(d, (1, 2))]
    assert 0 < len(first) < 6  # both shares have devices
    assert summary(out1)["devices"] == len(first)
    assert summary(out2)["devices"] == 6 - len(first)
    assert all(count_points(influx, d) > 0 for d in ids)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "--count"),
        (('x" or 1',), "letters, digits"),
        (("a", "--all"), "only one"),
        (("a", "--backfill-days", "nan"), "finite"),
        (("a", "--backfill-days", "inf"), "finite"),
        (("a", "--backfill-days", "1000000"), "between"),
        (("a", "--backfill-days", "0"), "between"),
        (("a", "--interval", "nan"), "finite"),
        (("a", "--interval", "0"), "between"),
        (("--count", "0"), "between"),
        (("--count", "10000000"), "between"),
        (("--count", "1e3"), "not a number"),
        (("a", "--shard", "3/2"), "K/N"),
        (("a", "--shard", "x"), "K/N"),
        (("a", "--retry-seconds", "-1"), "between"),
        (("a", "--seed", "-1"), "between"),
    ],
)
def test_it_refuses_bad_arguments_clearly(args, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        simulate(*args)


def test_verbosity_0_prints_only_the_summary_and_plain_progress_lines_otherwise(
    influx, monkeypatch
):
    svc.register_device("a")
    out, err = simulate("a", "--backfill-days", "0.5", "-v", "0")
    assert out.strip().splitlines() == [out.strip()]
    assert out.startswith("Summary: 1 devices")
    assert err == ""
    monkeypatch.setattr(Command, "PROGRESS_EVERY_S", 0.0)
    svc.register_device("b")
    out, _ = simulate("b", "--backfill-days", "0.5")
    assert re.search(
        r"progress: \d+/1 devices, [\d,]+ points written \(\d+% of the backfill\)", out
    )


def test_the_seed_gives_a_device_the_same_values_whatever_else_runs(influx):
    for d in ("a", "b", "c"):
        svc.register_device(d)
    simulate("a", "b", "c", "--seed", "7", "--backfill-days", "0.05")
    rows = influx.client.query_api().query(
        f'from(bucket: "{influx.bucket}") |> range(start: 0)'
        ' |> filter(fn: (r) => r.device == "b" and r._field == "Temperature")',
        org=influx.org,
    )
    stored = {r.get_time(): r.get_value() for t in rows for r in t.records}
    assert len(stored) > 60
    alone = simulator.Model("b", 7)
    for t, value in stored.items():
        assert alone.reading(simulator.epoch_minute(t))["Temperature"] == value


def test_an_integer_typed_field_already_in_the_bucket_is_one_clear_message(influx):
    # What the tutorial's virtual device leaves behind: integer fields.
    influx.client.write_api(write_options=SYNCHRONOUS).write(
        influx.bucket, influx.org, "environment,device=tutorial Temperature=21i,Humidity=40i"
    )
    for d in ("a", "b", "c"):
        svc.register_device(d)
    out, err, _ = simulate_failing("a", "b", "c", "--backfill-days", "4")
    assert err.count("already holds field") == 1, err
    assert "as integer" in err
    assert "INFLUX_BUCKET" in err
    assert "422" not in err
    totals = summary(out)
    assert totals["written"] == count_points(influx) - 1 == 0
    assert totals["failed"] == totals["generated"] > 0


# ---- patience and fail-fast (the local server's fault injection) -------------------------------


@pytest.mark.localonly
@pytest.mark.parametrize(
    "fault",
    [
        {"status": 503, "retry_after": 1, "duration": 5},  # InfluxDB restarting
        {"status": 429, "retry_after": 1, "count": 3},
        {"drop": True, "count": 2},
    ],
    ids=["503-for-5s", "429x3", "2-dropped-connections"],
)
def test_short_outages_on_every_endpoint_are_waited_out(local_influx, fault):
    for d in ("a", "b", "c"):
        svc.register_device(d)
    local_influx.local.faults.add(**fault)
    out, err = simulate("a", "b", "c", "--backfill-days", "0.1")
    totals = summary(out)
    assert totals["devices"] == 3, err
    assert totals["failed"] == 0, err
    assert totals["written"] == count_points(local_influx) == totals["generated"]


@pytest.mark.localonly
def test_a_write_outage_longer_than_the_budget_counts_what_was_stored(local_influx):
    for d in ("a", "b", "c", "d"):
        svc.register_device(d)
    local = local_influx.local
    # Slow writes down so the outage surely begins mid-backfill: after the first batch is stored.
    local.faults.add(delay=0.1, duration=60, path="/api/v2/write")

    def outage():
        deadline = time.monotonic() + 30
        while local.stats.points_written < 5000 and time.monotonic() < deadline:
            time.sleep(0.01)
        local.faults.clear()
        local.faults.add(status=503, retry_after=1, duration=60, path="/api/v2/write")

    thread = threading.Thread(target=outage)
    thread.start()
    out, err, _ = simulate_failing(
        "a",
        "b",
        "c",
        "d",
        "--backfill-days",
        "7",
        "--retry-seconds",
        "1",
        "--workers",
        "1",
        "-v",
        "2",
    )
    thread.join()
    local.faults.clear()
    totals = summary(out)
    assert totals["written"] == count_points(local_influx) > 0
    assert totals["failed"] > 0
    assert totals["generated"] == totals["written"] + totals["failed"]
    # Each device's own line counts what it stored, the failed device's partial writes too.
    lines = re.findall(
        r"^(\S+): wrote (\d+) points.*?(; (\d+) of \d+ generated not written)?$", out, re.M
    )
    assert any(failed for *_, failed in lines)
    for device_id, written, *_ in lines:
        assert int(written) == count_points(local_influx, device_id)
    assert err.count("503") == 1  # one message, not one per device


@pytest.mark.localonly
def test_a_hanging_influxdb_is_one_clear_error_within_bounded_time(local_influx, settings):
    for d in ("a", "b", "c", "d", "e"):
        svc.register_device(d)
    settings.INFLUX_TIMEOUT = "1"
    local_influx.local.faults.add(delay=2.5, duration=30, path="/api/v2/write")
    started = time.monotonic()
    out, err, _ = simulate_failing("a", "b", "c", "d", "e", "--backfill-days", "0.1")
    elapsed = time.monotonic() - started
    local_influx.local.faults.clear()
    assert elapsed < 12  # a few timeouts in all, not each device's in turn
    assert len(err.strip().splitlines()) == 1, err
    assert "no answer within INFLUX_TIMEOUT" in err
    assert summary(out)["written"] == 0
    # Hanging from the first request (the registry read) on: the same, sooner.
    local_influx.local.faults.add(delay=2.5, duration=30)
    started = time.monotonic()
    _, err, _ = simulate_failing("a", "b", "--backfill-days", "0.1")
    assert time.monotonic() - started < 8
    assert len(err.strip().splitlines()) == 1, err
    local_influx.local.faults.clear()
