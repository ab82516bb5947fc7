"""POST /api/v2/delete: predicates, inclusive bounds, bucket rules and InfluxDB's error messages."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from influxdb_client.rest import ApiException

FULL = (-(2**63), 2**63)


def remaining(server, bucket_id):
    out = set()
    for ref in server.engine.store.series(bucket_id):
        times, _ = ref.slice(*FULL)
        for t in times:
            out.add((ref.key.measurement, dict(ref.key.tags).get("host"), t))
    return out


@pytest.fixture
def bucket(client, server, write):
    b = client.buckets_api().create_bucket(bucket_name=f"d{time.time_ns()}", org=server.org)
    write.write(
        b.name,
        record=[
            "cpu,host=a v=1 1000000000",
            "cpu,host=a v=2 2000000000",
            "cpu,host=a v=3 3000000000",
            "cpu,host=b v=1 2000000000",
            "mem,host=a v=1 2000000000",
            "mem v=1 2000000000",
        ],
    )
    yield b
    client.buckets_api().delete_bucket(b)


def sec(n):
    return datetime.fromtimestamp(n, tz=UTC)


def test_it_deletes_with_inclusive_bounds(server, client, bucket):
    client.delete_api().delete(sec(1), sec(2), '_measurement="cpu" AND host="a"', bucket.name)
    assert remaining(server, bucket.id) == {
        ("cpu", "a", 3_000_000_000),
        ("cpu", "b", 2_000_000_000),
        ("mem", "a", 2_000_000_000),
        ("mem", None, 2_000_000_000),
    }


def test_an_empty_predicate_deletes_everything_in_range(server, client, bucket):
    client.delete_api().delete(sec(2), sec(2), "", bucket.name)
    assert remaining(server, bucket.id) == {
        ("cpu", "a", 1_000_000_000),
        ("cpu", "a", 3_000_000_000),
    }


def test_it_supports_not_equal_parentheses_and_bare_values(server, client, bucket):
    client.delete_api().delete(
        sec(0), sec(10), '(_measurement = cpu) and ("host" != "a")', bucket.name
    )
    assert ("cpu", "b", 2_000_000_000) not in remaining(server, bucket.id)
    assert len(remaining(server, bucket.id)) == 5
    client.delete_api().delete(sec(0), sec(10), "host != a", bucket.name)
    # series without the tag compare as an empty value, so "mem" without host goes too
    assert remaining(server, bucket.id) == {
        ("cpu", "a", 1_000_000_000),
        ("cpu", "a", 2_000_000_000),
        ("cpu", "a", 3_000_000_000),
        ("mem", "a", 2_000_000_000),
    }


def test_it_accepts_the_clients_isoformat_and_bucket_ids(server, client, raw, bucket):
    resp = raw(
        "POST",
        f"/api/v2/delete?orgID={server.org_id}&bucketID={bucket.id}",
        {"start": "1970-01-01T00:00:01+00:00", "stop": "1970-01-01T01:00:02.5+01:00"},
    )
    assert resp.status == 204
    assert remaining(server, bucket.id) == {("cpu", "a", 3_000_000_000)}


@pytest.mark.parametrize(
    ("predicate", "status", "message"),
    [
        ('host="a" OR host="b"', 400, "the logical operator OR is not supported yet at position"),
        ('host=~"a"', 400, 'operator: "=~" at position: 4 is not supported yet'),
        ('_field="v"', 501, "delete by field is not supported"),
        ("host='a'", 400, "bad tag value"),
        ('host>"a"', 400, "invalid operator"),
        ('_time="x"', 400, "_time"),
        ('_value="1"', 400, "_value"),
        ('host="a" AND', 400, "invalid predicate"),
    ],
)
def test_it_rejects_unsupported_predicates(server, client, bucket, predicate, status, message):
    with pytest.raises(ApiException) as info:
        client.delete_api().delete(sec(0), sec(10), predicate, bucket.name)
    assert info.value.status == status
    assert message in info.value.message
    assert len(remaining(server, bucket.id)) == 6


@pytest.mark.parametrize("field", ["start", "stop"])
def test_it_rejects_bad_times(server, raw, bucket, field):
    body = {"start": "1970-01-01T00:00:00Z", "stop": "1970-01-01T00:00:10Z"}
    body[field] = "yesterday"
    resp = raw("POST", f"/api/v2/delete?org={server.org}&bucket={bucket.name}", body)
    assert resp.status == 400
    example = {"start": "2009-01-02T23:00:00Z", "stop": "2009-01-01T23:00:00Z"}[field]
    assert resp.json == {  # word for word as in InfluxDB 2.7's http/delete_test.go
        "code": "invalid",
        "message": f"error decoding json body: invalid RFC3339Nano for field {field}, please "
        f"format your time with RFC3339Nano format, example: {example}",
    }


def test_a_16_hex_bucket_is_an_id_with_no_name_fallback(server, client, raw, write):
    name = "abcdefabcdefabcd"
    b = client.buckets_api().create_bucket(bucket_name=name, org=server.org)
    write.write(name, record="m v=1 1")  # write does fall back to the name
    body = {"start": "1970-01-01T00:00:00Z", "stop": "2100-01-01T00:00:00Z"}
    resp = raw("POST", f"/api/v2/delete?org={server.org}&bucket={name}", body)
    assert resp.status == 404
    assert len(remaining(server, b.id)) == 1
    resp = raw("POST", f"/api/v2/delete?org={server.org}&bucket=nope", body)
    assert (resp.status, resp.json["message"]) == (404, 'bucket "nope" not found')
    client.buckets_api().delete_bucket(b)


def test_a_deleted_field_type_can_be_written_again(server, client, write, bucket):
    client.delete_api().delete(sec(0), sec(10), '_measurement="mem"', bucket.name)
    write.write(bucket.name, record='mem,host=a v="now a string" 5')
    assert ("mem", "a", 5) in remaining(server, bucket.id)
