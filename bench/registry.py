"""Benchmark of registering a fleet: ``python -m bench.registry [N]`` (default 1,000).

Starts the local InfluxDB-compatible server in-process, points Django (``tests.settings``, an
in-memory SQLite database for the change locks) at it and registers N devices one after the
other through ``register_device``, as the register page and ``simulate --count`` do. Prints the
total time, devices/s, ms per device for the first and the last tenth (flat when a registration
does not grow with the fleet) and InfluxDB requests per registration.
"""

from __future__ import annotations

import os
import secrets
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")


def main() -> int:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000
    from bench.app import _setup_django
    from localinflux.runner import LocalInflux

    token = secrets.token_urlsafe(32)
    with LocalInflux(org="iot-center", bucket="iot_center", token=token) as server:
        _setup_django(server, "iot_center", "iot_center_devices")
        from devices import influx

        influx.ensure_buckets()
        tenth = max(1, count // 10)
        times: list[float] = []
        server.stats.reset()
        started = time.perf_counter()
        for n in range(count):
            t0 = time.perf_counter()
            influx.register_device(f"bench-reg-{n:05d}")
            times.append(time.perf_counter() - t0)
        total = time.perf_counter() - started
        requests = server.stats.requests()
        listings = server.stats.requests("/api/v2/authorizations", "GET")
    first = sum(times[:tenth]) / tenth * 1000
    last = sum(times[-tenth:]) / tenth * 1000
    print(f"register {count} devices: {total:.2f} s, {count / total:.0f} devices/s")
    print(
        f"  ms per device: first {tenth} {first:.2f}, last {tenth} {last:.2f} ({last / first:.2f}x)"
    )
    print(
        f"  InfluxDB requests per registration: {requests / count:.2f} "
        f"(authorization listings: {listings})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
