"""Value model of a virtual IoT device: pure Python, no Django or InfluxDB imports.

Each quantity follows a slow seasonal wave (its own period in days) plus a daily wave (lowest
at midnight UTC, highest at noon) plus a little noise, always inside the range a real sensor of
that kind reports (the dashboards' gauge ranges):

    min + span/2 + span/4·sin(2π·(days mod period)/period) + span/4·sin(2π·day_fraction - π/2)
    + noise

The position moves along a small closed track, so ``Lat`` and ``Lon`` change plausibly.
Everything random comes from the ``random.Random`` given, so a seed reproduces a series.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

DAY_S = 86_400.0

# Tags a virtual device writes beside the device tags (the reference apps' sensor tags).
SENSOR_TAGS = {
    "TemperatureSensor": "virtual_bme280",
    "HumiditySensor": "virtual_bme280",
    "PressureSensor": "virtual_bme280",
}


@dataclass(frozen=True)
class Quantity:
    period_days: float
    low: float
    high: float

    @property
    def span(self) -> float:
        return self.high - self.low


QUANTITIES: dict[str, Quantity] = {
    "Temperature": Quantity(30, 0, 40),  # °C
    "Humidity": Quantity(90, 0, 99),  # %
    "Pressure": Quantity(20, 970, 1050),  # hPa
    "CO2": Quantity(1, 400, 3000),  # ppm
    "TVOC": Quantity(1, 250, 2000),  # ppb
}

# Noise amplitude as a share of each quantity's span: visible jitter, trends still readable.
NOISE = 0.02

# A small closed loop (about 1 km) around a park in Prague, as (lat, lon) offsets in degrees.
# Lon really is the longitude (a reference app wrote the latitude into it).
TRACK_CENTER = (50.0880, 14.4208)
TRACK = [
    (0.0000, 0.0000),
    (0.0021, 0.0012),
    (0.0034, 0.0047),
    (0.0025, 0.0089),
    (0.0003, 0.0102),
    (-0.0019, 0.0081),
    (-0.0027, 0.0040),
    (-0.0014, 0.0009),
]
TRACK_LAP_S = 3_600.0  # one lap an hour


def _epoch_seconds(t: datetime) -> float:
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.timestamp()


def value(name: str, t: datetime, rng: random.Random) -> float:
    """The value of quantity ``name`` at time ``t`` (a float within its range)."""
    q = QUANTITIES[name]
    seconds = _epoch_seconds(t)
    days = seconds / DAY_S
    day_fraction = (seconds % DAY_S) / DAY_S
    seasonal = math.sin(2 * math.pi * (days % q.period_days) / q.period_days)
    daily = math.sin(2 * math.pi * day_fraction - math.pi / 2)
    noise = rng.uniform(-1.0, 1.0) * NOISE * q.span
    v = q.low + q.span / 2 + q.span / 4 * seasonal + q.span / 4 * daily + noise
    return float(round(min(q.high, max(q.low, v)), 2))


def _track_offset(device_id: str) -> float:
    """Where on the lap a device starts, so several virtual devices don't overlap (stable)."""
    digest = hashlib.sha256(device_id.encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 * TRACK_LAP_S


def position(t: datetime, device_id: str = "") -> tuple[float, float]:
    """(lat, lon) on the track at ``t``, interpolated linearly between track points."""
    phase = ((_epoch_seconds(t) + _track_offset(device_id)) % TRACK_LAP_S) / TRACK_LAP_S
    scaled = phase * len(TRACK)
    i = int(scaled) % len(TRACK)
    frac = scaled - int(scaled)
    (lat1, lon1), (lat2, lon2) = TRACK[i], TRACK[(i + 1) % len(TRACK)]
    lat = TRACK_CENTER[0] + lat1 + (lat2 - lat1) * frac
    lon = TRACK_CENTER[1] + lon1 + (lon2 - lon1) * frac
    return float(round(lat, 6)), float(round(lon, 6))


def reading(t: datetime, rng: random.Random, device_id: str = "") -> dict[str, float]:
    """All fields a virtual device reports at ``t``: floats only (no int/float type conflicts)."""
    values = {name: value(name, t, rng) for name in QUANTITIES}
    values["Lat"], values["Lon"] = position(t, device_id)
    return values


def minutes(start: datetime, stop: datetime, step: timedelta = timedelta(minutes=1)):
    """Times ``start, start+step, …`` up to and including ``stop``."""
    t = start
    while t <= stop:
        yield t
        t += step


def readings(
    device_id: str,
    start: datetime,
    stop: datetime,
    rng: random.Random,
    step: timedelta = timedelta(minutes=1),
) -> Iterator[tuple[datetime, dict[str, float]]]:
    """``(time, fields)`` for every ``step`` from ``start`` to ``stop`` inclusive."""
    for t in minutes(start, stop, step):
        yield t, reading(t, rng, device_id)


def backfill_start(last: datetime | None, now: datetime, backfill: timedelta) -> datetime:
    """First minute to write: the minute after the last point, at most ``backfill`` ago."""
    floor = (now - backfill).replace(second=0, microsecond=0)
    if last is None:
        return floor
    after_last = last.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return max(after_last, floor)
