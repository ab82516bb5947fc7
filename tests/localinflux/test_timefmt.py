"""The one RFC3339 module: what InfluxDB accepts and prints as a time."""

import pytest

from localinflux.timefmt import MAX_NS, format_duration, format_rfc3339, parse_rfc3339


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("1970-01-01T00:00:00Z", 0),
        ("2024-02-29T12:30:00.5Z", 1709209800_500_000_000),
        ("2024-02-29T14:30:00.5+02:00", 1709209800_500_000_000),
        ("1969-12-31T23:59:59.999999999Z", -1),
        ("2024-01-01t00:00:00z", 1704067200_000_000_000),
    ],
)
def test_parses_what_influxdb_accepts(text, ns):
    assert parse_rfc3339(text) == ns


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2024-01-01",
        "2024-13-01T00:00:00Z",
        "2024-02-30T00:00:00Z",
        "2024-01-01T24:00:00Z",
        "2024-01-01T00:00:00",
        "2024-01-01T00:00:00.1234567890Z",
        " 2024-01-01T00:00:00Z",
    ],
)
def test_refuses_what_is_not_a_timestamp(text):
    with pytest.raises(ValueError, match="invalid time"):
        parse_rfc3339(text)


def test_a_bare_date_only_where_flux_allows_it():
    assert parse_rfc3339("2024-01-02", allow_date=True) == 1704153600_000_000_000


def test_bounded_refuses_times_storage_cannot_hold():
    assert parse_rfc3339("2262-04-11T23:47:16.854775806Z", bounded=True) == MAX_NS
    with pytest.raises(ValueError, match="out of range"):
        parse_rfc3339("2262-04-11T23:47:16.854775807Z", bounded=True)
    with pytest.raises(ValueError, match="out of range"):
        parse_rfc3339("1677-09-21T00:12:43.145224193Z", bounded=True)


@pytest.mark.parametrize("ns", [0, 1, -1, 1709209800_500_000_000, MAX_NS])
def test_format_round_trips_and_trims_zeros_as_go(ns):
    text = format_rfc3339(ns)
    assert parse_rfc3339(text) == ns
    assert not text.endswith("0Z") or "." not in text


def test_format_examples():
    assert format_rfc3339(0) == "1970-01-01T00:00:00Z"
    assert format_rfc3339(1_500_000_000) == "1970-01-01T00:00:01.5Z"


def test_duration_as_go_prints_it():
    assert format_duration(3725.25) == "1h2m5.25s"
    assert format_duration(0.5) == "0.5s"
    assert format_duration(60) == "1m0s"
