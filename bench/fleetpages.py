"""Benchmark of the device list and the fleet overview at scale: ``python -m bench.fleetpages``
(part of ``make bench``).

Starts the local InfluxDB-compatible server in-process, points Django (``tests.settings``, an
in-memory SQLite database) at it, and at 10 and at 100,000 registered devices measures side by
side, logged in as staff: ``GET /devices/`` (page 1), a page in the middle, a search, ``GET /``
(the overview) and ``GET /devices/live`` (the list's live refresh): median time, InfluxDB
queries and rows per request, and the time the server spent answering them. Bounded to well
under three minutes.

Registry points are written directly in line-protocol batches (as ``bench/app.py`` does), no
authorizations are made. Telemetry: at most ``ACTIVE`` devices write (half of them within the
last 5 minutes, the rest an hour earlier), as a large fleet where most devices are quiet.
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

from bench.app import _local_app, _measure, _staff_client, _write

SIZES = (10, 100_000)
ACTIVE = 1_000  # devices with telemetry (at most)
FIELDS = ("Temperature", "Humidity", "CO2")
POINTS = 3  # per device and field, a minute apart
REPEAT = {10: 7, 100_000: 3}


def _device_id(n: int) -> str:
    return f"fleet-{n:06d}"


def _registry_lines(first: int, last: int, now_ns: int) -> list[str]:
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now_ns // 10**9 - 86_400))
    return [
        f'deviceauth,deviceId={_device_id(n)} key="{n:016x}",token="tok{n}",'
        f'createdAt="{created}" {now_ns - 86_400 * 10**9 + n}'
        for n in range(first, last)
    ]


def _telemetry_lines(first: int, last: int, now_ns: int) -> list[str]:
    out = []
    for n in range(first, min(last, ACTIVE)):
        # Even devices are online (last point a minute ago), odd ones went silent an hour ago.
        newest = now_ns - (60 if n % 2 == 0 else 3_900) * 10**9
        for p in range(POINTS):
            fields = ",".join(f"{f}={20 + (n + p + i) % 17 / 3:.3f}" for i, f in enumerate(FIELDS))
            out.append(f"environment,device={_device_id(n)} {fields} {newest - p * 60 * 10**9}")
    return out


def _get(client, path: str):
    """A logged-in GET of ``path``, answered 200."""

    def get() -> None:
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)

    return get


def _pages(size: int) -> list[tuple[str, str]]:
    from devices import pages

    middle = max(1, size // pages.PER_PAGE // 2)
    page_ids = [_device_id(n) for n in range(min(size, pages.PER_PAGE))]
    return [
        ("list, page 1", "/devices/"),
        ("list, middle page", f"/devices/?page={middle}"),
        ("list, search", "/devices/?q=00042"),
        ("overview", "/"),
        ("list live refresh", "/devices/last-telemetry?" + "&".join(f"d={d}" for d in page_ids)),
    ]


def main() -> int:
    run_start = time.perf_counter()
    with _local_app() as (server, _client, write_api):
        from django.urls import NoReverseMatch, reverse

        staff = _staff_client()
        try:
            reverse("devices:live-list")
            live = True
        except NoReverseMatch:
            live = False
        results: dict[int, list[tuple[str, tuple]]] = {}
        have = 0
        now_ns = time.time_ns()
        for size in SIZES:
            start = time.perf_counter()
            _write(write_api, "iot_center_devices", server.org, _registry_lines(have, size, now_ns))
            _write(write_api, "iot_center", server.org, _telemetry_lines(have, size, now_ns))
            have = size
            print(
                f"  {size:>7,} devices loaded in {time.perf_counter() - start:.1f}s",
                file=sys.stderr,
            )
            results[size] = [
                (name, _measure(server, _get(staff, path), REPEAT[size]))
                for name, path in _pages(size)
                if live or "live" not in name
            ]

    small, large = SIZES
    print()
    print("list and overview at 10 vs 100,000 registered devices (logged-in requests): median")
    print("time; per request, InfluxDB queries, rows returned, time the server spent answering;")
    print("median process CPU time per request (app and server) and its ratio")
    header = (
        f"{'page':<20} | {'10: time':>9} {'q':>2} {'rows':>5} {'server':>8} {'cpu':>8}"
        f" | {'100k: time':>10} {'q':>2} {'rows':>5} {'server':>8} {'cpu':>8}"
        f" | {'time x':>6} {'cpu x':>6}"
    )
    print(header)
    print("-" * len(header))
    for (name, a), (_, b) in zip(results[small], results[large], strict=True):
        print(
            f"{name:<20} | {a[0] * 1000:>6.1f} ms {a[1]:>2.0f} {a[2]:>5,.0f} {a[3] * 1000:>5.1f} ms"
            f" {a[4] * 1000:>5.1f} ms"
            f" | {b[0] * 1000:>7.1f} ms {b[1]:>2.0f} {b[2]:>5,.0f} {b[3] * 1000:>5.1f} ms"
            f" {b[4] * 1000:>5.1f} ms"
            f" | {b[0] / a[0]:>5.1f}x {b[4] / max(a[4], 1e-6):>5.1f}x"
        )
    print(f"whole run {time.perf_counter() - run_start:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
