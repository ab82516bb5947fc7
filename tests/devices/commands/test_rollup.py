"""``manage.py rollup``: one pass by default, ``--since`` recomputes, ``--loop`` stops on a signal
flag; the simulate backfill refreshes the rollup of what it wrote."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from devices import influx as svc
from devices.influx import rollup
from devices.management.commands.rollup import Command
from tests.devices.influx.points import write_lines

from .output import assert_loop_stops_soon_after_sigterm
from .output import run as run_command


def write_hours(env, device_id: str, hours: int, stop: datetime, value: float = 21.0) -> None:
    lines = [
        f"environment,device={device_id} Temperature={value} "
        f"{int((stop - timedelta(minutes=m)).timestamp())}"
        for m in range(1, hours * 60, 10)
    ]
    write_lines(env, lines)


def run(*args) -> str:
    return run_command("rollup", *args)


def passes_at(monkeypatch, at: datetime) -> datetime:
    """The passes' "now": one reading of the clock for the passes and the test's checks (an
    hour beginning between two readings moves what a pass covers)."""
    monkeypatch.setattr(rollup, "now", lambda: at)
    return at


def test_one_pass_rolls_up_and_says_what_it_covers(influx, settings, monkeypatch):
    settings.ROLLUP_MAX_HOURS = 24
    now = passes_at(monkeypatch, datetime.now(UTC))
    write_hours(influx, "dev-1", 5, now)
    out = run()
    assert "Rolled up 24 hours" in out
    assert "catching up" in out  # ROLLUP_DAYS (31) are not covered yet
    cov = rollup.read_coverage()
    assert cov.stop == rollup.floor_hour(now)
    assert cov.stop - cov.start == timedelta(hours=24)
    # The next pass goes on backward from there.
    run()
    assert rollup.read_coverage().start == cov.start - timedelta(hours=24)


def test_since_recomputes_a_range(influx, settings, monkeypatch):
    settings.ROLLUP_MAX_HOURS = 24 * 40
    now = passes_at(monkeypatch, datetime.now(UTC))
    run()
    write_hours(influx, "dev-1", 3, now - timedelta(days=2), value=55.0)  # a late backfill
    window = svc.TimeWindow(now - timedelta(days=3), now, "2h")
    svc.register_device("dev-1")
    assert svc.dashboard("dev-1", window).charts[0].count == 0  # rolled up before it came
    out = run("--since", (now - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M"))
    assert "Rolled up 72 hours" in out
    (chart,) = svc.dashboard("dev-1", window).charts
    assert chart.max == 55.0
    assert chart.count == svc.dashboard("dev-1", window, use_rollup=False).charts[0].count


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--since", "yesterday"), "Not a date and time"),
        # Not 2,000 years of hour-chunk queries (a typo's hang), nor times InfluxDB lacks.
        (("--since", "0001-01-01T00:00"), "between 1970 and now"),
        (("--since", "1969-12-31T23:00"), "between 1970 and now"),
        (("--since", "2026-11-01T00:00", "--loop"), "without --loop"),
        (("--interval", "0", "--loop"), "must be positive"),
        # Without a pause the loop would hammer InfluxDB; with inf it would never pass again.
        (("--interval", "-5", "--loop"), "must be positive"),
        (("--interval", "nan", "--loop"), "must be positive"),
        (("--interval", "inf", "--loop"), "must be positive"),
        (("--interval", "soon", "--loop"), "not a number of seconds"),
    ],
)
def test_bad_options_are_clear_errors(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("rollup", *args, stdout=StringIO(), stderr=StringIO())


def test_an_interval_given_in_code_is_checked_too():
    # call_command's keyword options do not go through the parser's type check.
    with pytest.raises(CommandError, match="--interval must be positive"):
        call_command("rollup", loop=True, interval=float("nan"), stdout=StringIO())


@pytest.mark.django_db
def test_an_unreachable_influxdb_is_reported_and_the_loop_goes_on(offline_influx):
    err = StringIO()
    command = Command(stdout=StringIO(), stderr=err)
    assert command.step() is None
    assert "Rollup pass failed" in err.getvalue()
    with pytest.raises(CommandError, match="failed"):
        call_command("rollup", stdout=StringIO(), stderr=StringIO())


def test_the_loop_stops_soon_after_sigterm(influx):
    assert_loop_stops_soon_after_sigterm(Command, after=1.0, within=10)


def test_a_simulate_backfill_refreshes_the_rollup_of_what_it_wrote(influx, settings):
    settings.ROLLUP_MAX_HOURS = 24 * 40
    run()  # rolled up (an empty bucket) before the device's backfill
    call_command(
        "simulate", "sim-1", "--create", "--backfill-days", "1", stdout=StringIO(), verbosity=0
    )
    now = datetime.now(UTC)
    window = svc.TimeWindow(now - timedelta(days=2), now, "2h")
    rolled = svc.dashboard("sim-1", window)
    raw = svc.dashboard("sim-1", window, use_rollup=False)
    assert [c.field for c in rolled.charts] == [c.field for c in raw.charts]
    assert [c.count for c in rolled.charts] == [c.count for c in raw.charts]
    assert rolled.charts[0].count >= 1_400
