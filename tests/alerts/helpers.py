"""Rules and telemetry for the alert tests."""

from datetime import UTC, datetime, timedelta

from alerts.models import Rule
from tests.devices.influx.points import write_telemetry


def now():
    return datetime.now(UTC).replace(microsecond=0)


def rule(**fields):
    defaults = {"name": "CO2 high", "condition": Rule.ABOVE, "field": "CO2", "threshold": 1500,
                "minutes": 10}  # fmt: skip
    r = Rule(**{**defaults, **fields})
    r.full_clean()
    r.save()
    return r


def write_minutes(env, device_id, minutes_ago, value, field="CO2"):
    """One point a minute, ``minutes_ago`` (iterable of ints) before now."""
    t = now()
    for m in minutes_ago:
        write_telemetry(env, device_id, t - timedelta(minutes=m), **{field: value})
