"""Benchmark of the virtual fleet: ``python -m bench.fleet`` (part of ``make bench``).

Prints, side by side from one run against the same local server (``LocalInflux``, run in its own
process so that, as in production, the server and the simulator do not share one interpreter):

* ``manage.py simulate`` for 100 devices x 1 day (144,100 points), in points/s;
* the tutorial's approach on a sample: a new ``InfluxDBClient`` and one synchronous single-``Point``
  write per point;
* the ceiling: pre-serialized line protocol of the same shape, 5,000-line gzip batches
  (compressed before the clock starts), one keep-alive connection;
* each the best of 3 alternating rounds (the machine may be busy with other work meanwhile);
* the two ratios, the peak RSS of ``simulate`` at 1 vs 7 days of backfill (20 devices), and the
  time to register 1,000 devices (first vs last 100 per device).
"""

from __future__ import annotations

import gzip
import http.client
import io
import logging
import multiprocessing
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

ORG = "iot-center"
DEVICES = 100
TUTORIAL_SAMPLE = 300
REGISTER = 1_000
BATCH = 5_000
RSS_DEVICES = 20
GOAL_TUTORIAL = 50.0
ROUNDS = 3
GOAL_CEILING = 0.5


def _serve(token: str, pipe) -> None:
    from localinflux.runner import LocalInflux

    with LocalInflux(org=ORG, bucket="iot_center", token=token) as server:
        pipe.send(server.url)
        pipe.recv()  # until the benchmark is done


_BENCH_DB = Path(tempfile.gettempdir()) / f"iotcenter-bench-fleet-{os.getpid()}.sqlite3"


def _env(url: str, token: str, bucket: str, bucket_auth: str) -> dict[str, str]:
    return {
        "INFLUX_URL": url,
        "INFLUX_TOKEN": token,
        "INFLUX_ORG": ORG,
        "INFLUX_BUCKET": bucket,
        "INFLUX_BUCKET_AUTH": bucket_auth,
        "INFLUX_TIMEOUT": "30",
        # Its own database (registrations take a per-device lock row there), shared with the
        # memory-measuring subprocesses, never the checkout's own.
        "DATABASE_URL": f"sqlite:///{_BENCH_DB}",
    }


def _setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    import django
    from django.conf import settings

    django.setup()
    for key, value in env.items():
        setattr(settings, key, value)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    logging.getLogger("devices.influx").setLevel(logging.WARNING)  # one line per registration


def _make_buckets(client, *names: str) -> None:
    for name in names:
        client.buckets_api().create_bucket(bucket_name=name, org=ORG)


def _clear(url: str, token: str, bucket: str) -> None:
    from influxdb_client import InfluxDBClient

    with InfluxDBClient(url=url, token=token, org=ORG, timeout=60_000) as client:
        client.delete_api().delete(
            "1970-01-01T00:00:00Z", "2100-01-01T00:00:00Z", '_measurement="environment"',
            bucket=bucket, org=ORG,
        )  # fmt: skip


def register_sim_devices() -> list[str]:
    from devices import influx

    ids = [f"bench-{i:03d}" for i in range(DEVICES)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(influx.register_device, ids))
    return ids


def bench_simulate(ids: list[str]) -> float:
    """points/s of ``manage.py simulate`` filling 1 day for every device from empty."""
    from django.core.management import call_command

    start = time.perf_counter()
    call_command("simulate", *ids, "--backfill-days", "1", verbosity=0, stdout=io.StringIO())
    return DEVICES * 1441 / (time.perf_counter() - start)


def bench_tutorial(url: str, token: str, bucket: str) -> float:
    from influxdb_client import InfluxDBClient, Point, WritePrecision
    from influxdb_client.client.write_api import SYNCHRONOUS

    t0 = int(time.time()) - TUTORIAL_SAMPLE * 60
    start = time.perf_counter()
    for i in range(TUTORIAL_SAMPLE):
        client = InfluxDBClient(url=url, token=token, org=ORG)
        point = (
            Point("environment")
            .tag("device", "tutorial-1")
            .tag("TemperatureSensor", "virtual_bme280")
            .field("Temperature", 20.0 + i % 7)
            .field("Humidity", 50.0 + i % 5)
            .field("Pressure", 1013.0 + i % 3)
            .field("CO2", 500.0 + i % 11)
            .field("TVOC", 300.0 + i % 13)
            .field("Lat", 50.088)
            .field("Lon", 14.4208)
            .time(t0 + i * 60, WritePrecision.S)
        )
        client.write_api(write_options=SYNCHRONOUS).write(bucket=bucket, record=point)
        client.close()
    return TUTORIAL_SAMPLE / (time.perf_counter() - start)


def bench_ceiling(url: str, token: str, bucket: str) -> float:
    from devices import simulator
    from devices.influx.fleet import line_prefix

    first = simulator.epoch_minute(simulator.minute_time(int(time.time() // 60))) - 1440
    lines = []
    for d in range(DEVICES):
        model = simulator.Model(f"ceiling-{d:03d}")
        lines.extend(model.lines(line_prefix(f"ceiling-{d:03d}"), first, first + 1440))
    bodies = [
        gzip.compress("".join(lines[i : i + BATCH]).encode(), compresslevel=1)
        for i in range(0, len(lines), BATCH)
    ]
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    headers = {
        "Authorization": f"Token {token}",
        "Content-Encoding": "gzip",
        "Content-Type": "text/plain; charset=utf-8",
    }
    path = f"/api/v2/write?org={ORG}&bucket={bucket}&precision=s"
    start = time.perf_counter()
    for body in bodies:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        assert response.status == 204, response.status
    elapsed = time.perf_counter() - start
    conn.close()
    return len(lines) / elapsed


def bench_register() -> tuple[float, float, float]:
    from devices import influx

    ids = [f"reg-{i:04d}" for i in range(REGISTER)]
    times: list[float] = [0.0] * REGISTER

    def register(i: int) -> None:
        t = time.perf_counter()
        influx.register_device(ids[i])
        times[i] = time.perf_counter() - t

    start = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:  # as simulate --count registers them
        list(pool.map(register, range(REGISTER)))
    total = time.perf_counter() - start
    return total, sum(times[:100]) / 100, sum(times[-100:]) / 100


def rss_child(days: str) -> None:
    """Run in a subprocess: simulate RSS_DEVICES devices for ``days``, print peak RSS (KiB)."""
    import django
    from django.core.management import call_command

    django.setup()
    ids = [f"rss-{days}-{i:02d}" for i in range(RSS_DEVICES)]
    call_command("simulate", *ids, "--create", "--backfill-days", days, verbosity=0)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def bench_rss(env: dict[str, str], days: str) -> int:
    out = subprocess.run(
        [sys.executable, "-m", "bench.fleet", "--rss-child", days],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout.strip().splitlines()[-1])


def main() -> int:
    from influxdb_client import InfluxDBClient

    token = secrets.token_urlsafe(32)
    ctx = multiprocessing.get_context("spawn")
    ours, theirs = ctx.Pipe()
    server = ctx.Process(target=_serve, args=(token, theirs), daemon=True)
    server.start()
    url = ours.recv()
    try:
        client = InfluxDBClient(url=url, token=token, org=ORG, timeout=60_000)
        _make_buckets(client, "sim", "sim_devices", "tutorial", "ceiling", "reg", "reg_devices")
        _make_buckets(client, "rss1", "rss1_devices", "rss7", "rss7_devices")
        client.close()
        _setup_django(_env(url, token, "sim", "sim_devices"))
        ids = register_sim_devices()
        # Alternating rounds, best of each: the machine may be busy with other work meanwhile.
        sim_rates, ceiling_rates, tutorial_rates = [], [], []
        for _ in range(ROUNDS):
            _clear(url, token, "sim")
            sim_rates.append(bench_simulate(ids))
            tutorial_rates.append(bench_tutorial(url, token, "tutorial"))
            _clear(url, token, "ceiling")
            ceiling_rates.append(bench_ceiling(url, token, "ceiling"))
        sim_rate, ceiling_rate = max(sim_rates), max(ceiling_rates)
        tutorial_rate = max(tutorial_rates)
        sim_points = DEVICES * 1441
        sim_s = sim_points / sim_rate
        rss1 = bench_rss(_env(url, token, "rss1", "rss1_devices"), "1")
        rss7 = bench_rss(_env(url, token, "rss7", "rss7_devices"), "7")
        from django.conf import settings

        settings.INFLUX_BUCKET, settings.INFLUX_BUCKET_AUTH = "reg", "reg_devices"
        from devices import influx

        influx.reset_client()
        reg_total, reg_first, reg_last = bench_register()
    finally:
        ours.send("stop")
        server.join(timeout=10)
        _BENCH_DB.unlink(missing_ok=True)

    vs_tutorial = sim_rate / tutorial_rate
    vs_ceiling = sim_rate / ceiling_rate
    ok_tutorial = "meets" if vs_tutorial >= GOAL_TUTORIAL else "MISSES"
    ok_ceiling = "meets" if vs_ceiling >= GOAL_CEILING else "MISSES"
    rows = [
        f"simulate {DEVICES} devices x 1 day: {sim_points:,} points in {sim_s:.2f} s = "
        f"{sim_rate:,.0f} points/s (best of {ROUNDS}: "
        f"{', '.join(f'{r:,.0f}' for r in sim_rates)})",
        f"tutorial (new client + 1-point sync write each, {TUTORIAL_SAMPLE} points): "
        f"{tutorial_rate:,.0f} points/s (best of {ROUNDS}: "
        f"{', '.join(f'{r:,.0f}' for r in tutorial_rates)})",
        f"ceiling (pre-serialized, {BATCH:,}-line gzip batches, keep-alive): "
        f"{ceiling_rate:,.0f} points/s (best of {ROUNDS}: "
        f"{', '.join(f'{r:,.0f}' for r in ceiling_rates)})",
        f"ratio simulate / tutorial: x{vs_tutorial:.0f} ({ok_tutorial} the "
        f"x{GOAL_TUTORIAL:.0f} goal)",
        f"ratio simulate / ceiling: {vs_ceiling:.0%} ({ok_ceiling} the {GOAL_CEILING:.0%} goal)",
        f"peak RSS of simulate, {RSS_DEVICES} devices: 1 day {rss1 / 1024:.0f} MiB, "
        f"7 days {rss7 / 1024:.0f} MiB (x{rss7 / rss1:.2f})",
        f"register {REGISTER:,} devices (8 threads): {reg_total:.1f} s; per device "
        f"{reg_first * 1000:.0f} ms (first 100) vs {reg_last * 1000:.0f} ms (last 100)",
    ]
    print()
    print("virtual fleet, side by side against one local server (its own process)")
    for row in rows:
        print(f"  {row}")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--rss-child"]:
        rss_child(sys.argv[2])
    else:
        sys.exit(main())
