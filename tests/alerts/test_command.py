"""``manage.py alerts``: one pass by default; ``--loop`` stops on a signal flag."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from alerts.management.commands.alerts import Command
from alerts.models import Alert, Rule
from tests.alerts.helpers import rule, write_minutes
from tests.devices.commands.output import assert_loop_stops_soon_after_sigterm


def test_one_pass_by_default(influx):
    rule()
    write_minutes(influx, "room-1", range(12, -1, -1), 1800)
    out = StringIO()
    call_command("alerts", stdout=out)
    assert "1 fired" in out.getvalue()
    assert Alert.objects.filter(device_id="room-1").count() == 1


@pytest.mark.django_db
def test_an_unreachable_influxdb_is_reported_and_the_loop_goes_on(offline_influx):
    rule()
    err = StringIO()
    command = Command(stdout=StringIO(), stderr=err)
    command.step()
    assert "Alerts pass failed" in err.getvalue()


@pytest.mark.django_db
def test_the_loop_stops_soon_after_sigterm(offline_influx):
    assert_loop_stops_soon_after_sigterm(Command, after=0.5, within=5)


def test_example_rules_are_created_once(influx):
    call_command("alerts", example_rules="demo-sensor-1", stdout=StringIO())
    call_command("alerts", example_rules="demo-sensor-1", stdout=StringIO())
    rules = sorted(r.describe() for r in Rule.objects.all())
    assert rules == [
        "demo-sensor-1: CO2 above 1500 for 10 min",
        "demo-sensor-1: no data for 5 min",
    ]


@pytest.mark.parametrize(
    ("interval", "message"),
    [
        # No pause would evaluate (and query InfluxDB) back to back; inf would never again.
        ("0", "must be positive"),
        ("-30", "must be positive"),
        ("nan", "must be positive"),
        ("inf", "must be positive"),
        ("1m", "not a number of seconds"),
    ],
)
def test_a_bad_interval_is_a_clear_error(interval, message):
    with pytest.raises(CommandError, match=message):
        call_command("alerts", "--loop", "--interval", interval, stdout=StringIO())


@pytest.mark.django_db
def test_a_bad_alerts_interval_setting_is_a_clear_error(settings):
    settings.ALERTS_INTERVAL_S = 0
    with pytest.raises(CommandError, match="ALERTS_INTERVAL_S must be positive"):
        call_command("alerts", "--loop", stdout=StringIO())


@pytest.mark.django_db
def test_an_interval_given_in_code_is_checked_too():
    # call_command's keyword options do not go through the parser's type check.
    with pytest.raises(CommandError, match="--interval must be positive"):
        call_command("alerts", loop=True, interval=0, stdout=StringIO())
