"""Benchmark of a device dashboard at 1 hour vs 30 days: ``python -m bench.dashboard``.

Starts the local InfluxDB-compatible server in-process, points Django (``tests.settings``, an
in-memory SQLite database) at it, writes one virtual device's 30 days of 1-minute telemetry
(every field ``simulate`` writes: 7 fields, 302,400 points) and, when the app has it, runs one
hourly rollup pass (``manage.py rollup``). Then measures side by side, for range 1h and 30d:
``influx.dashboard()``, a logged-in GET of the dashboard page and of ``dashboard/data`` (the
shared render cache cleared before each call, so every call does its work): median time, and
per call the InfluxDB queries, rows returned and the time the server spent answering them
(from its request log). Each call twice: cold (the whole cache cleared first) and warm (the
live refresh: the same range again within the hour, only the shared-viewer render dropped, so
only the dashboard's cache of rollup parts helps). Prints the 30d/1h ratios of both (goal: 30d
<= 2x 1h). Bounded (< 2 min).

Where the time went before the rollup (the same benchmark on the earlier revision): 30d took
14-36x the 1h time, 70-75% of it in the InfluxDB query (every one of the 302,400 raw points read,
walked by five aggregates), most of the rest in the client parsing 2,565 CSV rows. With the
rollup: ~440 rows; what remains is the local server's work on ~20,000 rollup points, the client
parsing 360 wide rows and, for the page, rendering 30d's six times as many points. Cold was
x2.2-3.1 before the work of 2026-11-30 (the local server's windows, pivot, selectors and CSV
2-2.5x faster; the rollup part kept as lists; 7d and 30d starting on the hour, so no raw first
hour; a refresh rendering no markup), x1.7-2.2 after it; then x1.6-2.0 (worst of the three, 6
runs) after the per-point work of the merge and the render was made C-level or cheaper (chart
points by tuple.__new__, means by map; SVG coordinates by "{:.1f}"; table rows and time labels
without per-row generators or strftime); warm x1.1-1.3. The 30d cost grows with the minute of
the hour (the current hour is read raw): with the rollup an hour behind, cold measured x1.9-2.2
before that last work.
"""

from __future__ import annotations

import gc
import os
import secrets
import statistics
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

from bench.app import _local_app

DEVICE = "bench-dash-1"
DAYS = 30
REPEAT = 11
GOAL_RATIO = 2.0
BATCH_LINES = 20_000


def _write_month(write_api, bucket: str, org: str) -> int:
    """30 days of the virtual device's 1-minute points, as ``simulate`` writes them."""
    from devices import simulator
    from devices.influx.fleet import line_prefix

    stop = int(time.time() // 60)
    first = stop - DAYS * 1440 + 1
    model = simulator.Model(DEVICE, 0, moving=True)
    lines = model.lines(line_prefix(DEVICE), first, stop)
    batch, n = [], 0
    for line in lines:
        batch.append(line)
        if len(batch) >= BATCH_LINES:
            write_api.write(bucket=bucket, org=org, record="".join(batch), write_precision="s")
            n += len(batch)
            batch = []
    if batch:
        write_api.write(bucket=bucket, org=org, record="".join(batch), write_precision="s")
        n += len(batch)
    return n


def _one(server, fn, warm: bool) -> tuple[float, float, int, int, float]:
    """(seconds, CPU seconds, queries, rows, server seconds) of one call: cold, the whole
    cache cleared; warm, only the shared render cache (``live.forget``) dropped. CPU time is
    the process's (app and in-process server): on a machine shared with other work it varies
    far less than the wall-clock time."""
    from django.core.cache import cache

    from devices import live

    if warm:
        live.forget(DEVICE)
        fn()  # the previous refresh, as a viewer's page had it
        live.forget(DEVICE)
    else:
        cache.clear()
    server.stats.wait_idle()
    server.stats.reset()
    start, cpu_start = time.perf_counter(), time.process_time()
    fn()
    elapsed = time.perf_counter() - start
    server.stats.wait_idle()
    cpu = time.process_time() - cpu_start
    stats = server.stats
    server_s = sum(r.ms for r in stats.log if r.path.startswith("/api/v2/query")) / 1000
    return elapsed, cpu, stats.queries, stats.rows_returned, server_s


def _measure(server, calls: dict, repeat: int) -> dict:
    """Median (seconds, CPU seconds, queries, rows, server seconds) per call of each of
    ``calls``, measured interleaved (1h, 30d, 1h, ...) so that the machine's load weighs on
    both alike."""
    for fn in calls.values():
        fn()  # warm up: connection, the engine's series index
    gc.collect()
    samples: dict = {(name, warm): [] for name in calls for warm in (False, True)}
    for _ in range(repeat):
        for name, fn in calls.items():
            for warm in (False, True):
                samples[(name, warm)].append(_one(server, fn, warm))
    return {
        key: tuple(statistics.median(s[i] for s in got) for i in range(5))
        for key, got in samples.items()
    }


def _rollup_pass() -> str:
    """One hourly rollup pass, if this checkout has it (the baseline has not)."""
    try:
        from devices.influx import rollup
    except ImportError:
        return "no rollup in this checkout: 30d reads every raw point"
    start = time.perf_counter()
    passes = 0
    while True:
        result = rollup.run_pass()
        passes += 1
        if result.done or passes >= 10:
            break
    # What 30d reads raw: the current hour so far (up to an hour at the end of an hour).
    raw_minutes = (time.time() - result.covered_to.timestamp()) / 60
    return (
        f"rollup: {passes} pass(es) in {time.perf_counter() - start:.1f}s, "
        f"covering {result.covered_from:%Y-%m-%d %H:%M} .. {result.covered_to:%Y-%m-%d %H:%M} UTC; "
        f"30d reads the last {raw_minutes:.0f} minutes raw"
    )


def main() -> int:
    from django.contrib.auth import get_user_model
    from django.test import Client

    run_start = time.perf_counter()
    with _local_app(timeout="60") as (server, _client, write_api):
        from devices import influx

        influx.register_device(DEVICE)
        start = time.perf_counter()
        points = _write_month(write_api, "iot_center", server.org) * 7
        print(f"  {points:,} points written in {time.perf_counter() - start:.1f}s", file=sys.stderr)
        rollup_note = _rollup_pass()
        print(f"  {rollup_note}", file=sys.stderr)

        user = get_user_model().objects.create_user(
            username="bench", password=secrets.token_urlsafe(16)
        )
        web = Client()
        web.force_login(user)
        base = f"/devices/{DEVICE}/dashboard/"
        calls = {}
        for range_key in ("1h", "30d"):

            def svc(range_key=range_key):
                return influx.dashboard(DEVICE, influx.TimeWindow.preset(range_key))

            def page(range_key=range_key):
                response = web.get(base, {"range": range_key})
                assert response.status_code == 200, response.status_code

            def data(range_key=range_key):
                response = web.get(base + "data", {"range": range_key})
                assert response.status_code == 200, response.status_code

            board = svc()
            assert board.charts, board.error
            assert not board.error, board.error
            calls.update({(range_key, 0): svc, (range_key, 1): page, (range_key, 2): data})
        measured = _measure(server, calls, REPEAT)

    print()
    print(f"dashboard of one device with {DAYS} days of 1-minute data (7 fields): median time")
    print("of repeated calls; per call, InfluxDB queries, rows returned and server time;")
    print("cold: the cache cleared first; warm: the same range again (shared render dropped)")
    print(rollup_note)
    cols = f"{'time':>10} {'CPU':>9} {'q':>2} {'rows':>6} {'server':>9}"
    header = f"{'range':>5} | {'what':<20} | cold {cols} | warm {cols}"
    print(header)
    print("-" * len(header))
    names = ("influx.dashboard()", "GET dashboard page", "GET dashboard/data")

    def cells(t, c, q, r, s) -> str:
        return f"{t * 1000:>7.1f} ms {c * 1000:>6.1f} ms {q:>2.0f} {r:>6,.0f} {s * 1000:>6.1f} ms"

    for range_key in ("1h", "30d"):
        for i, name in enumerate(names):
            cold, warm = (cells(*measured[((range_key, i), w)]) for w in (False, True))
            print(f"{range_key:>5} | {name:<20} | cold {cold} | warm {warm}")
    worst = {}
    for label, warm in (("cold", False), ("warm", True)):
        for what, col in (("ratio", 0), ("CPU ratio", 1)):
            got = [
                measured[(("30d", i), warm)][col] / measured[(("1h", i), warm)][col]
                for i in range(len(names))
            ]
            if col == 0:
                worst[label] = max(got)
            print(
                f"{label} {what} 30d / 1h: "
                + ", ".join(f"{name} x{r:.1f}" for name, r in zip(names, got, strict=True))
            )
    for label, ratio in worst.items():
        verdict = "meets" if ratio <= GOAL_RATIO else "MISSES"
        print(f"{label}: worst ratio x{ratio:.1f}: {verdict} the x{GOAL_RATIO:.0f} goal")
    print(f"whole run {time.perf_counter() - run_start:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
