"""The Flux builders: quoting, id rules, and that user input never becomes query code."""

import pytest

from devices import queries

INJECTION = 'x" or r._field == "token" or "" == "'


def test_it_quotes_double_quotes_and_backslashes():
    assert queries.quote('a"b') == '"a\\"b"'
    assert queries.quote("a\\b") == '"a\\\\b"'
    # A trailing backslash must not escape the closing quote.
    assert queries.quote("a\\") == '"a\\\\"'


def test_it_escapes_string_interpolation():
    assert queries.quote("${token}") == '"\\${token}"'
    # A lone "$" or "{" is plain text in Flux and stays as it is.
    assert queries.quote("$ {") == '"$ {"'


def test_it_escapes_control_characters():
    assert queries.quote("a\nb\tc") == '"a\\nb\\tc"'


def test_quoted_injection_stays_one_string_literal():
    quoted = queries.quote(INJECTION)
    # Every quote inside is escaped: only the two delimiters are bare quotes.
    bare = [i for i, ch in enumerate(quoted) if ch == '"' and quoted[i - 1] != "\\"]
    assert bare == [0, len(quoted) - 1]


def test_it_refuses_to_quote_non_strings():
    with pytest.raises(TypeError):
        queries.quote(1)


def test_every_device_builder_validates_the_id_before_building():
    builders = [
        lambda d: queries.registry_device("b", d),
        lambda d: queries.last_seen("b", ["ok", d]),
        lambda d: queries.latest_readings("b", d),
        lambda d: queries.field_stats("b", d, "-1d"),
        lambda d: queries.telemetry_series("b", d, "-1d", "15m"),
        lambda d: queries.last_point_time("b", d),
        queries.telemetry_delete_predicate,
    ]
    for build in builders:
        with pytest.raises(ValueError, match="invalid device id"):
            build(INJECTION)


def test_registry_list_reads_all_time_and_never_the_token():
    query = queries.registry_list("iot_center_devices")
    assert "range(start: 0)" in query
    assert "-30d" not in query
    assert '"token"' not in query
    assert 'from(bucket: "iot_center_devices")' in query


def test_bucket_names_are_quoted():
    query = queries.registry_list('odd"name')
    assert 'from(bucket: "odd\\"name")' in query


def test_last_seen_asks_for_exactly_the_page_devices():
    query = queries.last_seen("t", ["a", "b.1", "c-2:x"])
    # An anchored alternation; "." escaped so "b.1" cannot match "bx1".
    assert 'r["device"] =~ /^(?:a|b\\.1|c-2:x)$/' in query
    assert 'r["device"] == "a"' in queries.last_seen("t", ["a"])
    with pytest.raises(ValueError, match="at least one"):
        queries.last_seen("t", [])


@pytest.mark.parametrize("bad", ["1h) |> yield(", "-1d; drop()", "", "1", "h"])
def test_it_rejects_things_that_are_not_durations(bad):
    with pytest.raises(ValueError, match="not a Flux duration"):
        queries.duration(bad)
    with pytest.raises(ValueError, match="not a Flux duration"):
        queries.telemetry_series("t", "dev", bad, "1m")


@pytest.mark.parametrize("good", ["-5m", "10s", "1h30m", "-30d", "2mo"])
def test_it_accepts_durations(good):
    assert queries.duration(good) == good


def test_field_stats_names_its_four_results():
    query = queries.field_stats("t", "dev-1", "-1d")
    for name in ("count", "min", "max", "last"):
        assert f'yield(name: "{name}")' in query


def test_delete_predicate_selects_one_device():
    assert (
        queries.telemetry_delete_predicate("dev-1")
        == '_measurement="environment" AND device="dev-1"'
    )
