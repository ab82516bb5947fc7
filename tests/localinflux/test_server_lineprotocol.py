"""The line-protocol parser on its own: the fast path and the careful path agree."""

from __future__ import annotations

import pytest

from localinflux.lineprotocol import parse


def one(line, precision="ns", now=0):
    points, errors = parse(line, precision, now)
    assert errors == []
    ((mt, fields, ts),) = points
    return mt, fields, ts


def test_a_simple_line_takes_every_part():
    assert one("cpu,host=a,region=eu usage=0.5,count=3i 42") == (
        ("cpu", (("host", "a"), ("region", "eu"))),
        [("usage", "float", 0.5), ("count", "integer", 3)],
        42,
    )


@pytest.mark.parametrize(
    "line",
    [
        'm,t=1 f=1,s="x" 5',  # quotes force the careful path
        "m,t=1 f=1,s=t 5",
    ],
)
def test_both_paths_parse_the_same_series_key(line):
    mt, _, ts = one(line)
    assert mt == ("m", (("t", "1"),))
    assert ts == 5


def test_strings_may_hold_spaces_commas_equals_and_escaped_quotes():
    _, fields, ts = one('m s="a b,c=d \\"e\\" \\\\ f",n=1u 9')
    assert fields == [("s", "string", 'a b,c=d "e" \\ f'), ("n", "unsigned", 1)]
    assert ts == 9


def test_an_empty_string_field_is_allowed():
    assert one('m s="" 1')[1] == [("s", "string", "")]


def test_escaped_spaces_and_commas_in_keys():
    mt, fields, _ = one("m\\ x,t\\,k=v\\ 1 f\\ k=2 3")
    assert mt == ("m x", (("t,k", "v 1"),))
    assert fields == [("f k", "float", 2.0)]


def test_floats_in_every_spelling():
    _, fields, _ = one("m a=1,b=-1.5,c=.5,d=1e3,e=-2E-2,f=1. 1")
    assert [v for _, _, v in fields] == [1.0, -1.5, 0.5, 1000.0, -0.02, 1.0]


@pytest.mark.parametrize("value", ["NaN", "inf", "1_000", "+1", "0x10", "1e999"])
def test_values_go_rejects_are_rejected(value):
    points, errors = parse(f"m v={value} 1")
    assert points == []
    assert len(errors) == 1


def test_missing_timestamp_takes_now_truncated_to_precision():
    assert one("m v=1", "ms", now=1_234_567_891)[2] == 1_234_000_000


def test_negative_timestamps_are_allowed():
    assert one("m v=1 -5", "s")[2] == -5_000_000_000


def test_trailing_whitespace_is_ignored():
    assert one("m v=1 7  ")[2] == 7


def test_integer_limits():
    assert one("m v=9223372036854775807i 1")[1] == [("v", "integer", 9223372036854775807)]
    assert one("m v=-9223372036854775808i 1")[1] == [("v", "integer", -9223372036854775808)]
    assert parse("m v=9223372036854775808i 1")[1]
    assert parse("m v=-1u 1")[1]
