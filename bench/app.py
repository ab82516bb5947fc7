"""Benchmark of the device list: ``python -m bench.app``.

Starts the local InfluxDB-compatible server in-process, points Django (``tests.settings``, an
in-memory SQLite database) at it, and for 10, 1,000 and 10,000 registered devices (each with a
few telemetry points) measures side by side ``list_devices()`` and a logged-in ``GET /devices/``:
median time, InfluxDB queries and rows per call (from the server's request log), and how much
slower 10,000 devices are than 10. Bounded to well under two minutes.

Devices are registered by writing their registry points directly (one line-protocol batch)
instead of creating 10,000 authorizations: same measurement, tag and fields as
``register_device`` writes, only the authorization ids and tokens are made up.
"""

from __future__ import annotations

import gc
import os
import secrets
import statistics
import sys
import time
from contextlib import contextmanager

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

SIZES = (10, 1_000, 10_000)
GOAL_S = 0.3  # list_devices() at 10,000 devices
TELEMETRY_FIELDS = ("Temperature", "Humidity", "CO2")
POINTS_PER_FIELD = 3
BATCH_LINES = 20_000
REGISTER_AUTHS = (10, 3_000)
REGISTER_REPEAT = 5
TIME_BUDGET_S = 90.0  # stop repeating measurements once the run has taken this long
BASE_NS = 1_700_000_000 * 10**9


def _device_id(n: int) -> str:
    return f"bench-device-{n:05d}"


def _registry_lines(first: int, last: int) -> list[str]:
    """Registry points exactly as ``register_device`` writes them (fake key and token)."""
    out = []
    for n in range(first, last):
        t = BASE_NS + n * 1_000_000
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t // 10**9))
        out.append(
            f"deviceauth,deviceId={_device_id(n)} "
            f'key="{secrets.token_hex(8)}",token="{secrets.token_urlsafe(24)}",'
            f'createdAt="{created}" {t}'
        )
    return out


def _telemetry_lines(first: int, last: int) -> list[str]:
    out = []
    for n in range(first, last):
        for p in range(POINTS_PER_FIELD):
            t = BASE_NS + 3_600 * 10**9 + n * 1_000_000 + p * 60 * 10**9
            fields = ",".join(
                f"{name}={20 + (n + p + i) % 17 / 3:.3f}" for i, name in enumerate(TELEMETRY_FIELDS)
            )
            out.append(f"environment,device={_device_id(n)} {fields} {t}")
    return out


def _write(write_api, bucket: str, org: str, lines: list[str]) -> None:
    for i in range(0, len(lines), BATCH_LINES):
        write_api.write(bucket=bucket, org=org, record="\n".join(lines[i : i + BATCH_LINES]))


def _setup_django(server, bucket: str, bucket_auth: str, timeout: str = "30") -> None:
    import django
    from django.conf import settings

    settings.DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
    django.setup()
    settings.INFLUX_URL = server.url
    settings.INFLUX_TOKEN = server.token
    settings.INFLUX_ORG = server.org
    settings.INFLUX_BUCKET = bucket
    settings.INFLUX_BUCKET_AUTH = bucket_auth
    settings.INFLUX_TIMEOUT = timeout
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.DEBUG = False

    from django.core.management import call_command

    call_command("migrate", verbosity=0, run_syncdb=True)


@contextmanager
def _local_app(timeout: str = "30"):
    """The local server in-process with the app's two buckets and Django pointed at it:
    (server, its InfluxDB client, a synchronous write API), both closed at the end."""
    from influxdb_client import InfluxDBClient
    from influxdb_client.client.write_api import SYNCHRONOUS

    from localinflux.runner import LocalInflux

    token = secrets.token_urlsafe(32)
    with LocalInflux(org="iot-center", bucket="iot_center", token=token) as server:
        client = InfluxDBClient(url=server.url, token=server.token, org=server.org, timeout=60_000)
        client.buckets_api().create_bucket(bucket_name="iot_center_devices", org=server.org)
        write_api = client.write_api(write_options=SYNCHRONOUS)
        try:
            _setup_django(server, "iot_center", "iot_center_devices", timeout)
            yield server, client, write_api
        finally:
            write_api.close()
            client.close()


def _staff_client():
    from django.contrib.auth import get_user_model
    from django.test import Client

    user = get_user_model().objects.create_user(
        username="bench", password=secrets.token_urlsafe(16), is_staff=True
    )
    client = Client()
    client.force_login(user)
    return client


def _measure(server, fn, repeat: int) -> tuple[float, float, float, float, float]:
    """(median seconds, queries, rows, server seconds, median process CPU seconds) per call over
    ``repeat`` calls.

    CPU time is the whole process's (the app and the in-process server): on a shared machine it
    varies far less than wall-clock time."""
    fn()  # warm up: connection, caches, the engine's series index
    gc.collect()
    server.stats.wait_idle()
    server.stats.reset()
    times, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    server.stats.wait_idle()
    stats = server.stats
    server_s = sum(r.ms for r in stats.log if r.path.startswith("/api/v2/query")) / 1000
    return (
        statistics.median(times),
        stats.queries / repeat,
        stats.rows_returned / repeat,
        server_s / repeat,
        statistics.median(cpu),
    )


def _measure_register(server, client, service) -> list[tuple[int, float, float]]:
    """register_device() with REGISTER_AUTHS other authorizations in the org, side by side."""
    from influxdb_client import Permission, PermissionResource

    resource = PermissionResource(type="buckets", id=server.bucket_id, org_id=server.org_id)
    auths = client.authorizations_api()
    out, made = [], 0
    for count in REGISTER_AUTHS:
        while made < count:
            auths.create_authorization(
                org_id=server.org_id, permissions=[Permission(action="write", resource=resource)]
            )
            made += 1
        server.stats.wait_idle()
        server.stats.reset()
        times = []
        for n in range(REGISTER_REPEAT):
            start = time.perf_counter()
            service.register_device(f"bench-register-{count}-{n}")
            times.append(time.perf_counter() - start)
        server.stats.wait_idle()
        out.append((count, statistics.median(times), server.stats.requests() / REGISTER_REPEAT))
        made += REGISTER_REPEAT
    return out


def main() -> int:
    run_start = time.perf_counter()
    with _local_app() as (server, client, write_api):
        from devices import influx as service

        staff = _staff_client()
        results = []
        have = 0
        for size in SIZES:
            start = time.perf_counter()
            _write(write_api, "iot_center_devices", server.org, _registry_lines(have, size))
            _write(write_api, "iot_center", server.org, _telemetry_lines(have, size))
            have = size
            load_s = time.perf_counter() - start
            assert service.list_devices().total == size, "registry points not all listed"
            response = staff.get("/devices/")
            assert response.status_code == 200, response.status_code
            repeat = 21 if size < 10_000 else 15
            if time.perf_counter() - run_start > TIME_BUDGET_S:
                repeat = 3
            svc = _measure(server, service.list_devices, repeat)
            page = _measure(server, lambda: staff.get("/devices/"), repeat)
            results.append((size, load_s, svc, page))
            print(f"  {size:>6,} devices loaded in {load_s:.1f}s, measured", file=sys.stderr)
        registers = _measure_register(server, client, service)

    print()
    print("device list at N devices: median time of repeated calls; per call, InfluxDB queries,")
    print("rows returned and the mean time the server spent answering them")
    header = (
        f"{'devices':>8} | {'list_devices()':>14} {'queries':>7} {'rows':>7} {'server':>9}"
        f" | {'GET /devices/':>13} {'queries':>7} {'rows':>7} {'server':>9}"
    )
    print(header)
    print("-" * len(header))
    for size, _load, (s_t, s_q, s_r, s_s, _), (p_t, p_q, p_r, p_s, _) in results:
        print(
            f"{size:>8,} | {s_t * 1000:>11.1f} ms {s_q:>7.0f} {s_r:>7,.0f} {s_s * 1000:>6.1f} ms"
            f" | {p_t * 1000:>10.1f} ms {p_q:>7.0f} {p_r:>7,.0f} {p_s * 1000:>6.1f} ms"
        )
    small, large = results[0], results[-1]
    print(
        f"ratio {large[0]:,} vs {small[0]:,} devices: list_devices() x"
        f"{large[2][0] / small[2][0]:.1f}, GET /devices/ x{large[3][0] / small[3][0]:.1f}"
    )
    print()
    print("register_device() beside N other authorizations in the org (it reads the org's")
    print("authorization list to revoke leftovers of failed changes): median time, requests")
    for count, median_s, requests in registers:
        print(f"  {count:>6,} authorizations: {median_s * 1000:>7.1f} ms, {requests:.0f} requests")
    (few, few_s, _), (many, many_s, _) = registers[0], registers[-1]
    print(f"  ratio {many:,} vs {few:,}: x{many_s / few_s:.1f}")
    verdict = "meets" if large[2][0] <= GOAL_S else "MISSES"
    print(
        f"list_devices() at {large[0]:,} devices: {large[2][0] * 1000:.0f} ms, {verdict} the "
        f"{GOAL_S * 1000:.0f} ms goal; whole run {time.perf_counter() - run_start:.0f}s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
