"""Decoding of ``POST /api/v2/query`` bodies (``flux/request.py``) and the error body shape."""

from __future__ import annotations

from tests.localinflux.flux_fakes import FakeReader, run


def test_a_query_error_body_is_compact_html_escaped_json_without_a_newline():
    """InfluxDB writes it with Go's json.Marshal: what a client byte-compares or logs."""
    reply, _ = run(FakeReader(), 'from(bucket: "<a&b>") |> range(start: -1h)')
    assert reply.status == 404
    assert reply.body == (
        b'{"code":"not found","message":"failed to initialize execute state: '
        b'could not find bucket \\"\\u003ca\\u0026b\\u003e\\""}'
    )
    assert reply.content_type == "application/json; charset=utf-8"
