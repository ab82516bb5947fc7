"""The alert Flux builders keep rule input out of query code."""

import pytest

from devices import queries


@pytest.mark.parametrize("field", ['CO2")', "a b", "${x}", "", "a" * 65, 7])
def test_a_hostile_field_never_becomes_flux(field):
    with pytest.raises(ValueError, match="not an alert field"):
        queries.alert_window("iot_center", field, "-10m")


@pytest.mark.parametrize("start", ["-10m) |> drop()", "10 minutes", ""])
def test_a_hostile_window_never_becomes_flux(start):
    with pytest.raises(ValueError, match="not a Flux duration"):
        queries.alert_window("iot_center", "CO2", start)


def test_the_window_query_reads_one_field_of_every_device_with_five_results():
    flux = queries.alert_window('odd"bucket', "CO2", "-10m")
    assert 'from(bucket: "odd\\"bucket")' in flux
    assert 'r._field == "CO2"' in flux
    assert "range(start: -10m)" in flux
    for name in ("min", "max", "count", "first", "last"):
        assert f'yield(name: "{name}")' in flux
    assert "device" not in flux.split("keep")[0]  # no device filter: the whole fleet at once
