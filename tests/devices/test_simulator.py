"""The virtual device's value model: reproducible, weather-like, inside the gauges' ranges."""

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from devices import simulator
from localinflux.lineprotocol import parse

RANGES = simulator.RANGES
JAN_1 = simulator.epoch_minute(datetime(2026, 1, 1, tzinfo=UTC))


def _series(model, first, minutes, field):
    i = simulator.FIELDS.index(field)
    values = []
    for hour in range(first // 60, (first + minutes) // 60):
        values.extend(v[i] for v in model.hour(hour))
    return values


def test_every_value_is_a_float_within_its_sensor_range_without_clipping():
    for n in range(5):
        model = simulator.Model(f"dev-{n}", seed=n)
        for minute in range(JAN_1, JAN_1 + 365 * 1440, 7 * 60 + 13):  # a year, ~every 7 hours
            values = model.reading(minute)
            assert set(values) == {*RANGES, "Lat", "Lon"}
            for name, (low, high) in RANGES.items():
                assert isinstance(values[name], float)
                # Strictly inside: a value stuck at a bound would be clipping.
                assert low < values[name] < high, (name, values[name])


def test_the_same_seed_gives_the_same_series_and_another_seed_another():
    a = list(simulator.Model("dev", 42).lines("m ", JAN_1, JAN_1 + 180))
    b = list(simulator.Model("dev", 42).lines("m ", JAN_1, JAN_1 + 180))
    c = list(simulator.Model("dev", 43).lines("m ", JAN_1, JAN_1 + 180))
    assert a == b
    assert a != c


def test_a_value_depends_on_seed_device_and_minute_only_not_on_the_start_minute():
    minute = JAN_1 + 5000
    alone = simulator.Model("dev-1", 7).reading(minute)
    # The same model after generating other stretches of time, and other devices' models.
    busy = simulator.Model("dev-1", 7)
    list(busy.lines("m ", JAN_1 - 3000, JAN_1 + 10))
    for other in ("dev-2", "dev-3"):
        simulator.Model(other, 7).reading(minute)
    assert busy.reading(minute) == alone
    # Lines from two different start minutes agree where they overlap.
    early = list(simulator.Model("dev-1", 7).lines("m ", minute - 37, minute + 100))
    late = list(simulator.Model("dev-1", 7).lines("m ", minute, minute + 100))
    assert early[37:] == late


def test_it_writes_one_line_per_minute_inclusive_with_float_fields():
    model = simulator.Model("dev")
    lines = list(model.lines("environment,device=dev ", JAN_1, JAN_1 + 1440))
    assert len(lines) == 24 * 60 + 1
    points, errors = parse("".join(lines), "s", 0, {})
    assert not errors
    assert len(points) == len(lines)
    assert all(kind == "float" for _, fields, _ in points for _, kind, _ in fields)
    first = lines[0].split()
    assert int(first[-1]) == JAN_1 * 60
    assert int(lines[1].split()[-1]) - int(first[-1]) == 60
    for field in first[1].split(","):
        name, text = field.split("=")
        assert not text.endswith("i")  # floats, never integers (no type conflicts later)
        assert text == f"{float(text):.{simulator.DECIMALS[name]}f}"


def test_temperature_has_a_daily_and_a_seasonal_cycle():
    model = simulator.Model("dev-1", 5)
    offset = model.utc_offset_min
    afternoons, nights = [], []
    for day in range(30):
        base = JAN_1 + 150 * 1440 + day * 1440 - offset  # local midnight, late May
        afternoons.append(model.reading(base + 15 * 60)["Temperature"])
        nights.append(model.reading(base + 3 * 60)["Temperature"])
    assert sum(afternoons) / 30 > sum(nights) / 30 + 4
    january = _series(model, JAN_1, 14 * 1440, "Temperature")
    july = _series(model, JAN_1 + 195 * 1440, 14 * 1440, "Temperature")
    assert sum(july) / len(july) > sum(january) / len(january) + 8


def test_pressure_drifts_over_hours_and_never_jumps():
    model = simulator.Model("dev-1", 3)
    pressure = _series(model, JAN_1, 60 * 1440, "Pressure")
    steps = [abs(a - b) for a, b in itertools.pairwise(pressure)]
    assert max(steps) < 0.2  # hPa per minute
    days = [pressure[i : i + 1440] for i in range(0, len(pressure), 1440)]
    spans = [max(d) - min(d) for d in days]
    assert max(spans) < 25
    assert max(pressure) - min(pressure) > 5  # but it does move over the weeks


def test_co2_follows_occupancy_working_days_in_the_daytime():
    model = simulator.Model("office", 1)
    offset = model.utc_offset_min
    monday = JAN_1 + 4 * 1440 - offset  # 2026-01-05, a Monday, local midnight
    work = [model.reading(monday + d * 1440 + 13 * 60)["CO2"] for d in range(5)]
    night = [model.reading(monday + d * 1440 + 2 * 60)["CO2"] for d in range(5)]
    weekend = [model.reading(monday + d * 1440 + 13 * 60)["CO2"] for d in (5, 6)]
    assert min(work) > max(night) + 150
    assert min(work) > max(weekend) + 100


def test_each_device_is_slightly_different():
    minute = JAN_1 + 12345
    a = simulator.Model("dev-1").reading(minute)
    b = simulator.Model("dev-2").reading(minute)
    assert a != b
    assert abs(a["Temperature"] - b["Temperature"]) < 15  # same weather, other room


def test_position_moves_along_a_small_track_and_lon_is_the_longitude():
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    positions = [simulator.position(t0 + timedelta(minutes=m), "dev-1") for m in range(0, 60)]
    lats = [p[0] for p in positions]
    lons = [p[1] for p in positions]
    assert all(50.0 < lat < 50.2 for lat in lats)
    assert all(14.3 < lon < 14.5 for lon in lons)  # Prague's longitude, not its latitude
    assert len(set(positions)) > 30  # it moves
    assert max(lats) - min(lats) < 0.01  # within about a kilometre


def test_devices_start_at_different_places_and_stationary_ones_stay():
    t = datetime(2026, 3, 1, tzinfo=UTC)
    assert simulator.position(t, "dev-1") != simulator.position(t, "dev-2")
    assert simulator.position(t, "dev-1") == simulator.position(t, "dev-1")
    still = simulator.Model("dev-1", moving=False)
    spots = {(r["Lat"], r["Lon"]) for r in map(still.reading, range(JAN_1, JAN_1 + 90))}
    assert len(spots) == 1


def test_the_six_sensor_tags_of_the_reference_apps():
    assert set(simulator.SENSOR_TAGS) == {
        "TemperatureSensor", "HumiditySensor", "PressureSensor", "CO2Sensor", "TVOCSensor",
        "GPSSensor",
    }  # fmt: skip


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


def test_readings_yield_one_reading_per_minute_inclusive_and_a_seeded_rng_repeats_them():
    import random

    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    points = list(simulator.readings("dev", t0, t0 + timedelta(days=1), random.Random(0)))
    assert len(points) == 24 * 60 + 1
    assert points[1][0] - points[0][0] == timedelta(minutes=1)
    again = list(simulator.readings("dev", t0, t0 + timedelta(days=1), random.Random(0)))
    other = list(simulator.readings("dev", t0, t0 + timedelta(days=1), random.Random(1)))
    assert points == again
    assert points != other
