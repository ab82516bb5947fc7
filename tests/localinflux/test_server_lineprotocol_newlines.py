"""Where a line of line protocol ends, as InfluxDB 2.7 cuts a body (``scanLine``,
models/points.go): at a newline, except one inside a quoted string field value or right after a
backslash. Those newlines belong to the line, so a string field may hold a real newline.
"""

from __future__ import annotations

import pytest
from influxdb_client import Point

from localinflux.lineprotocol import parse
from tests.localinflux.conftest import write_url

T0 = 1_700_000_000_000_000_000


@pytest.mark.parametrize(
    ("body", "value"),
    [
        ('m,t=a f="line1\nline2" 1', "line1\nline2"),
        ('m,t=a f="\n" 1', "\n"),
        ('m,t=a f="a\\"\nb" 1', 'a"\nb'),  # an escaped quote before the newline
        ('m,t=a f="a\\\\\nb\\\\" 1', "a\\\nb\\"),  # escaped backslashes around it
        ('m,t=a f="x=1,\ny z" 1', "x=1,\ny z"),  # what looks like fields inside the string
        ('m,t=a f="one\n\ntwo\r\n" 1', "one\n\ntwo\r\n"),  # a blank line inside it, a CR
    ],
)
def test_a_newline_inside_a_quoted_string_is_part_of_the_value(body, value):
    points, errors = parse(body + "\nm,t=a g=2 2")
    assert errors == []
    assert points == [
        (("m", (("t", "a"),)), [("f", "string", value)], 1),
        (("m", (("t", "a"),)), [("g", "float", 2.0)], 2),
    ]


def test_lines_without_quotes_around_one_with_a_quoted_newline_stay_apart():
    points, errors = parse('a v=1 1\nb s="x\ny",n=2i 2\nc v=3 3')
    assert errors == []
    assert [(mt[0], fields, ts) for mt, fields, ts in points] == [
        ("a", [("v", "float", 1.0)], 1),
        ("b", [("s", "string", "x\ny"), ("n", "integer", 2)], 2),
        ("c", [("v", "float", 3.0)], 3),
    ]


def test_a_backslash_before_a_newline_keeps_the_next_line_on_this_one():
    # scanLine skips the character after every backslash, the newline too: "1\<LF>m..." is
    # one line whose timestamp is "1\", hence InfluxDB's "bad timestamp".
    body = 'm f="x" 1\\\nm f=2 2'
    assert parse(body) == ([], [f"unable to parse '{body}': bad timestamp"])


def test_quotes_in_the_series_key_do_not_open_a_string():
    # Before the first space a quote is an ordinary character of a tag value.
    points, errors = parse('m,t=a"b v=1 1\nm,t=c v=2 2')
    assert errors == []
    assert [mt[1] for mt, _, _ in points] == [(("t", 'a"b'),), (("t", "c"),)]


def test_an_unclosed_quote_takes_the_rest_of_the_body_into_one_refused_line(server, raw):
    body = 'ok v=1 1\nm f="open\nm v=1 2\nm v=2 3'
    resp = raw("POST", write_url(server), body)
    assert resp.status == 400
    assert resp.json == {
        "code": "invalid",
        "message": "unable to parse 'm f=\"open\nm v=1 2\nm v=2 3': unbalanced quotes",
    }


def test_a_quote_opened_in_a_comment_comments_out_the_lines_it_spans():
    # InfluxDB cuts lines before it knows a line is a comment, so a comment's quote counts.
    points, errors = parse('# note x="a\nm v=1 1\nb" still the comment\nm v=2 2')
    assert errors == []
    assert [ts for _, _, ts in points] == [2]


def test_a_carriage_return_is_not_whitespace_to_influxdb(server, raw):
    resp = raw("POST", write_url(server), "m v=1 1\n\r\n")
    assert resp.status == 400
    assert resp.json == {"code": "invalid", "message": "unable to parse '\r': missing fields"}


def test_a_quoted_newline_over_http_is_stored_in_the_string(server, raw, bucket):
    resp = raw("POST", write_url(server, bucket.name), 'm,t=a f="line1\nline2" 1\nm,t=a g=2 1')
    assert resp.status == 204
    strings = [
        list(ref.slice(-(2**63), 2**63)[1])
        for ref in server.engine.store.series(bucket.id)
        if ref.key.field == "f"
    ]
    assert strings == [["line1\nline2"]]


def test_the_real_client_writes_and_reads_back_a_string_with_newlines(
    server, client, write, bucket
):
    # The client escapes only quotes and backslashes in a string field; the newline goes raw.
    text = 'first line\nsecond "quoted" \\ line\n'
    point = Point("note").tag("device", "d1").field("text", text).time(T0)
    assert "\n" in point.to_line_protocol()
    write.write(bucket.name, record=[point, Point("note").tag("device", "d2").field("n", 1)])
    tables = client.query_api().query(
        f'from(bucket: "{bucket.name}") |> range(start: 0) |> filter(fn: (r) => r._field == "text")'
    )
    # InfluxDB's CSV writer (Go's encoding/csv with CRLF line ends) sends a newline inside a
    # quoted cell as CRLF, so that is what the client hands back, exactly as from InfluxDB.
    assert [r.get_value() for t in tables for r in t.records] == [
        'first line\r\nsecond "quoted" \\ line\r\n'
    ]
    assert server.engine.store.point_count(bucket.id) == 2
