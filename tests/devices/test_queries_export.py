"""The CSV download's Flux: field names quoted, bounds checked, the limit a plain integer."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from devices.queries.export import export_rows


def test_field_names_are_quoted_and_cannot_end_the_string():
    flux = export_rows("b", "rover", "-1h", None, fields=['x") |> drop(', "${secret}"], limit=5)
    assert 'r["_field"] == "x\\") |> drop("' in flux
    assert 'r["_field"] == "\\${secret}"' in flux
    assert flux.rstrip().endswith("|> limit(n: 5)")


def test_windowed_aggregates_with_a_checked_duration_and_custom_bounds():
    start, stop = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC)
    flux = export_rows("b", "rover", start, stop, fields=["T"], limit=1, every="5m")
    assert "range(start: 2026-11-01T00:00:00Z, stop: 2026-11-02T00:00:00Z)" in flux
    assert "aggregateWindow(every: 5m, fn: mean, createEmpty: false)" in flux
    with pytest.raises(ValueError, match="not a Flux duration"):
        export_rows("b", "rover", "-1h", None, fields=["T"], limit=1, every="5m) |> drop(")


@pytest.mark.parametrize("limit", [0, -1, True, "10", 1.5])
def test_the_limit_must_be_a_positive_int(limit):
    with pytest.raises(ValueError, match="limit"):
        export_rows("b", "rover", "-1h", None, fields=["T"], limit=limit)


def test_bad_ids_and_no_fields_are_refused():
    with pytest.raises(ValueError, match="invalid device id"):
        export_rows("b", 'rover" or true', "-1h", None, fields=["T"], limit=1)
    with pytest.raises(ValueError, match="at least one field"):
        export_rows("b", "rover", "-1h", None, fields=[], limit=1)
