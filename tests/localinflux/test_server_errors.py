"""A bug in a handler answers 500 in InfluxDB's shape and is logged with its traceback."""

from __future__ import annotations

import logging

import pytest


def test_a_handler_bug_answers_500_and_logs_its_traceback(server, raw, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("storage exploded")

    monkeypatch.setattr(server.engine, "commit_write", broken)
    with caplog.at_level(logging.ERROR, logger="localinflux"):
        resp = raw("POST", "/api/v2/write?org=acme&bucket=telemetry", b"m v=1 1")
    assert resp.status == 500
    assert resp.json == {"code": "internal error", "message": "internal error: storage exploded"}
    assert resp.headers["x-platform-error-code"] == "internal error"
    [record] = [r for r in caplog.records if r.name.startswith("localinflux")]
    assert record.levelno == logging.ERROR
    assert "POST /api/v2/write" in record.getMessage()
    assert record.exc_info is not None
    assert record.exc_info[0] is RuntimeError
    assert "in broken" in caplog.text  # the traceback, down to the failing function


@pytest.mark.parametrize("body", [b"not json", b"[1]"])
def test_a_bad_body_is_still_a_client_error_not_a_500(raw, body, caplog):
    with caplog.at_level(logging.ERROR, logger="localinflux"):
        resp = raw("POST", "/api/v2/buckets", body, headers={"Content-Type": "application/json"})
    assert resp.status == 400
    assert not [r for r in caplog.records if r.name.startswith("localinflux")]
