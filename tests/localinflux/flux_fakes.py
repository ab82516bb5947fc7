"""An in-memory ``StorageReader`` for the Flux engine's unit tests."""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field

from localinflux.flux import handle_query
from localinflux.model import FLOAT, INTEGER, STRING, QueryContext, SeriesKey

NS = 1_000_000_000


@dataclass
class FakeSeries:
    key: SeriesKey
    ftype: str
    times: list[int] = field(default_factory=list)
    values: list[object] = field(default_factory=list)
    # How many times the engine copied points out, and how many points, so tests can assert
    # that pruning and push-down really avoid work.
    slices: int = 0
    points_copied: int = 0

    def slice(self, start_ns: int, stop_ns: int):
        lo, hi = bisect_left(self.times, start_ns), bisect_left(self.times, stop_ns)
        self.slices += 1
        self.points_copied += hi - lo
        return self.times[lo:hi], self.values[lo:hi]

    def last(self, start_ns: int, stop_ns: int):
        lo, hi = bisect_left(self.times, start_ns), bisect_left(self.times, stop_ns)
        return (self.times[hi - 1], self.values[hi - 1]) if hi > lo else None

    def first(self, start_ns: int, stop_ns: int):
        lo, hi = bisect_left(self.times, start_ns), bisect_left(self.times, stop_ns)
        return (self.times[lo], self.values[lo]) if hi > lo else None


class FakeReader:
    """Buckets by id; ``add`` writes points the way the line-protocol writer would."""

    def __init__(self) -> None:
        self.buckets: dict[str, dict[SeriesKey, FakeSeries]] = {}
        self._sorted: dict[str, list[FakeSeries] | None] = {}

    def add(self, bucket_id, measurement, tags, field_name, points, ftype=None):
        if ftype is None:
            sample = points[0][1]
            if isinstance(sample, str):
                ftype = STRING
            elif isinstance(sample, bool):
                ftype = "boolean"
            elif isinstance(sample, int):
                ftype = INTEGER
            else:
                ftype = FLOAT
        key = SeriesKey(measurement, tuple(sorted(tags.items())), field_name)
        self._sorted[bucket_id] = None
        series = self.buckets.setdefault(bucket_id, {}).get(key)
        if series is None:
            series = self.buckets[bucket_id][key] = FakeSeries(key, ftype)
        merged = dict(zip(series.times, series.values, strict=True))
        merged.update(points)
        series.times = sorted(merged)
        series.values = [merged[t] for t in series.times]
        return series

    def series(self, bucket_id):
        found = self.buckets.get(bucket_id, {})
        if self._sorted.get(bucket_id) is None:
            keys = sorted(found, key=lambda k: (k.measurement, k.tags, k.field))
            self._sorted[bucket_id] = [found[k] for k in keys]
        return list(self._sorted[bucket_id])

    def all_series(self):
        return [s for b in self.buckets.values() for s in b.values()]


BUCKETS = {"iot": "0000000000000001", "other": "0000000000000002"}


def make_context(reader: FakeReader, now_ns: int = 1_700_000_000 * NS) -> QueryContext:
    ids = set(BUCKETS.values())
    return QueryContext(
        reader=reader,
        resolve_bucket=BUCKETS.get,
        resolve_bucket_id=lambda i: i if i in ids else None,
        now_ns=now_ns,
    )


CLIENT_DIALECT = {
    "header": True,
    "delimiter": ",",
    "annotations": ["datatype", "group", "default"],
    "commentPrefix": "#",
    "dateTimeFormat": "RFC3339",
}


def run(reader: FakeReader, query: str, now_ns: int = 1_700_000_000 * NS, **extra):
    """Send ``query`` as influxdb-client does; returns (response, context)."""
    import json

    ctx = make_context(reader, now_ns)
    body = {"query": query, "dialect": CLIENT_DIALECT, **extra}
    response = handle_query(json.dumps(body).encode(), "application/json", ctx)
    return response, ctx


def csv_text(reader: FakeReader, query: str, **extra) -> str:
    response, _ = run(reader, query, **extra)
    assert response.status == 200, response.body
    return response.body.decode()


def client_tables(body: bytes):
    """Parse a response body with influxdb-client's own ``FluxCsvParser`` (what apps see)."""
    import io

    from influxdb_client.client.flux_csv_parser import FluxCsvParser, FluxSerializationMode

    parser = FluxCsvParser(io.BytesIO(body), FluxSerializationMode.tables)
    list(parser.generator())
    return parser.tables
