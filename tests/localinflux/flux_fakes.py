"""An in-memory ``StorageReader`` for the Flux engine's unit tests."""

from __future__ import annotations

import http.client
import io
import json
import time
from bisect import bisect_left
from dataclasses import dataclass, field
from urllib.parse import quote

from influxdb_client.client.flux_csv_parser import FluxCsvParser, FluxSerializationMode
from influxdb_client.rest import ApiException

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
    ctx = make_context(reader, now_ns)
    body = {"query": query, "dialect": CLIENT_DIALECT, **extra}
    response = handle_query(json.dumps(body).encode(), "application/json", ctx)
    return response, ctx


def client_tables(body: bytes):
    """Parse a response body with influxdb-client's own ``FluxCsvParser`` (what apps see)."""
    parser = FluxCsvParser(io.BytesIO(body), FluxSerializationMode.tables)
    list(parser.generator())
    return parser.tables


# -- one query, two paths --------------------------------------------------------------------
#
# The conformance tests run each query both straight into the engine (on a ``FakeReader``) and
# end to end: the same points written as line protocol to a real ``LocalInflux`` through
# influxdb-client, queried over HTTP. Both paths load the same data and answer the same request,
# so one hand-computed expectation checks both.

# (measurement, tags, field, [(time_ns, value), ...]); int values are integers, bool booleans.
SeriesData = tuple[str, dict[str, str], str, list[tuple[int, object]]]
TEST_BUCKET = "iot"


@dataclass
class Reply:
    status: int
    content_type: str
    body: bytes

    @property
    def json(self):
        return json.loads(self.body)


def query_body(query: str, **extra) -> bytes:
    """The JSON body influxdb-client sends, plus fields it cannot send (``now``, ``type`` ...)."""
    return json.dumps({"query": query, "dialect": CLIENT_DIALECT, **extra}).encode()


class FluxPath:
    """Loads data, then answers Flux requests; ``name`` is the pytest id of the path."""

    name = ""

    def load(self, data: list[SeriesData]) -> None:
        raise NotImplementedError

    def post(self, body: bytes, content_type: str = "application/json") -> Reply:
        """One ``POST /api/v2/query`` with exactly this body."""
        raise NotImplementedError

    @property
    def rows_returned(self) -> int:
        """Rows the last query returned, as the server counts them."""
        raise NotImplementedError

    def request(self, query: str, **extra) -> Reply:
        return self.post(query_body(query, **extra))

    def tables(self, query: str, **extra):
        reply = self.request(query, **extra)
        assert reply.status == 200, reply.body
        return client_tables(reply.body)

    def error(self, query: str, **extra) -> tuple[int, dict]:
        reply = self.request(query, **extra)
        assert reply.status != 200, reply.body
        return reply.status, reply.json

    def csv(self, query: str, **extra) -> str:
        reply = self.request(query, **extra)
        assert reply.status == 200, reply.body
        return reply.body.decode()


class EnginePath(FluxPath):
    """``handle_query`` on an in-memory reader: no HTTP, auth or storage in between."""

    name = "engine"

    def __init__(self) -> None:
        self.reader = FakeReader()
        self.last_context: QueryContext | None = None

    def load(self, data: list[SeriesData]) -> None:
        for measurement, tags, field_name, points in data:
            self.reader.add(BUCKETS[TEST_BUCKET], measurement, tags, field_name, points)

    def post(self, body: bytes, content_type: str = "application/json") -> Reply:
        # The wall clock, like the server: a test that needs a fixed now() sends ``now``.
        self.last_context = make_context(self.reader, time.time_ns())
        response = handle_query(body, content_type, self.last_context)
        return Reply(response.status, response.content_type, response.body)

    @property
    def rows_returned(self) -> int:
        return self.last_context.rows_returned


def _lp_escape(text: str, specials: str) -> str:
    for ch in "\\" + specials:
        text = text.replace(ch, "\\" + ch)
    return text


def line_protocol(data: list[SeriesData]) -> str:
    """Line protocol for ``data``, one point per line, nanosecond timestamps."""
    lines = []
    for measurement, tags, field_name, points in data:
        key = _lp_escape(measurement, ", ")
        for tag, value in sorted(tags.items()):
            key += f",{_lp_escape(tag, ',= ')}={_lp_escape(value, ',= ')}"
        name = _lp_escape(field_name, ",= ")
        for t, v in points:
            if isinstance(v, bool):
                text = "true" if v else "false"
            elif isinstance(v, int):
                text = f"{v}i"
            elif isinstance(v, float):
                text = repr(v)
            else:
                text = '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'
            lines.append(f"{key} {name}={text} {t}")
    return "\n".join(lines)


class HttpPath(FluxPath):
    """A real ``LocalInflux``: data goes in through influxdb-client's write API, queries go out
    through ``query_api()``, or raw HTTP when the request needs what the client cannot send
    (``now``, ``extern`` by hand, other dialects, other content types)."""

    name = "http"

    def __init__(self, server, client, write) -> None:
        self.server, self.client, self.write = server, client, write
        # A fresh bucket per test, under the name the queries use, so tests cannot see each
        # other's points.
        api = client.buckets_api()
        old = api.find_bucket_by_name(TEST_BUCKET)
        if old is not None:
            api.delete_bucket(old)
        self.bucket = api.create_bucket(bucket_name=TEST_BUCKET, org=server.org_id)

    def close(self) -> None:
        self.client.buckets_api().delete_bucket(self.bucket)

    def load(self, data: list[SeriesData]) -> None:
        before = self.server.stats.points_written
        self.write.write(bucket=TEST_BUCKET, org=self.server.org, record=line_protocol(data))
        assert self.server.stats.points_written - before == sum(len(d[3]) for d in data)

    def post(self, body: bytes, content_type: str = "application/json") -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
        try:
            headers = {
                "Authorization": f"Token {self.server.token}",
                "Content-Type": content_type,
                "Accept": "application/json",
            }
            conn.request("POST", f"/api/v2/query?org={quote(self.server.org)}", body, headers)
            resp = conn.getresponse()
            return Reply(resp.status, resp.getheader("Content-Type") or "", resp.read())
        finally:
            conn.close()

    def tables(self, query: str, **extra):
        if extra:
            return super().tables(query, **extra)
        try:
            return list(self.client.query_api().query(query))
        except ApiException as exc:
            raise AssertionError(f"{exc.status}: {exc.body!r}") from exc

    def error(self, query: str, **extra) -> tuple[int, dict]:
        if extra:
            return super().error(query, **extra)
        try:
            tables = self.client.query_api().query(query)
        except ApiException as exc:
            return exc.status, json.loads(exc.body)
        raise AssertionError(f"expected an error, got {len(tables)} tables")

    def csv(self, query: str, **extra) -> str:
        if extra:
            return super().csv(query, **extra)
        return self.client.query_api().query_raw(query).data.decode()

    @property
    def rows_returned(self) -> int:
        queries = [r for r in self.server.stats.log if r.path == "/api/v2/query"]
        return queries[-1].rows
