"""Benchmark of the local InfluxDB-compatible server: ``python -m bench.localinflux``.

Prints, from one run: write ingest through the real client next to the parser alone, ``last()``
over 1,000 series x 1,000 points, ``aggregateWindow(every: 1h, fn: mean)`` over 30 days of
1-minute data for 5 fields, and memory per million stored points. Bounded to about a minute.
``--case rollup`` (not in the default run) times the 30-day dashboard query of one device over
hourly rollup points (``devices/queries/rollup.py``'s ``dashboard_rollup``), whole and its
rolled-windows part alone.

``python -m bench.localinflux --case last --json`` runs one case and prints its figures as one
JSON object (what ``bench.compare`` runs against two revisions of the code).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import time
import tracemalloc

from influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS

from localinflux.lineprotocol import parse
from localinflux.store import Store

try:  # the in-process server's module, before and after its rename (bench.compare runs both)
    from localinflux.runner import LocalInflux
except ImportError:
    from localinflux.testing import LocalInflux

T0_S = 1_700_000_000 - 1_700_000_000 % 86400  # a midnight, so hourly windows align
BATCH = 5_000
QUERY_GOAL_S = 0.2
INGEST_GOAL = 100_000
BENCH_TOKEN = "bench-operator-token"  # noqa: S105 - a throwaway local server


def ingest_batches(n_batches: int) -> list[str]:
    """IoT-like lines: 100 devices, 5 fields each, one line per device per second."""
    out = []
    n = 0
    for _ in range(n_batches):
        lines = []
        for _ in range(BATCH):
            dev = n % 100
            ts = (T0_S + n // 100) * 1_000_000_000
            lines.append(
                f"environment,clientId=dev{dev:03d},site=s{dev % 7} "
                f"Temperature={20 + (n % 50) / 10},Humidity={40 + (n % 30) / 3},"
                f"Pressure={1013 + (n % 20) / 10},CO2={400 + n % 100}i,TVOC={n % 300}i {ts}"
            )
            n += 1
        out.append("\n".join(lines))
    return out


def bench_ingest(server: LocalInflux, client: InfluxDBClient) -> dict:
    batches = ingest_batches(40)
    lines = len(batches) * BATCH
    start = time.perf_counter()
    for body in batches:
        parse(body, "ns", 0, {})
    parse_s = time.perf_counter() - start

    api = client.write_api(write_options=SYNCHRONOUS)
    client.buckets_api().create_bucket(bucket_name="ingest", org=server.org)
    start = time.perf_counter()
    for body in batches:
        api.write("ingest", record=body)
    write_s = time.perf_counter() - start
    api.close()
    client_rate = lines / write_s
    parse_rate = lines / parse_s
    print(f"write ingest, {lines:,} points (lines of 5 fields) in {BATCH:,}-line batches:")
    print(
        f"  real client -> HTTP -> parse -> store: {client_rate:>10,.0f} points/s "
        f"(goal {INGEST_GOAL:,}: x{client_rate / INGEST_GOAL:.2f})"
    )
    print(f"  parser alone (baseline):               {parse_rate:>10,.0f} points/s")
    print(
        f"  HTTP + storage overhead: client rate is {client_rate / parse_rate:.0%} of the parser's"
    )
    return {"ingest_points_per_s": client_rate, "parse_points_per_s": parse_rate}


def timed_query(client: InfluxDBClient, flux: str, repeat: int = 3) -> tuple[float, int, float]:
    """(best time, rows, median time) of ``repeat`` runs of ``flux`` through the client."""
    times = []
    rows = 0
    for _ in range(repeat):
        start = time.perf_counter()
        tables = client.query_api().query(flux)
        times.append(time.perf_counter() - start)
        rows = sum(len(t.records) for t in tables)
    return min(times), rows, statistics.median(times)


def bench_last(server: LocalInflux, client: InfluxDBClient, repeat: int = 3) -> dict:
    client.buckets_api().create_bucket(bucket_name="last", org=server.org)
    api = client.write_api(write_options=SYNCHRONOUS)
    series, points = 1000, 1000
    per_batch = BATCH // series or 1
    for chunk in range(0, points, per_batch):
        body = "\n".join(
            f"m,dev=d{s:04d} v={p}.5 {(T0_S + p) * 1_000_000_000}"
            for p in range(chunk, min(points, chunk + per_batch))
            for s in range(series)
        )
        api.write("last", record=body)
    api.close()
    flux = (
        f'from(bucket: "last") |> range(start: {T0_S - 60}, stop: {T0_S + 2 * points}) '
        '|> filter(fn: (r) => r._measurement == "m") |> last()'
    )
    took, rows, median = timed_query(client, flux, repeat)
    print(
        f"last() over {series:,} series x {points:,} points: {took:.3f} s, {rows:,} rows "
        f"(goal {QUERY_GOAL_S} s: {took / QUERY_GOAL_S:.2f} of the goal)"
    )
    return {"last_s": took, "last_median_s": median}


def bench_aggregate(server: LocalInflux, client: InfluxDBClient, repeat: int = 3) -> dict:
    client.buckets_api().create_bucket(bucket_name="agg", org=server.org)
    api = client.write_api(write_options=SYNCHRONOUS)
    minutes = 30 * 24 * 60
    for chunk in range(0, minutes, BATCH):
        body = "\n".join(
            f"environment,clientId=dev1 Temperature={20 + m % 50 / 10},Humidity={40 + m % 30},"
            f"Pressure={1000 + m % 20},CO2={400 + m % 90},TVOC={m % 300} {(T0_S + 60 * m)}"
            for m in range(chunk, min(minutes, chunk + BATCH))
        )
        api.write("agg", record=body, write_precision="s")
    api.close()
    flux = (
        f'from(bucket: "agg") |> range(start: {T0_S}, stop: {T0_S + minutes * 60}) '
        '|> filter(fn: (r) => r._measurement == "environment") '
        "|> aggregateWindow(every: 1h, fn: mean)"
    )
    took, rows, median = timed_query(client, flux, repeat)
    print(
        f"aggregateWindow(1h, mean) over 30 days x 1-min x 5 fields ({minutes * 5:,} points): "
        f"{took:.3f} s, {rows:,} rows (goal {QUERY_GOAL_S} s: {took / QUERY_GOAL_S:.2f} of it)"
    )
    return {"aggregate_s": took, "aggregate_median_s": median}


ROLLUP_FIELDS = ("Temperature", "Humidity", "Pressure", "CO2", "TVOC", "Lat", "Lon")
ROLLUP_STATS = ("sum", "count", "min", "max")
ROLLUP_DEVICE = "dev-rollup-1"
ROLLUP_HOURS = 30 * 24


def _rollup_lines(device: str, first_hour_s: int, hours: int) -> list[str]:
    """Hourly rollup points as ``devices/influx/rollup.py`` writes them: per hour and stat one
    line of every field, tagged with both device tags and the stat, at the hour's start."""
    lines = []
    for h in range(hours):
        ts = (first_hour_s + 3600 * h) * 1_000_000_000
        count = 60.0
        for stat in ROLLUP_STATS:
            cells = []
            for i, name in enumerate(ROLLUP_FIELDS):
                mean = 20.0 + i * 7.3 + (h % 24) / 7
                value = {"sum": mean * count, "count": count, "min": mean - 1.25}.get(
                    stat, mean + 1.5
                )
                cells.append(f"{name}={value!r}")
            lines.append(
                f"environment_1h,clientId={device},device={device},stat={stat} "
                f"{','.join(cells)} {ts}"
            )
    return lines


def _raw_lines(device: str, first_s: int, minutes: int) -> list[str]:
    """The device's 1-minute telemetry (every field) for the dashboard's raw head and tail."""
    return [
        f"environment,clientId={device},device={device} "
        + ",".join(f"{name}={20 + i * 7.3 + m % 17 / 4}" for i, name in enumerate(ROLLUP_FIELDS))
        + f" {(first_s + 60 * m) * 1_000_000_000}"
        for m in range(minutes)
    ]


def _iso(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def rollup_query(device: str, head: tuple, rolled: tuple, tail: tuple) -> tuple[str, str]:
    """The text ``dashboard_rollup`` sends for a 30-day dashboard (2h windows), and its
    rolled-windows part alone (``rolled`` and its sum/count windows pivoted)."""
    match = f'(r["device"] == "{device}" or r["clientId"] == "{device}")'
    fields = " or ".join(f'r["_field"] == "{f}"' for f in ROLLUP_FIELDS)
    owner_keep = '  |> keep(columns: ["_value", "_field", "device", "clientId"])\n'
    window_keep = '  |> keep(columns: ["_time", "_value", "_field", "device", "clientId"])\n'

    def source(name: str, measurement: str, bounds: tuple) -> str:
        return (
            f'{name} = from(bucket: "rollup")\n'
            f"  |> range(start: {_iso(bounds[0])}, stop: {_iso(bounds[1])})\n"
            f'  |> filter(fn: (r) => r._measurement == "{measurement}" and {match})\n'
            f"  |> filter(fn: (r) => ({fields}))\n\n"
        )

    raw = ""
    for name, bounds in (("head", head), ("tail", tail)):
        raw += source(name, "environment", bounds)
        for fn in ("sum", "count"):
            raw += (
                f"{name}\n  |> aggregateWindow(every: 2h, fn: {fn}, createEmpty: false)\n"
                f'{window_keep}  |> yield(name: "{name}_{fn}")\n'
            )
        for fn in ("min", "max"):
            raw += f'{name}\n  |> {fn}()\n{owner_keep}  |> yield(name: "{name}_{fn}")\n'
    windows = (
        source("rolled", "environment_1h", rolled) + "rolled\n"
        '  |> filter(fn: (r) => r["stat"] == "sum" or r["stat"] == "count")\n'
        "  |> aggregateWindow(every: 2h, fn: sum, createEmpty: false)\n"
        '  |> keep(columns: ["_time", "_value", "_field", "stat"])\n'
        '  |> pivot(rowKey: ["_time"], columnKey: ["_field", "stat"], valueColumn: "_value")\n'
        '  |> yield(name: "rollup_windows")\n'
    )
    extremes = "".join(
        f'rolled\n  |> filter(fn: (r) => r["stat"] == "{fn}")\n  |> {fn}()\n'
        f'{owner_keep}  |> yield(name: "rollup_{fn}")\n'
        for fn in ("min", "max")
    )
    return raw + windows + extremes, windows


def _server_query_s(server: LocalInflux, client: InfluxDBClient, flux: str, repeat: int) -> float:
    """Best time the server itself spent answering ``flux`` (its request log), of ``repeat``."""
    best_s = None
    for _ in range(repeat):
        server.stats.wait_idle()
        server.stats.reset()
        client.query_api().query(flux)
        server.stats.wait_idle()
        took = sum(r.ms for r in server.stats.log if r.path.startswith("/api/v2/query")) / 1000
        best_s = took if best_s is None else min(best_s, took)
    return best_s


def bench_rollup(server: LocalInflux, client: InfluxDBClient, repeat: int = 3) -> dict:
    """The 30-day dashboard query of one device among 20 over their hourly rollup points."""
    client.buckets_api().create_bucket(bucket_name="rollup", org=server.org)
    api = client.write_api(write_options=SYNCHRONOUS)
    # An odd hour as the first rolled one, as a dashboard opened at hh:mm has (2h windows).
    rolled = (T0_S + 3600, T0_S + 3600 * (1 + ROLLUP_HOURS))
    head, tail = (rolled[0] - 1305, rolled[0]), (rolled[1], rolled[1] + 2295)
    for d in range(20):
        device = ROLLUP_DEVICE if d == 0 else f"dev-rollup-other-{d}"
        api.write("rollup", record="\n".join(_rollup_lines(device, T0_S, ROLLUP_HOURS + 2)))
        for first_s in (head[0] - 600, tail[0] - 600):
            api.write("rollup", record="\n".join(_raw_lines(device, first_s, 60)))
    api.close()
    whole, windows = rollup_query(ROLLUP_DEVICE, head, rolled, tail)
    runs = max(repeat, 1) * 5  # ~50 ms queries: more runs for a steady best
    took, rows, median = timed_query(client, whole, runs)
    server_s = _server_query_s(server, client, whole, runs)
    windows_s = _server_query_s(server, client, windows, runs)
    print(
        f"30-day dashboard query over hourly rollups ({len(ROLLUP_FIELDS)} fields x "
        f"{len(ROLLUP_STATS)} stats x {ROLLUP_HOURS} h): {took * 1000:.1f} ms through the "
        f"client, {rows:,} rows; server {server_s * 1000:.1f} ms, its rolled windows alone "
        f"{windows_s * 1000:.1f} ms"
    )
    return {
        "rollup_s": took,
        "rollup_median_s": median,
        "rollup_server_s": server_s,
        "rollup_windows_server_s": windows_s,
    }


def bench_memory() -> dict:
    """Memory a fresh store allocates for 1,000,000 float points in 1,000 series.

    Measured with tracemalloc around the store writes only (the parsed input is built before
    tracing starts), so garbage from parsing and the allocator's reuse do not blur the number.
    """
    body = "\n".join(
        f"mem,dev=d{s:04d} v={p}.25 {(T0_S + p) * 1_000_000_000}"
        for p in range(1000)
        for s in range(1000)
    )
    points, errors = parse(body, "ns", 0, {})
    assert not errors
    del body
    store = Store()
    gc.collect()
    tracemalloc.start()
    for i in range(0, len(points), BATCH):
        store.write("b", points[i : i + BATCH])
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"memory: {held / 1e6:.1f} MB per million stored float points "
        f"(tracemalloc, {store.point_count():,} points in 1,000 series)"
    )
    return {"memory_mb_per_million": held / 1e6}


CASES = ("memory", "ingest", "last", "aggregate", "rollup")


def run_case(name: str, repeat: int = 3) -> dict:
    """Run one case on a fresh in-process server; its figures (seconds, points/s, MB)."""
    if name == "memory":
        return bench_memory()
    server = LocalInflux(org="bench", bucket="bench", token=BENCH_TOKEN)
    with server, InfluxDBClient(server.url, server.token, org=server.org, timeout=60_000) as c:
        if name == "ingest":
            return bench_ingest(server, c)
        if name == "last":
            return bench_last(server, c, repeat)
        if name == "aggregate":
            return bench_aggregate(server, c, repeat)
        if name == "rollup":
            return bench_rollup(server, c, repeat)
    raise ValueError(f"unknown case {name!r}; cases: {', '.join(CASES)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=CASES, help="run only this case")
    parser.add_argument("--json", action="store_true", help="print the case's figures as JSON")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each query")
    args = parser.parse_args()
    if args.case:
        figures = run_case(args.case, args.repeat)
        if args.json:
            print(json.dumps({"case": args.case, **figures}))
        return
    started = time.perf_counter()
    # Rates scale with free CPU: show how busy the machine was so runs can be compared.
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    bench_memory()
    server = LocalInflux(org="bench", bucket="bench", token=BENCH_TOKEN)
    with server, InfluxDBClient(server.url, server.token, org=server.org, timeout=60_000) as c:
        bench_ingest(server, c)
        bench_last(server, c)
        bench_aggregate(server, c)
    print(f"total run: {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
