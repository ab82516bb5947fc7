"""Write→query round trips through the real client, and the query endpoint's HTTP behaviour."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime

import pytest
from influxdb_client import InfluxDBClient, WritePrecision
from influxdb_client.rest import ApiException

T0 = 1_700_000_000  # seconds


def flux_all(bucket_name):
    return f'from(bucket: "{bucket_name}") |> range(start: 0)'


def test_every_field_type_round_trips(client, write, bucket):
    write.write(
        bucket.name,
        record=f'dev,id=x f=1.25,i=-7i,u=18446744073709551615u,s="a \\"q\\"",b=F {T0}',
        write_precision=WritePrecision.S,
    )
    tables = client.query_api().query(flux_all(bucket.name))
    got = {t.records[0].get_field(): t.records[0].get_value() for t in tables}
    assert got == {
        "f": 1.25,
        "i": -7,
        "u": 18446744073709551615,
        "s": 'a "q"',
        "b": False,
    }
    when = {t.records[0].get_time() for t in tables}
    assert when == {datetime.fromtimestamp(T0, tz=UTC)}


@pytest.mark.parametrize(
    ("precision", "stamp"),
    [
        (WritePrecision.S, T0),
        (WritePrecision.MS, T0 * 1000 + 123),
        (WritePrecision.US, T0 * 1_000_000 + 123456),
        (WritePrecision.NS, T0 * 1_000_000_000 + 123456000),
    ],
)
def test_each_precision_round_trips(client, write, bucket, precision, stamp):
    write.write(bucket.name, record=f"m v=1 {stamp}", write_precision=precision)
    (table,) = client.query_api().query(flux_all(bucket.name))
    micros = {
        WritePrecision.S: 0,
        WritePrecision.MS: 123000,
        WritePrecision.US: 123456,
        WritePrecision.NS: 123456,
    }[precision]
    assert table.records[0].get_time() == datetime.fromtimestamp(T0, tz=UTC).replace(
        microsecond=micros
    )


def test_tags_with_special_characters_round_trip(client, write, bucket):
    write.write(bucket.name, record=f"m,room=living\\ room\\,2 v=3 {T0}", write_precision="s")
    (table,) = client.query_api().query(
        f'{flux_all(bucket.name)} |> filter(fn: (r) => r.room == "living room,2")'
    )
    assert table.records[0]["room"] == "living room,2"


def test_an_unknown_org_is_a_400_decode_error(server, raw):
    resp = raw(
        "POST",
        "/api/v2/query?org=nope",
        {"query": "buckets()"},
    )
    assert resp.status == 400
    assert resp.json == {
        "code": "invalid",
        "message": 'failed to decode request body: organization name "nope" not found',
    }


def test_a_missing_bucket_is_404(client):
    with pytest.raises(ApiException) as info:
        client.query_api().query(flux_all("does-not-exist"))
    assert info.value.status == 404
    assert info.value.headers["X-Platform-Error-Code"] == "not found"


def test_it_gzips_query_responses_when_asked(server, raw, write, bucket):
    write.write(bucket.name, record=f"m v=1 {T0}", write_precision="s")
    with InfluxDBClient(url=server.url, token=server.token, org=server.org, enable_gzip=True) as c:
        (table,) = c.query_api().query(flux_all(bucket.name))
        assert table.records[0].get_value() == 1.0
    body = gzip.compress(json.dumps({"query": flux_all(bucket.name)}).encode())
    from tests.localinflux.conftest import raw_request

    resp = raw_request(
        server,
        "POST",
        f"/api/v2/query?org={server.org}",
        body,
        server.token,
        {
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "Accept-Encoding": "gzip",
        },
    )
    assert resp.status == 200
    assert resp.headers["content-encoding"] == "gzip"
    assert b"_value" in gzip.decompress(resp.body)


def test_prefer_return_no_content(server, raw, write, bucket):
    write.write(bucket.name, record=f"m v=1 {T0}", write_precision="s")
    resp = raw(
        "POST",
        f"/api/v2/query?org={server.org}",
        {"query": flux_all(bucket.name)},
        headers={"Prefer": "return-no-content"},
    )
    assert (resp.status, resp.body) == (204, b"")


def test_it_counts_queries_and_rows(server, client, write, bucket):
    write.write(bucket.name, record=[f"m,k={i} v={i} {T0}" for i in range(4)], write_precision="s")
    server.stats.reset()
    client.query_api().query(flux_all(bucket.name))
    client.query_api().query(f'{flux_all(bucket.name)} |> filter(fn: (r) => r.k == "1")')
    assert server.stats.queries == 2
    assert server.stats.rows_returned == 5
    assert [r.rows for r in server.stats.log] == [4, 1]
    assert "filter" in server.stats.log[1].flux
