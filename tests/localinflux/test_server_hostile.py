"""Hostile bodies on the write and query paths get a 4xx, never a 500 or an exhausted server."""

from __future__ import annotations

import gzip
import http.client
import json

import pytest
from influxdb_client.rest import ApiException

from localinflux.http import server as http_server
from tests.localinflux.conftest import write_url

LIMIT = 1 << 20  # the tests lower the body limit to 1 MiB, so a "bomb" stays cheap to build
TOO_LARGE = {
    "code": "request too large",
    "message": "unable to read data: points batch is too large",
}


@pytest.fixture
def small_limit(monkeypatch):
    monkeypatch.setattr(http_server, "MAX_BODY_BYTES", LIMIT)


def test_a_gzip_bomb_is_refused_without_being_inflated(server, raw, small_limit):
    before = server.engine.store.point_count(server.bucket_id)
    bomb = gzip.compress(b"m v=1 1\n" + b"#" * (2 * LIMIT))  # a few KiB that inflate to 2 MiB
    assert len(bomb) < 16_000
    resp = raw("POST", write_url(server), bomb, headers={"Content-Encoding": "gzip"})
    assert (resp.status, resp.json) == (413, TOO_LARGE)
    assert server.engine.store.point_count(server.bucket_id) == before


def test_a_gzip_body_just_under_the_limit_and_several_members_are_taken(server, raw, small_limit):
    before = server.engine.store.point_count(server.bucket_id)
    body = gzip.compress(b"gz v=1 1\n" + b"#" * (LIMIT - 100)) + gzip.compress(b"\ngz v=2 2")
    resp = raw("POST", write_url(server), body, headers={"Content-Encoding": "gzip"})
    assert resp.status == 204
    assert server.engine.store.point_count(server.bucket_id) == before + 2


def test_a_body_over_the_limit_is_refused_before_it_is_read(server, raw, small_limit):
    resp = raw("POST", write_url(server), b"m v=1 1\n" * (LIMIT // 8 + 1))
    assert (resp.status, resp.json) == (413, TOO_LARGE)
    assert resp.headers["connection"] == "close"


def test_the_real_client_gets_the_413_as_an_api_exception(server, write, small_limit):
    with pytest.raises(ApiException) as caught:
        write.write(server.bucket, record="big v=1 1\n" * (LIMIT // 10 + 1))
    assert caught.value.status == 413


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("m v=" + "9" * 5000 + "i 1", "unable to parse integer {n}: strconv.ParseInt: parsing "),
        ("m v=" + "9" * 5000 + "u 1", "unable to parse unsigned {n}: strconv.ParseUint: parsing "),
        ("m v=1 " + "9" * 5000, "strconv.ParseInt: parsing "),
    ],
)
def test_numbers_of_thousands_of_digits_are_out_of_range_not_a_crash(server, raw, line, reason):
    resp = raw("POST", write_url(server), line)
    n = "9" * 5000
    assert resp.status == 400
    assert resp.json["message"] == (
        f"unable to parse '{line}': {reason.format(n=n)}\"{n}\": value out of range"
    )


def test_leading_zeros_do_not_count_as_digits(server, raw):
    resp = raw("POST", write_url(server), "zeros v=" + "0" * 5000 + "7i 1")
    assert resp.status == 204


def test_json_nested_deeper_than_the_parser_goes_is_a_400(server, raw):
    body = b'{"orgID":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    resp = raw("POST", "/api/v2/buckets", body)
    assert (resp.status, resp.json) == (
        400,
        {"code": "invalid", "message": "failed to unmarshal json: exceeded max depth"},
    )
    deep_delete = json.dumps({"start": "2024-01-01T00:00:00Z"}).encode()[:-1] + b',"x":'
    deep_delete += b"[" * 100_000 + b"]" * 100_000 + b"}"
    resp = raw("POST", f"/api/v2/delete?org={server.org}&bucket={server.bucket}", deep_delete)
    assert resp.status == 400


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b"m,t=\xff v=1 1", {}),
        (gzip.compress(b"m v=\xfe 1"), {"Content-Encoding": "gzip"}),
        (b"\x1f\x8b\x08\x00garbage", {"Content-Encoding": "gzip"}),
        (gzip.compress(b"m v=1 1")[:-4], {"Content-Encoding": "gzip"}),
    ],
)
def test_bad_utf8_and_broken_gzip_are_a_400(server, raw, body, headers):
    resp = raw("POST", write_url(server), body, headers=headers)
    assert resp.status == 400
    assert resp.json["code"] == "invalid"


def test_a_chunked_body_over_the_limit_is_a_413(server, small_limit):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        chunks = (b"m v=1 1\n" * 8192 for _ in range(LIMIT // 65536 + 2))  # 64 KiB each
        conn.request(
            "POST",
            write_url(server),
            body=chunks,
            headers={"Authorization": f"Token {server.token}", "Transfer-Encoding": "chunked"},
            encode_chunked=True,
        )
        resp = conn.getresponse()
        assert (resp.status, json.loads(resp.read())) == (413, TOO_LARGE)
    finally:
        conn.close()
