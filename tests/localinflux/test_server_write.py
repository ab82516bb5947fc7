"""Writes through the real client: line protocol, precisions, errors as InfluxDB 2.7 reports them.

What was stored is read back through the storage contract (``StorageReader``) the Flux engine
uses; round trips through Flux queries live in ``test_server_query.py``.
"""

from __future__ import annotations

import gzip
import time
from datetime import UTC, datetime

import pytest
from influxdb_client import InfluxDBClient, Point, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.rest import ApiException

from localinflux.lineprotocol import MAX_TIME_NS
from tests.localinflux.conftest import write_url

FULL = (-(2**63), 2**63)


def stored(server, bucket_id=None):
    """{(measurement, tags, field): [(time_ns, value), ...]} for a bucket."""
    out = {}
    for ref in server.engine.store.series(bucket_id or server.bucket_id):
        times, values = ref.slice(*FULL)
        out[(ref.key.measurement, ref.key.tags, ref.key.field)] = list(
            zip(times, values, strict=True)
        )
    return out


def test_it_stores_every_field_type(server, write, bucket):
    write.write(
        bucket.name,
        record='m,host=a f=1.5,i=-3i,u=7u,s="hi",b=true 1000',
    )
    data = stored(server, bucket.id)
    tags = (("host", "a"),)
    assert data[("m", tags, "f")] == [(1000, 1.5)]
    assert data[("m", tags, "i")] == [(1000, -3)]
    assert data[("m", tags, "u")] == [(1000, 7)]
    assert data[("m", tags, "s")] == [(1000, "hi")]
    assert data[("m", tags, "b")] == [(1000, True)]
    types = {ref.key.field: ref.ftype for ref in server.engine.store.series(bucket.id)}
    assert types == {
        "f": "float",
        "i": "integer",
        "u": "unsigned",
        "s": "string",
        "b": "boolean",
    }


@pytest.mark.parametrize(
    ("spelling", "value"),
    [(s, True) for s in ("t", "T", "true", "True", "TRUE")]
    + [(s, False) for s in ("f", "F", "false", "False", "FALSE")],
)
def test_it_accepts_every_boolean_spelling(server, write, bucket, spelling, value):
    write.write(bucket.name, record=f"m ok={spelling} 5")
    assert stored(server, bucket.id)[("m", (), "ok")] == [(5, value)]


@pytest.mark.parametrize(
    ("precision", "factor"),
    [
        (WritePrecision.NS, 1),
        (WritePrecision.US, 1_000),
        (WritePrecision.MS, 1_000_000),
        (WritePrecision.S, 1_000_000_000),
    ],
)
def test_it_scales_timestamps_by_precision(server, write, bucket, precision, factor):
    write.write(bucket.name, record="m v=1 1700000000", write_precision=precision)
    assert stored(server, bucket.id)[("m", (), "v")] == [(1700000000 * factor, 1.0)]


def test_it_converts_point_times_to_the_request_precision(server, write, bucket):
    when = datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    write.write(bucket.name, record=Point("m").field("v", 1.0).time(when, WritePrecision.MS))
    ((t, _),) = stored(server, bucket.id)[("m", (), "v")]
    assert t == 1704164645678000000  # cut to milliseconds, then scaled to nanoseconds


def test_it_uses_server_time_when_the_timestamp_is_missing(server, write, bucket):
    before = time.time_ns()
    write.write(bucket.name, record="m v=1")
    after = time.time_ns()
    ((t, _),) = stored(server, bucket.id)[("m", (), "v")]
    assert before <= t <= after


def test_it_truncates_server_time_to_the_precision(server, write, bucket):
    write.write(bucket.name, record="m v=1", write_precision=WritePrecision.S)
    ((t, _),) = stored(server, bucket.id)[("m", (), "v")]
    assert t % 1_000_000_000 == 0


def test_it_unescapes_measurement_tags_fields_and_strings(server, write, bucket):
    line = r'my\ meas\,x,tag\ key=a\,b\=c\ d fld\=1="say \"hi\" \\ there",other=2i 10'
    write.write(bucket.name, record=line)
    data = stored(server, bucket.id)
    tags = (("tag key", "a,b=c d"),)
    assert data[("my meas,x", tags, "fld=1")] == [(10, 'say "hi" \\ there')]
    assert data[("my meas,x", tags, "other")] == [(10, 2)]


def test_it_round_trips_what_the_client_escapes(server, write, bucket):
    point = (
        Point("weird, meas")
        .tag("k=ey", "v a,l\nue")
        .field("f i=eld", 'quote " and \\ backslash, = space')
        .time(42)
    )
    write.write(bucket.name, record=point)
    data = stored(server, bucket.id)
    # The client writes a newline as the two characters \n; InfluxDB keeps them as they are.
    key = ("weird, meas", (("k=ey", "v a,l\\nue"),), "f i=eld")
    assert data[key] == [(42, 'quote " and \\ backslash, = space')]


def test_it_keeps_unknown_escapes_and_commas_inside_strings(server, write, bucket):
    write.write(bucket.name, record='m,p=c:\\dir s="a,b c=d \\n",n=1 7')
    data = stored(server, bucket.id)
    assert data[("m", (("p", "c:\\dir"),), "s")] == [(7, "a,b c=d \\n")]
    assert data[("m", (("p", "c:\\dir"),), "n")] == [(7, 1.0)]


def test_it_skips_comments_and_blank_lines(server, write, bucket):
    body = "# a comment\n\nm v=1 1\n   \n  # indented comment\nm v=2 2\n"
    write.write(bucket.name, record=body)
    assert stored(server, bucket.id)[("m", (), "v")] == [(1, 1.0), (2, 2.0)]


def test_it_sorts_tags_and_merges_duplicate_points(server, write, bucket):
    write.write(bucket.name, record=["m,b=2,a=1 x=1,y=1 100", "m,a=1,b=2 y=5,z=3 100"])
    data = stored(server, bucket.id)
    tags = (("a", "1"), ("b", "2"))
    assert data[("m", tags, "x")] == [(100, 1.0)]
    assert data[("m", tags, "y")] == [(100, 5.0)]  # last write wins
    assert data[("m", tags, "z")] == [(100, 3.0)]


def test_it_keeps_times_ascending_for_out_of_order_writes(server, write, bucket):
    write.write(bucket.name, record=["m v=3 30", "m v=1 10", "m v=2 20", "m v=4 25"])
    assert stored(server, bucket.id)[("m", (), "v")] == [(10, 1.0), (20, 2.0), (25, 4.0), (30, 3.0)]


def test_it_accepts_gzip_bodies(server, bucket):
    with InfluxDBClient(url=server.url, token=server.token, org=server.org, enable_gzip=True) as c:
        c.write_api(write_options=SYNCHRONOUS).write(bucket.name, record="m v=9 9")
    assert stored(server, bucket.id)[("m", (), "v")] == [(9, 9.0)]


def test_it_accepts_gzip_and_chunked_raw_bodies(server, raw, bucket):
    body = gzip.compress(b"m v=1 1\nm v=2 2")
    resp = raw(
        "POST",
        write_url(server, bucket.name),
        body,
        headers={"Content-Encoding": "gzip"},
    )
    assert resp.status == 204
    chunked = b"8\r\nm v=3 3\n\r\n7\r\nm v=4 4\r\n0\r\n\r\n"
    resp = raw(
        "POST",
        write_url(server, bucket.name),
        chunked,
        headers={"Transfer-Encoding": "chunked"},
    )
    assert resp.status == 204
    assert [v for _, v in stored(server, bucket.id)[("m", (), "v")]] == [1.0, 2.0, 3.0, 4.0]


def test_it_accepts_an_empty_body(server, raw):
    resp = raw("POST", write_url(server), b"")
    assert resp.status == 204
    assert resp.body == b""


def test_it_writes_by_bucket_id_and_org_id(server, raw, bucket):
    resp = raw("POST", f"/api/v2/write?orgID={server.org_id}&bucket={bucket.id}", b"m v=1 1")
    assert resp.status == 204
    resp = raw("POST", f"/api/v2/write?org={server.org_id}&bucket={bucket.id}", b"m v=2 2")
    assert resp.status == 204
    assert len(stored(server, bucket.id)[("m", (), "v")]) == 2


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("invalid", "missing fields"),
        ("m", "missing fields"),
        ("m v=1 notatime", "bad timestamp"),
        ("m v=tru", "invalid boolean"),
        ("m v=1.2.3", "invalid number"),
        ("m v=12ab", "invalid number"),
        ('m v="open', "unbalanced quotes"),
        ("m,a=1,a=2 v=1", "duplicate tags"),
        ("m,_field=x v=1", 'cannot use reserved tag key "_field"'),
        ("m,_measurement=x v=1", 'cannot use reserved tag key "_measurement"'),
        ("m,time=x v=1", 'cannot use reserved tag key "time"'),
        ("m,a= v=1", "missing tag value"),
        ("m v=", "missing field value"),
        ("m v=1,", "invalid field format"),  # InfluxDB counts "=" against ","
        ("m v=1,=2", "missing field key"),
        (",a=1 v=1", "missing measurement"),
        ("m v=99999999999999999999i", "value out of range"),
    ],
)
def test_it_rejects_a_bad_line_with_influxdbs_message(server, write, bucket, line, reason):
    with pytest.raises(ApiException) as info:
        write.write(bucket.name, record=f"ok v=1 1\n{line}")
    exc = info.value
    assert exc.status == 400
    assert exc.headers["X-Platform-Error-Code"] == "invalid"
    assert exc.message.startswith(f"unable to parse '{line}': ")
    assert reason in exc.message
    assert stored(server, bucket.id) == {}  # the good line was not written either


def test_it_joins_several_parse_errors(server, raw):
    resp = raw("POST", write_url(server), b"a\nb v=1\nc")
    assert resp.status == 400
    assert resp.json == {
        "code": "invalid",
        "message": "unable to parse 'a': missing fields\nunable to parse 'c': missing fields",
    }


def test_it_reports_a_type_conflict_as_partial_write(server, write, bucket):
    write.write(bucket.name, record="m,host=a value=1 1")
    with pytest.raises(ApiException) as info:
        write.write(
            bucket.name,
            record=['m,host=b value="x" 2', "m,host=c value=3 3", 'm,host=d value="y" 4'],
        )
    assert info.value.status == 422
    assert info.value.headers["X-Platform-Error-Code"] == "unprocessable entity"
    assert info.value.message == (
        "failure writing points to database: partial write: field type conflict: input field "
        '"value" on measurement "m" is type string, already exists as type float dropped=2'
    )
    data = stored(server, bucket.id)
    assert data[("m", (("host", "c"),), "value")] == [(3, 3.0)]  # the good point is stored
    assert ("m", (("host", "b"),), "value") not in data


def test_it_reports_write_parameter_errors_in_order(server, raw):
    org, b = server.org, server.bucket
    cases = [
        (
            f"/api/v2/write?org={org}&bucket={b}&precision=h",
            400,
            "invalid",
            "invalid precision; valid precision units are ns, us, ms, and s",
        ),
        (f"/api/v2/write?org={org}", 404, "not found", "bucket not found"),
        (f"/api/v2/write?bucket={b}", 400, "invalid", "Please provide either orgID or org"),
        (
            f"/api/v2/write?org=nope&bucket={b}",
            404,
            "not found",
            'organization name "nope" not found',
        ),
        (f"/api/v2/write?org={org}&bucket=nope", 404, "not found", 'bucket "nope" not found'),
        (
            f"/api/v2/write?org=0123456789abcdef&bucket={b}",
            404,
            "not found",
            "organization not found",
        ),
    ]
    for path, status, code, message in cases:
        resp = raw("POST", path, b"m v=1")
        assert (resp.status, resp.json) == (status, {"code": code, "message": message}), path
        assert resp.headers["x-platform-error-code"] == code
        assert resp.headers["content-type"] == "application/json; charset=utf-8"
        assert b"\n\t" not in resp.body  # compact JSON on the write path


def test_it_rejects_timestamps_out_of_range(server, raw):
    resp = raw(
        "POST",
        write_url(server) + "&precision=s",
        f"m v=1 {MAX_TIME_NS}".encode(),
    )
    assert resp.status == 400
    assert "time outside range" in resp.json["message"]


def test_it_counts_points_written(server, write, bucket):
    server.stats.reset()
    write.write(bucket.name, record=[f"m v={i} {i}" for i in range(1, 51)])
    assert server.stats.points_written == 50
    assert server.stats.requests("/api/v2/write", "POST") == 1
