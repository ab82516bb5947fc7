"""The virtual device's value model."""

import random
from datetime import UTC, datetime, timedelta

import pytest

from devices import simulator

RANGES = {
    "Temperature": (0, 40),
    "Humidity": (0, 99),
    "Pressure": (970, 1050),
    "CO2": (400, 3000),
    "TVOC": (250, 2000),
}


def test_every_value_is_a_float_within_its_sensor_range():
    rng = random.Random(1)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for step in range(0, 90 * 24, 7):  # 90 days, every 7 hours
        values = simulator.reading(start + timedelta(hours=step), rng, "dev-1")
        assert set(values) == {*RANGES, "Lat", "Lon"}
        for name, (low, high) in RANGES.items():
            assert isinstance(values[name], float)
            assert low <= values[name] <= high, (name, values[name])


def test_the_same_seed_gives_the_same_series():
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    t1 = t0 + timedelta(hours=3)
    a = list(simulator.readings("dev", t0, t1, random.Random(42)))
    b = list(simulator.readings("dev", t0, t1, random.Random(42)))
    c = list(simulator.readings("dev", t0, t1, random.Random(43)))
    assert a == b
    assert a != c


def test_it_yields_one_reading_per_minute_inclusive():
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    points = list(simulator.readings("dev", t0, t0 + timedelta(days=1), random.Random(0)))
    assert len(points) == 24 * 60 + 1
    assert points[1][0] - points[0][0] == timedelta(minutes=1)


def test_temperature_is_higher_at_noon_than_at_midnight():
    rng = random.Random(5)
    for day in range(10):
        midnight = datetime(2026, 5, 1, tzinfo=UTC) + timedelta(days=day)
        noon = midnight + timedelta(hours=12)
        assert simulator.value("Temperature", noon, rng) > simulator.value(
            "Temperature", midnight, rng
        )


def test_the_seasonal_wave_follows_each_period():
    # Without the daily wave and noise (same time of day, noise tiny vs the seasonal swing),
    # a quarter period in, the 30-day temperature wave is near its top; three quarters in, near
    # its bottom.
    rng = random.Random(0)
    epoch_noon = datetime(1970, 1, 1, 12, tzinfo=UTC)
    top = simulator.value("Temperature", epoch_noon + timedelta(days=30 * 1000 + 7.5), rng)
    bottom = simulator.value("Temperature", epoch_noon + timedelta(days=30 * 1000 + 22.5), rng)
    assert top - bottom > 15


def test_position_moves_along_a_small_track_and_lon_is_the_longitude():
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    positions = [simulator.position(t0 + timedelta(minutes=m), "dev-1") for m in range(0, 60)]
    lats = [p[0] for p in positions]
    lons = [p[1] for p in positions]
    assert all(50.0 < lat < 50.2 for lat in lats)
    assert all(14.3 < lon < 14.5 for lon in lons)  # Prague's longitude, not its latitude
    assert len(set(positions)) > 30  # it moves
    assert max(lats) - min(lats) < 0.01  # within about a kilometre


def test_devices_start_at_different_places_on_the_track():
    t = datetime(2026, 3, 1, tzinfo=UTC)
    assert simulator.position(t, "dev-1") != simulator.position(t, "dev-2")
    assert simulator.position(t, "dev-1") == simulator.position(t, "dev-1")


def test_the_model_has_no_django_or_influx_imports():
    with open(simulator.__file__) as f:
        source = f.read()
    assert "django" not in source
    assert "influxdb_client" not in source


@pytest.fixture
def now():
    return datetime.now(UTC).replace(second=0, microsecond=0)


def test_backfill_starts_after_the_last_point_but_at_most_the_limit_back(now):
    week = timedelta(days=7)
    assert simulator.backfill_start(None, now, week) == now - week
    recent = now - timedelta(minutes=10, seconds=30)
    assert simulator.backfill_start(recent, now, week) == now - timedelta(minutes=10)
    ancient = now - timedelta(days=30)
    assert simulator.backfill_start(ancient, now, week) == now - week
