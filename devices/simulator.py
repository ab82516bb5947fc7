"""Value model of a virtual IoT device: pure Python, no Django or InfluxDB imports.

Every value is a function of (seed, device id, minute) only: the same seed gives a device the
same series whichever other devices run and whichever minute a run starts at. Randomness comes
from ``random.Random`` instances seeded with text naming the seed, the device and the hour (or
the day, for slow changes), so nothing depends on the order values are asked for.

The dynamics are weather-like:

* Temperature: a seasonal cycle (warmest late July), a daily cycle by the device's local solar
  time (coolest ~03:00, warmest ~15:00), weather fronts over days and hours, a little jitter;
* Humidity: the opposite daily cycle of temperature, plus its own fronts;
* Pressure: drifts a few hPa over hours (smooth noise at 24 h, 6 h and 1 h scales), never jumps;
* CO2 / TVOC: occupancy-like: rise on working days while people are in, decay at night and on
  weekends, each device with its own hours and crowd;
* Lat / Lon: a per-device base around Prague, optionally moving along a small closed route.

Each device is slightly different (offsets and scales drawn from its own seeded traits). The
ranges are built so values stay well inside the dashboards' gauge ranges without clipping.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

DAY_S = 86_400.0
MINUTE_S = 60

# Tags a virtual device writes beside the device tags: the reference apps' six sensor tags.
SENSOR_TAGS = {
    "CO2Sensor": "virtual_ccs811",
    "GPSSensor": "virtual_gps",
    "HumiditySensor": "virtual_bme280",
    "PressureSensor": "virtual_bme280",
    "TVOCSensor": "virtual_ccs811",
    "TemperatureSensor": "virtual_bme280",
}

# Field names in line-protocol order (sorted) and the decimals each is written with.
FIELDS = ("CO2", "Humidity", "Lat", "Lon", "Pressure", "TVOC", "Temperature")
DECIMALS = {"CO2": 1, "Humidity": 1, "Lat": 6, "Lon": 6, "Pressure": 2, "TVOC": 1, "Temperature": 2}

# The dashboards' gauge ranges: every value stays inside them.
RANGES = {
    "Temperature": (0.0, 40.0),
    "Humidity": (0.0, 100.0),
    "Pressure": (970.0, 1050.0),
    "CO2": (400.0, 3000.0),
    "TVOC": (250.0, 2000.0),
}

# A small closed loop (about 1 km) around a park, as (lat, lon) offsets from a device's base.
TRACK_CENTER = (50.0880, 14.4208)  # Prague; Lon really is the longitude
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
TRACK_LAP_MIN = 60  # one lap an hour

# Smooth-noise scales in minutes (each divides the next, and the hour divides them all).
SCALES = (60, 360, 1440)
# smoothstep weights of each minute within a knot interval, for each scale
_WEIGHTS = {s: [(f := m / s) * f * (3 - 2 * f) for m in range(s)] for s in SCALES}
_TAU = 2 * math.pi
# Daily cycle by local minute: -cos, lowest at 03:00, highest at 15:00.
_DAILY = [-math.cos(_TAU * (m - 180) / 1440) for m in range(1440)]
_KNOT_CACHE_MAX = 64


def _smooth(rise: float) -> float:
    return rise * rise * (3 - 2 * rise) if 0 < rise < 1 else (0.0 if rise <= 0 else 1.0)


class Model:
    """One device's series. ``minute`` arguments are whole minutes since the Unix epoch."""

    def __init__(self, device_id: str, seed: int = 0, *, moving: bool = True):
        self.device_id = device_id
        self.seed = seed
        self.moving = moving
        self._key = f"iotcenter-sim:{seed}:{device_id}"
        traits = random.Random(f"{self._key}:traits")  # noqa: S311 -- simulated values
        u = traits.uniform
        self.temp_base = 18.0 + u(-2.0, 2.0)
        self.humidity_base = 55.0 + u(-6.0, 6.0)
        self.pressure_base = 1013.0 + u(-4.0, 4.0)  # a little altitude
        self.co2_crowd = u(450.0, 1100.0)  # ppm above outdoor air when fully occupied
        self.tvoc_ratio = u(0.25, 0.45)
        self.arrive = u(7.0, 9.0)  # local hours
        self.leave = u(16.5, 19.0)
        self.base = (TRACK_CENTER[0] + u(-0.03, 0.03), TRACK_CENTER[1] + u(-0.04, 0.04))
        self.lap_offset = int(u(0, TRACK_LAP_MIN))
        # Local solar time, in minutes, from the base longitude.
        self.utc_offset_min = round(self.base[1] * 4)
        self._knots: dict[tuple[int, int], tuple[float, ...]] = {}

    # -- noise ------------------------------------------------------------------------------

    def _knot(self, scale: int, index: int) -> tuple[float, ...]:
        """Smooth-noise knot ``index`` at ``scale`` minutes: 4 values in [-1, 1]."""
        key = (scale, index)
        found = self._knots.get(key)
        if found is None:
            if len(self._knots) >= _KNOT_CACHE_MAX:
                self._knots.clear()
            rng = random.Random(f"{self._key}:k{scale}:{index}")  # noqa: S311
            found = self._knots[key] = tuple(rng.random() * 2 - 1 for _ in range(4))
        return found

    def _octave(self, scale: int, hour: int, which: int) -> list[float]:
        """60 smooth-noise values of ``which`` for the minutes of ``hour``, at ``scale``."""
        per = scale // 60
        index, part = divmod(hour, per)
        a = self._knot(scale, index)[which]
        d = self._knot(scale, index + 1)[which] - a
        weights = _WEIGHTS[scale][part * 60 : part * 60 + 60]
        return [a + d * w for w in weights]

    def _occupancy(self, minute: int) -> float:
        """0..1: how full the room is at ``minute`` (a working-day pattern, smoothed)."""
        local = minute + self.utc_offset_min
        day, in_day = divmod(local, 1440)
        hours = in_day / 60
        weekday = (day + 3) % 7  # 1970-01-01 was a Thursday: 0 = Monday
        crowd = random.Random(f"{self._key}:day:{day}").uniform(0.55, 1.0)  # noqa: S311
        if weekday >= 5:
            crowd *= 0.12
        rise = _smooth((hours - self.arrive) / 1.5)
        fall = 1.0 - _smooth((hours - self.leave) / 2.5)
        return crowd * rise * fall

    # -- values -----------------------------------------------------------------------------

    def hour(self, hour: int) -> list[tuple[float, ...]]:
        """Values of the 60 minutes of ``hour`` (hours since the epoch), each a tuple in
        ``FIELDS`` order, unrounded."""
        first = hour * 60
        local0 = (first + self.utc_offset_min) % 1440
        daily = [_DAILY[(local0 + m) % 1440] for m in range(60)]
        day_of_year = (first / 1440) % 365.25
        seasonal = math.cos(_TAU * (day_of_year - 202) / 365.25)
        temp_front = [
            3.0 * a + 0.6 * b
            for a, b in zip(self._octave(1440, hour, 0), self._octave(60, hour, 0), strict=True)
        ]
        pressure = [
            self.pressure_base + 8.0 * a + 3.0 * b + 0.5 * c
            for a, b, c in zip(
                self._octave(1440, hour, 1),
                self._octave(360, hour, 1),
                self._octave(60, hour, 1),
                strict=True,
            )
        ]
        humid_front = [12.0 * a + 2.0 * b for a, b in zip(
            self._octave(360, hour, 2), self._octave(60, hour, 2), strict=True
        )]  # fmt: skip
        air = self._octave(60, hour, 3)
        occ0 = self._occupancy(first)
        occ1 = self._occupancy(first + 60)
        jitter = random.Random(f"{self._key}:n:{hour}")  # noqa: S311
        noise = [jitter.random() - 0.5 for _ in range(180)]
        temp_season = self.temp_base + 7.0 * seasonal
        out = []
        for m in range(60):
            temp = temp_season + 4.0 * daily[m] + temp_front[m] + 0.1 * noise[m]
            humid = self.humidity_base - 9.0 * daily[m] + humid_front[m] + 0.6 * noise[m + 60]
            occ = occ0 + (occ1 - occ0) * (m / 60)
            co2 = 420.0 + self.co2_crowd * occ + 25.0 * (air[m] + 1) + 8.0 * noise[m + 120]
            tvoc = 300.0 + self.tvoc_ratio * (co2 - 420.0) + 20.0 * (air[m] + 1)
            lat, lon = self._position(first + m)
            out.append((co2, humid, lat, lon, pressure[m], tvoc, temp))
        return out

    def _position(self, minute: int) -> tuple[float, float]:
        if not self.moving:
            return self.base
        phase = ((minute + self.lap_offset) % TRACK_LAP_MIN) / TRACK_LAP_MIN * len(TRACK)
        i = int(phase)
        frac = phase - i
        (lat1, lon1), (lat2, lon2) = TRACK[i], TRACK[(i + 1) % len(TRACK)]
        return (
            self.base[0] + lat1 + (lat2 - lat1) * frac,
            self.base[1] + lon1 + (lon2 - lon1) * frac,
        )

    def reading(self, minute: int) -> dict[str, float]:
        """The fields at ``minute``, rounded as they are written (floats only)."""
        hour, m = divmod(minute, 60)
        values = self.hour(hour)[m]
        return {name: round(v, DECIMALS[name]) for name, v in zip(FIELDS, values, strict=True)}

    def lines(self, prefix: str, first: int, last: int) -> Iterator[str]:
        """Line protocol (precision s) of every minute from ``first`` to ``last`` inclusive,
        one line per string (with its newline). ``prefix``: measurement and tags, then a
        space."""
        hour = first // 60
        while hour * 60 <= last:
            lo = max(first - hour * 60, 0)
            hi = min(last - hour * 60, 59)
            values = self.hour(hour)
            ts = hour * 3600
            for m in range(lo, hi + 1):
                co2, humid, lat, lon, press, tvoc, temp = values[m]
                yield (
                    f"{prefix}CO2={co2:.1f},Humidity={humid:.1f},Lat={lat:.6f},Lon={lon:.6f},"
                    f"Pressure={press:.2f},TVOC={tvoc:.1f},Temperature={temp:.2f} "
                    f"{ts + m * 60}\n"
                )
            hour += 1


def epoch_minute(t: datetime) -> int:
    """Whole minutes since the epoch of ``t`` (naive means UTC), rounded down."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return int(t.timestamp() // MINUTE_S)


def minute_time(minute: int) -> datetime:
    return datetime.fromtimestamp(minute * MINUTE_S, UTC)


def reading(t: datetime, device_id: str = "", seed: int = 0) -> dict[str, float]:
    """All fields a virtual device reports at ``t`` (its minute): floats only."""
    return Model(device_id, seed).reading(epoch_minute(t))


def position(t: datetime, device_id: str = "", seed: int = 0) -> tuple[float, float]:
    """(lat, lon) of a moving device at ``t``, rounded as written."""
    values = reading(t, device_id, seed)
    return values["Lat"], values["Lon"]


def readings(
    device_id: str,
    start: datetime,
    stop: datetime,
    rng: random.Random | int | None = None,
    step: timedelta = timedelta(minutes=1),
) -> Iterator[tuple[datetime, dict[str, float]]]:
    """``(time, fields)`` for every ``step`` from ``start``'s minute to ``stop`` inclusive.

    ``rng``: the seed, or a ``random.Random`` the seed is drawn from (so a seeded one gives the
    same series); None is seed 0. For tests and screenshots; ``Model.lines`` is the fast path.
    """
    seed = rng.randrange(2**32) if isinstance(rng, random.Random) else int(rng or 0)
    model = Model(device_id, seed)
    every = max(1, int(step.total_seconds() // MINUTE_S))
    for minute in range(epoch_minute(start), epoch_minute(stop) + 1, every):
        yield minute_time(minute), model.reading(minute)


def backfill_start(last: datetime | None, now: datetime, backfill: timedelta) -> datetime:
    """First minute to write: the minute after the last point, at most ``backfill`` ago."""
    floor = (now - backfill).replace(second=0, microsecond=0)
    if last is None:
        return floor
    after_last = last.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return max(after_last, floor)
