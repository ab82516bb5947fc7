"""Device data cannot break a page: hostile values on every range answer 200 with a chart or a
message, never a 500, a hang or "InfluxDB unavailable" (issue 8).

Each case is what a device token can write: a constant, two nearly equal readings, the extremes
of a float, the smallest subnormals, the largest uint64, a string or boolean in a numeric field.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from devices import influx as svc
from tests.devices.influx.points import write_lines

RANGES = list(svc.RANGES)
# "NaN" as a value on the page (not inside a word or a random token such as the CSRF one).
NAN = re.compile(r"(?<![A-Za-z0-9_-])nan(?![A-Za-z0-9_-])", re.IGNORECASE)


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def at(minutes_ago: float) -> int:
    return int((now() - timedelta(minutes=minutes_ago)).timestamp())


# device id -> line protocol (field sets) written at a few times within the last 4 minutes of
# when the test runs (not when the module is collected), so every range, 5m included, holds them.
def cases() -> dict[str, list[str]]:
    return {
        "constant": [f"Temperature=21.7 {at(m)}" for m in (0.5, 1, 2, 3)],
        "near-equal": [f"Temperature=20.0 {at(3)}", f"Temperature=20.000000000000004 {at(0.5)}"],
        "huge": [
            f"Pressure=1.7e308 {at(3)}",
            f"Pressure=-1.7e308 {at(2)}",
            f"Pressure=1.7e308 {at(1)}",
        ],
        "tiny": [f"CO2=5e-324 {at(3)}", f"CO2=-5e-324 {at(1)}"],
        "uint64": [f"TVOC=18446744073709551615u {at(3)}", f"TVOC=0u {at(1)}"],
    }


@pytest.fixture
def hostile(staff_client, influx):
    for device_id, fields in cases().items():
        svc.register_device(device_id)
        write_lines(influx, [f"environment,device={device_id} {f}" for f in fields])
    # A string and a boolean in numeric fields: the first values of those fields the bucket
    # got (InfluxDB then refuses numbers there, within a shard).
    svc.register_device("mixed")
    write_lines(
        influx,
        [
            f'environment,device=mixed Temperature=21.5,Lat="north",Humidity=true {at(3)}',
            f'environment,device=mixed Temperature=21.6,Lat="south",Humidity=false {at(1)}',
        ],
    )
    return staff_client


@pytest.mark.parametrize("range_key", RANGES)
@pytest.mark.parametrize("device_id", list(cases()))
def test_hostile_numbers_draw_a_chart_on_every_range(hostile, device_id, range_key):
    response = hostile.get(f"/devices/{device_id}/dashboard/", {"range": range_key})
    assert response.status_code == 200, response.content[:300]
    page = response.content.decode()
    assert 'class="line"' in page or 'class="dot"' in page, device_id
    assert not NAN.search(page)


@pytest.mark.parametrize("range_key", RANGES)
def test_a_window_mean_that_overflows_is_left_out_not_a_500(staff_client, influx, range_key):
    # Two 1.7e308 in one window: their mean overflows to +inf in InfluxDB.
    svc.register_device("overflow")
    write_lines(influx, [f"environment,device=overflow Pressure=1.7e308 {at(m)}" for m in (1, 0.5)])
    response = staff_client.get("/devices/overflow/dashboard/", {"range": range_key})
    assert response.status_code == 200, response.content[:300]
    assert not NAN.search(response.content.decode())


@pytest.mark.parametrize("range_key", RANGES)
def test_a_string_or_boolean_in_a_numeric_field_is_named_not_a_503(hostile, range_key):
    response = hostile.get("/devices/mixed/dashboard/", {"range": range_key})
    assert response.status_code == 200, response.content[:300]
    page = response.content.decode()
    assert "non-numeric" in page
    assert "Lat" in page
    assert "Humidity" in page
    # The numeric field beside them is still charted.
    assert "Temperature" in [c.field for c in response.context["board"].charts]


@pytest.mark.parametrize("range_key", RANGES)
def test_the_device_page_survives_hostile_data_on_every_range(hostile, range_key):
    for device_id in [*cases(), "mixed"]:
        response = hostile.get(f"/devices/{device_id}/", {"range": range_key})
        assert response.status_code == 200, (device_id, response.content[:300])


@pytest.mark.parametrize("range_key", ["1d", "3d", "7d", "30d"])
def test_a_constant_written_once_a_minute_for_days_draws_a_flat_line(
    staff_client, influx, range_key
):
    # Issue 8's first report: window means of a constant differ in the last bits
    # (21.7 vs 21.700000000000003), which collapsed the axis ticks (ZeroDivisionError, a hang).
    svc.register_device("flat")
    write_lines(
        influx,
        [f"environment,device=flat Temperature=21.7 {at(m)}" for m in range(0, 4 * 24 * 60, 1)],
    )
    response = staff_client.get("/devices/flat/dashboard/", {"range": range_key})
    assert response.status_code == 200
    assert response.content.decode().count('class="line"') == 1
