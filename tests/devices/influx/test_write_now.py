"""Write data now's service: simulate's values and pipeline, exact counts, bounded time."""

from __future__ import annotations

import pytest

from devices import influx as svc
from devices import simulator


def test_one_point_is_simulates_value_for_this_minute(influx):
    svc.register_device("rover")
    result = svc.write_simulated("rover")
    assert (result.planned, result.generated, result.written, result.failed) == (1, 1, 1, 0)
    assert result.complete
    (reading,) = [r for r in svc.latest_readings("rover") if r.field == "CO2"]
    minute = simulator.epoch_minute(reading.time)
    assert reading.value == simulator.Model("rover", 0).reading(minute)["CO2"]


def test_out_of_time_every_point_is_counted_once(influx):
    svc.register_device("rover")
    result = svc.write_simulated("rover", days=30, time_limit_s=0.0)
    assert result.stopped
    assert not result.complete
    assert result.written + result.failed == result.generated
    assert result.written < result.planned == 30 * 1440 + 1
    assert result.error == ""  # running out of time is not an InfluxDB error


@pytest.mark.parametrize("days", [-1, 31, 1.5, "2"])
def test_days_out_of_bounds_are_refused(influx, days):
    with pytest.raises(ValueError, match="days must be 0 to 30"):
        svc.write_simulated("rover", days=days)


def test_an_unregistered_device_is_not_found(influx):
    with pytest.raises(svc.DeviceNotFound):
        svc.write_simulated("ghost")
