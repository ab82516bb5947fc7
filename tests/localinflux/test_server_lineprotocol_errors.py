"""A bad line is refused with InfluxDB 2.7's message, word for word (``models/points.go``).

Every case goes through the real HTTP API: 400, ``{"code": "invalid", "message": "unable to parse
'<line>': <reason>"}``, and nothing of the request is stored.
"""

from __future__ import annotations

import pytest

from tests.localinflux.conftest import write_url

BAD_LINES = [
    # the series key
    ("invalid", "missing fields"),
    (",t=1 v=1", "missing measurement"),
    ("m,=x v=1", "missing tag key"),
    ("m,t v=1", "missing tag value"),
    ("m,t= v=1", "missing tag value"),
    ("m,t=a=b v=1", "invalid tag format"),
    ("m,t=1", "missing fields"),
    ("m,b=1,a=2,b=3 v=1", "duplicate tags"),
    ("m,time=1 v=1", 'cannot use reserved tag key "time"'),
    # the fields
    ("m ", "invalid field format"),
    ("m v", "invalid field format"),
    ("m v=1,w", "invalid field format"),
    ("m v=1,", "invalid field format"),
    ("m v=1,=2", "missing field key"),
    ("m v=", "missing field value"),
    ("m v=,w=1", "missing field value"),
    ('m v="open', "unbalanced quotes"),
    ("m v=abc", "invalid boolean"),
    ("m v=tru", "invalid boolean"),
    ("m v=inf", "invalid boolean"),
    ("m v=1.2.3", "invalid number"),
    ("m v=12ab", "invalid number"),
    ("m v=-", "invalid number"),
    ("m v=NaN", "invalid number"),
    ("m v=1.5i", "invalid number"),
    ("m v=-1u", "invalid number"),
    ("m v=1e400", "invalid float"),
    (
        "m v=99999999999999999999i",
        "unable to parse integer 99999999999999999999: strconv.ParseInt: parsing "
        '"99999999999999999999": value out of range',
    ),
    (
        "m v=18446744073709551616u",
        "unable to parse unsigned 18446744073709551616: strconv.ParseUint: parsing "
        '"18446744073709551616": value out of range',
    ),
    # the timestamp
    ("m v=1 12x", "bad timestamp"),
    ("m v=1 1 2", "point is invalid"),
    (
        "m v=1 99999999999999999999",
        'strconv.ParseInt: parsing "99999999999999999999": value out of range',
    ),
    ("m v=1 -", 'strconv.ParseInt: parsing "-": invalid syntax'),
    (
        "m v=1 9223372036854775807",
        "time outside range -9223372036854775806 - 9223372036854775806",
    ),
]


@pytest.mark.parametrize(("line", "reason"), BAD_LINES)
def test_a_bad_line_reads_like_influxdb(server, raw, line, reason):
    resp = raw("POST", write_url(server), f"ok v=1 1\n{line}")
    assert resp.status == 400
    assert resp.headers["x-platform-error-code"] == "invalid"
    assert resp.json == {"code": "invalid", "message": f"unable to parse '{line}': {reason}"}


def test_nothing_of_a_refused_request_is_stored(server, raw):
    before = server.engine.store.point_count(server.bucket_id)
    resp = raw("POST", write_url(server), "a v=1 1\nm v=x")
    assert resp.status == 400
    assert server.engine.store.point_count(server.bucket_id) == before


@pytest.mark.parametrize("line", ["m  v=1", "m  v=1 5", "m v=1  5", "m v=1 5  "])
def test_extra_spaces_between_parts_are_accepted_as_influxdb_does(server, raw, line):
    resp = raw("POST", write_url(server), line)
    assert resp.status == 204
