"""System checks for the INFLUX_* settings."""

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from devices.checks import check_influx_settings
from tests.conftest import point_settings_at


@pytest.fixture
def good(settings):
    return point_settings_at(settings, "http://localhost:8086", token="some-token", timeout="5")


def ids(settings=None):
    return [m.id for m in check_influx_settings()]


def test_good_settings_pass(good):
    assert check_influx_settings() == []


def test_it_says_to_set_a_missing_url(good):
    good.INFLUX_URL = ""
    [message] = check_influx_settings()
    assert message.id == "devices.E001"
    assert "Set INFLUX_URL" in message.hint


@pytest.mark.parametrize(
    "url", ["localhost:8086", "ftp://host", "http://", "http://host:99999", "http://u:p@host"]
)
def test_it_rejects_malformed_urls(good, url):
    good.INFLUX_URL = url
    assert ids() == ["devices.E002"]


def test_it_says_to_set_token_and_org(good):
    good.INFLUX_TOKEN = ""
    good.INFLUX_ORG = "  "
    messages = check_influx_settings()
    assert [m.id for m in messages] == ["devices.E003", "devices.E004"]
    assert "INFLUX_TOKEN" in messages[0].hint
    assert "organization" in messages[1].hint


@pytest.mark.parametrize("timeout", ["0", "-1", "abc", "", "nan", "inf"])
def test_it_rejects_a_timeout_that_is_not_a_positive_number(good, timeout):
    good.INFLUX_TIMEOUT = timeout
    [message] = check_influx_settings()
    assert message.id == "devices.E005"
    assert 'INFLUX_TIMEOUT="5"' in message.hint


def test_a_fractional_timeout_is_fine(good):
    good.INFLUX_TIMEOUT = "0.5"
    assert check_influx_settings() == []


def test_it_rejects_empty_or_invalid_bucket_names(good):
    good.INFLUX_BUCKET = ""
    good.INFLUX_BUCKET_AUTH = "_system"
    messages = check_influx_settings()
    assert [m.id for m in messages] == ["devices.E006", "devices.E007"]
    assert "INFLUX_BUCKET" in messages[0].msg


def test_it_warns_when_tokens_would_sit_beside_telemetry(good):
    good.INFLUX_BUCKET_AUTH = good.INFLUX_BUCKET
    [message] = check_influx_settings()
    assert message.id == "devices.W001"
    assert not message.is_serious()
    assert "INFLUX_BUCKET_AUTH" in message.hint


def test_manage_py_check_reports_the_problem(good):
    good.INFLUX_TOKEN = ""
    with pytest.raises(SystemCheckError, match="INFLUX_TOKEN is not set"):
        call_command("check")
