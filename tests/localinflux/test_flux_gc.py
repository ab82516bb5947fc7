"""The engine leaves Python's garbage collector alone: it is the process's, not the query's.

(It used to switch the collector off while any query ran, so code running beside a query, such
as the test suite or the app in the same process, ran with it off most of the time, and the last
query switched it back on even if someone else had switched it off meanwhile.)
"""

from __future__ import annotations

import gc
import threading
import time

import pytest

from tests.localinflux.flux_fakes import NS, FakeReader, run

B = "0000000000000001"
T0 = 1704067200 * NS
QUERY = (
    f'from(bucket: "iot") |> range(start: {T0 // NS}, stop: {T0 // NS + 600})'
    ' |> filter(fn: (r) => r._measurement == "m") |> aggregateWindow(every: 1m, fn: mean)'
)


@pytest.fixture
def reader():
    r = FakeReader()
    for n in range(20):
        r.add(B, "m", {"dev": f"d{n}"}, "v", [(T0 + i * NS, float(i)) for i in range(600)])
    return r


@pytest.fixture
def collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    gc.enable() if was else gc.disable()


def test_the_collector_stays_on_while_queries_run_in_other_threads(reader, collector_on):
    stop = threading.Event()
    done = []

    def queries():
        while not stop.is_set():
            reply, _ = run(reader, QUERY, now_ns=T0 + 3600 * NS)
            done.append(reply.status)

    workers = [threading.Thread(target=queries) for _ in range(2)]
    for worker in workers:
        worker.start()
    samples = []
    deadline = time.monotonic() + 30
    try:
        while (len(done) < 10 or len(samples) < 200) and time.monotonic() < deadline:
            samples.append(gc.isenabled())
    finally:
        stop.set()
        for worker in workers:
            worker.join()
    assert len(done) >= 10
    assert set(done) == {200}
    assert samples.count(False) == 0, f"off in {samples.count(False)} of {len(samples)} samples"


class DisablingReader(FakeReader):
    """Someone else in the process switches the collector off while a query is running."""

    def series(self, bucket_id):
        gc.disable()
        return super().series(bucket_id)


def test_a_collector_switched_off_during_a_query_stays_off(collector_on):
    reader = DisablingReader()
    reader.add(B, "m", {"dev": "d"}, "v", [(T0, 1.0)])
    reply, _ = run(reader, QUERY, now_ns=T0 + 3600 * NS)
    assert reply.status == 200
    assert not gc.isenabled()


def test_a_collector_switched_off_before_a_query_stays_off(reader, collector_on):
    gc.disable()
    run(reader, QUERY, now_ns=T0 + 3600 * NS)
    run(reader, QUERY + " |> nosuchfunction()", now_ns=T0 + 3600 * NS)
    assert not gc.isenabled()


def test_the_collector_is_on_after_queries_and_errors(reader, collector_on):
    run(reader, QUERY, now_ns=T0 + 3600 * NS)
    run(reader, QUERY + " |> nosuchfunction()", now_ns=T0 + 3600 * NS)
    assert gc.isenabled()


@pytest.mark.parametrize(
    "query",
    [
        QUERY,
        'import "strings"\n'
        + QUERY.replace(" |> aggregateWindow(every: 1m, fn: mean)", "")
        + " |> map(fn: (r) => ({r with up: strings.toLower(v: r.dev)})) |> group() |> count()",
    ],
)
def test_a_query_leaves_no_cycles_behind_for_the_collector(reader, query):
    """What a query builds is freed when it is answered, not kept in a reference cycle for the
    next full collection (which then walks every stored point: slow pages at 100,000 devices)."""
    run(reader, query)  # warm-up: caches filled once
    was = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        response, _ = run(reader, query)
        left = gc.collect()
    finally:
        gc.enable() if was else gc.disable()
    assert response.status == 200
    assert left < 50  # before: thousands (every table of the answer)
