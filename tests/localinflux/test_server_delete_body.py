"""``POST /api/v2/delete`` bodies as InfluxDB 2.7 decodes them (http/delete_handler.go): the
body is decoded first, before the org and bucket are looked up, and every error of that step
reads ``error decoding json body: <reason>`` (the expectations of its own http/delete_test.go)."""

from __future__ import annotations

import pytest

PREFIX = "error decoding json body: "
START = "2024-01-01T00:00:00Z"
STOP = "2024-01-02T00:00:00Z"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "EOF"),
        (
            b"{}",
            "invalid RFC3339Nano for field start, please format your time with RFC3339Nano "
            "format, example: 2009-01-02T23:00:00Z",
        ),
        (
            b'{"start": "2009-01-01T23:00:00Z"}',
            "invalid RFC3339Nano for field stop, please format your time with RFC3339Nano "
            "format, example: 2009-01-01T23:00:00Z",
        ),
        (
            b'{"start": "1677-09-21T00:12:43.145224193Z", "stop": "2024-01-01T00:00:00Z"}',
            "invalid start time, start time must not be before 1677-09-21T00:12:43.145224194Z",
        ),
        (
            b'{"start": "2024-01-01T00:00:00Z", "stop": "2262-04-11T23:47:16.854775807Z"}',
            "invalid stop time, stop time must not be after 2262-04-11T23:47:16.854775806Z",
        ),
        (
            b'{"start": 5, "stop": "2024-01-01T00:00:00Z"}',
            "Invalid delete predicate node request: json: cannot unmarshal number into Go "
            "struct field deleteRequestDecode.start of type string",
        ),
        (
            b'{"start": "2024-01-01T00:00:00Z", "stop": "2024-01-02T00:00:00Z", "predicate": {}}',
            "Invalid delete predicate node request: json: cannot unmarshal object into Go "
            "struct field deleteRequestDecode.predicate of type string",
        ),
        (
            b"[]",
            "Invalid delete predicate node request: json: cannot unmarshal array into Go "
            "value of type http.deleteRequestDecode",
        ),
    ],
)
def test_a_bad_body_is_refused_before_the_org_is_looked_up(raw, body, reason):
    # org "nope" does not exist: the body's error comes first all the same
    resp = raw("POST", "/api/v2/delete?org=nope&bucket=nope", body)
    assert (resp.status, resp.json) == (400, {"code": "invalid", "message": PREFIX + reason})


def test_a_good_body_gets_on_to_the_org(raw):
    body = {"start": START, "stop": STOP}
    resp = raw("POST", "/api/v2/delete?org=nope&bucket=nope", body)
    assert (resp.status, resp.json["message"]) == (404, 'organization name "nope" not found')


def test_predicate_errors_carry_the_prefix_but_delete_by_field_does_not(server, raw):
    url = f"/api/v2/delete?org={server.org}&bucket={server.bucket}"
    resp = raw("POST", url, {"start": START, "stop": STOP, "predicate": 'a="1" OR b="2"'})
    assert resp.status == 400
    assert resp.json["message"].startswith(
        PREFIX + "the logical operator OR is not supported yet at position"
    )
    resp = raw("POST", url, {"start": START, "stop": STOP, "predicate": '_field="v"'})
    assert (resp.status, resp.json) == (
        501,
        {"code": "not implemented", "message": "delete by field is not supported"},
    )
