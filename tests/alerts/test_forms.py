"""Rules: hostile field names, device ids and durations are form errors, never Flux."""

import pytest

from alerts.forms import RuleForm

BASE = {"name": "CO2 high", "condition": "above", "field": "CO2", "threshold": "1500",
        "minutes": "10", "severity": "warning", "enabled": "on", "device_id": ""}  # fmt: skip


def form(**changes):
    return RuleForm({**BASE, **changes})


@pytest.mark.django_db
def test_a_plain_rule_is_valid():
    assert form().is_valid(), form().errors


@pytest.mark.django_db
@pytest.mark.parametrize(
    "hostile",
    ['CO2") |> drop()', "CO2 or true", "${x}", "a" * 65, "Tempé", 'x"', "CO2\nx"],
)
def test_hostile_field_names_are_form_errors(hostile):
    f = form(field=hostile)
    assert not f.is_valid()
    assert "field" in f.errors


@pytest.mark.django_db
@pytest.mark.parametrize("minutes", ["0", "-5", "10080000", "10m", "1h) |> x"])
def test_hostile_or_unbounded_durations_are_form_errors(minutes):
    f = form(minutes=minutes)
    assert not f.is_valid()
    assert "minutes" in f.errors


@pytest.mark.django_db
def test_a_bad_device_id_is_a_form_error():
    f = form(device_id='x" or r._value > 0')
    assert not f.is_valid()
    assert "device_id" in f.errors


@pytest.mark.django_db
def test_a_band_must_be_ordered_and_complete():
    f = form(condition="outside", threshold="30", high="10")
    assert not f.is_valid()
    assert "must be above" in str(f.errors["high"])
    assert not form(condition="outside", high="").is_valid()
    assert form(condition="outside", threshold="10", high="30").is_valid()


@pytest.mark.django_db
def test_threshold_rules_need_a_field_and_a_limit_silence_does_not():
    assert "field" in form(field="").errors
    assert "threshold" in form(threshold="").errors
    f = form(condition="silence", field="", threshold="")
    assert f.is_valid(), f.errors
    rule = f.save()
    assert rule.field == ""
    assert rule.threshold is None
