"""Benchmark of the alert evaluator: ``python -m bench.alerts``.

Starts the local InfluxDB-compatible server in-process, points Django (``tests.settings``, an
in-memory SQLite database) at it, and measures one ``alerts.services.evaluate()`` pass at 10
and 1,000 devices (11 minutes of CO2 above the limit each) with 1 and with 100 enabled rules
(the same field and window, thresholds and scopes varied): the first pass (every device's
alert fires; no channel, so nothing is sent) and the steady pass (nothing changes), with
InfluxDB queries, rows and database queries per pass, side by side with the ratios 1,000 vs
10 devices and 100 vs 1 rules.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

DEVICES = (10, 1_000)
RULES = (1, 100)
REPEAT = 7
MINUTES = 10


def _telemetry_lines(first: int, last: int, now_s: int) -> list[str]:
    """One CO2 point a minute over the last 11 minutes (above 1500: the rule breaks)."""
    return [
        f"environment,device=bench-alert-{n:05d} CO2=1800 {(now_s - m * 60) * 10**9}"
        for n in range(first, last)
        for m in range(MINUTES + 1, -1, -1)
    ]


def _make_rules(count: int) -> None:
    from alerts.models import Rule

    Rule.objects.all().delete()  # alerts and states go with them
    rules = [Rule(name="co2", field="CO2", threshold=1500, minutes=MINUTES)]
    for i in range(count - 1):  # quiet ones: higher limits, half scoped to one device
        scope = "" if i % 2 else f"bench-alert-{i:05d}"
        rules.append(
            Rule(name=f"r{i}", field="CO2", threshold=2000 + i, minutes=MINUTES, device_id=scope)
        )
    for rule in rules:
        rule.full_clean()
    Rule.objects.bulk_create(rules)


def _pass(server, evaluate) -> tuple[float, int, int, int, int, float]:
    """(seconds, InfluxDB queries, rows, database queries, transitions, InfluxDB server
    seconds) of one pass."""
    from django.db import connection

    db_queries = 0

    def count(execute, sql, params, many, context):
        nonlocal db_queries
        db_queries += 1
        return execute(sql, params, many, context)

    server.stats.wait_idle()
    server.stats.reset()
    with connection.execute_wrapper(count):
        start = time.perf_counter()
        result = evaluate(notify=False)
        seconds = time.perf_counter() - start
    server.stats.wait_idle()
    server_s = sum(r.ms for r in server.stats.log if r.path.startswith("/api/v2/query")) / 1000
    return (seconds, server.stats.queries, server.stats.rows_returned, db_queries,
            len(result.fired) + len(result.resolved), server_s)  # fmt: skip


def main() -> int:
    from bench.app import _local_app, _write

    run_start = time.perf_counter()
    with _local_app() as (server, _client, write_api):
        from alerts.services import evaluate

        results = {}
        have = 0
        for devices in DEVICES:
            now_s = int(time.time())
            _write(write_api, "iot_center", server.org, _telemetry_lines(have, devices, now_s))
            have = devices
            for rules in RULES:
                _make_rules(rules)
                first = _pass(server, evaluate)
                assert first[4] == devices, f"{first[4]} fired, expected {devices}"
                steady = [_pass(server, evaluate) for _ in range(REPEAT)]
                assert all(s[4] == 0 for s in steady), "a steady pass changed something"
                median = statistics.median(s[0] for s in steady)
                results[(devices, rules)] = (first, median, steady[0])
                print(f"  {devices:>5,} devices x {rules:>3} rules measured", file=sys.stderr)

    print()
    print("alerts: one evaluate() pass; first = every device's alert fires, steady = nothing")
    print("changes (median of 7); per pass: InfluxDB queries, rows and the time the server spent")
    print("answering them, database queries")
    header = (
        f"{'devices':>7} {'rules':>5} | {'first pass':>10} {'fired':>5} {'db q':>5}"
        f" | {'steady pass':>11} {'influx q':>8} {'rows':>6} {'server':>9} {'db q':>5}"
    )
    print(header)
    print("-" * len(header))
    for (devices, rules), (first, median, steady) in results.items():
        print(
            f"{devices:>7,} {rules:>5} | {first[0] * 1000:>7.1f} ms {first[4]:>5} {first[3]:>5}"
            f" | {median * 1000:>8.1f} ms {steady[1]:>8} {steady[2]:>6,}"
            f" {steady[5] * 1000:>6.1f} ms {steady[3]:>5}"
        )
    small, big = DEVICES[0], DEVICES[-1]
    few, many = RULES[0], RULES[-1]
    for rules in RULES:
        ratio = results[(big, rules)][1] / results[(small, rules)][1]
        print(f"ratio {big:,} vs {small} devices ({rules} rule{'s' if rules > 1 else ''}): "
              f"steady pass x{ratio:.1f}")  # fmt: skip
    for devices in DEVICES:
        ratio = results[(devices, many)][1] / results[(devices, few)][1]
        print(f"ratio {many} vs {few} rules ({devices:,} devices): steady pass x{ratio:.1f}")
    queries = {r[2][1] for r in results.values()}
    print(f"InfluxDB queries per pass in every case: {sorted(queries)}; "
          f"whole run {time.perf_counter() - run_start:.0f}s")  # fmt: skip
    return 0 if len(queries) == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
