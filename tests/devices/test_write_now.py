""" "Write data now" on a device's page: staff only, simulate's pipeline and values, the device's
own token, exact counts, clear errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.messages import get_messages

from devices import influx as svc
from devices import simulator
from devices.influx import write_now


def count_points(env, device_id: str, start: str = "-40d") -> int:
    flux = (
        f'from(bucket: "{env.bucket}") |> range(start: {start})'
        f' |> filter(fn: (r) => r._measurement == "environment" and r.clientId == "{device_id}"'
        ' and r._field == "Temperature") |> count()'
    )
    tables = env.client.query_api().query(flux, org=env.org)
    return sum(record.get_value() for table in tables for record in table.records)


def said(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def rover(staff_client, influx):
    svc.register_device("rover")
    return staff_client


def post(client, device_id="rover", **data):
    return client.post(f"/devices/{device_id}/write-now/", data)


def test_one_point_now_is_on_the_dashboard(rover, influx):
    before = simulator.epoch_minute(datetime.now(UTC))
    response = post(rover, what="now")
    assert response.status_code == 302
    assert response["Location"] == "/devices/rover/"
    assert said(response) == ["Wrote 1 simulated point (now) with the device's own token."]
    assert count_points(influx, "rover") == 1
    board = rover.get("/devices/rover/dashboard/", {"range": "1h"}).context["board"]
    readings = {r.field: r for r in board.readings}
    assert set(readings) == set(simulator.FIELDS)
    # simulate's values: same seed (0), device and minute give the same value.
    minute = simulator.epoch_minute(readings["Temperature"].time)
    assert minute in (before, before + 1)
    expected = simulator.Model("rover", 0).reading(minute)
    assert {name: r.value for name, r in readings.items()} == expected
    assert [c.count for c in board.charts if c.field == "Temperature"] == [1]


def test_fill_the_last_days_writes_exactly_a_point_a_minute(rover, influx, monkeypatch):
    # The fills' clock: 5 s, then 50 s into this minute. Both within one minute, whenever the
    # test runs (a minute beginning between two real posts would add its point: 2,882), and
    # seconds apart, so points not on whole minutes would double.
    minute = datetime.now(UTC).replace(second=0, microsecond=0)
    at = [minute + timedelta(seconds=5)]

    class Clock(datetime):
        @classmethod
        def now(cls, tz=None):
            return at[0].astimezone(tz)

    monkeypatch.setattr(write_now, "datetime", Clock)
    response = post(rover, what="days", days="2")
    assert response.status_code == 302
    assert said(response) == [
        "Wrote 2,881 simulated points (2,881 minutes up to now) with the device's own token."
    ]
    assert count_points(influx, "rover") == 2 * 1440 + 1
    # Filling again rewrites the same minutes with the same values: nothing doubles.
    at[0] = minute + timedelta(seconds=50)
    post(rover, what="days", days="1")
    assert count_points(influx, "rover") == 2 * 1440 + 1


@pytest.mark.localonly
def test_a_fill_is_sent_in_batches_of_2000_lines(rover, local_influx):
    stats = local_influx.local.stats
    stats.wait_idle()
    stats.reset()
    post(rover, what="days", days="7")
    stats.wait_idle()
    assert stats.points_written == 7 * 1440 + 1
    assert stats.requests("/api/v2/write", "POST") == 6  # 10,081 lines in 2,000-line batches


def test_it_goes_back_to_the_page_it_came_from(rover, influx):
    response = post(rover, what="now", next="/devices/rover/dashboard/?range=1h")
    assert response["Location"] == "/devices/rover/dashboard/?range=1h"
    response = post(rover, what="now", next="https://evil.example/")
    assert response["Location"] == "/devices/rover/"


@pytest.mark.parametrize(
    "data",
    [
        {"what": "days", "days": "0"},
        {"what": "days", "days": "31"},
        {"what": "days", "days": "1.5"},
        {"what": "days", "days": "many"},
        {"what": "days"},
    ],
)
def test_a_bad_number_of_days_is_a_form_error_and_writes_nothing(rover, influx, data):
    response = post(rover, **data)
    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was written: Give a whole number of days from 1 to 30." in page
    assert count_points(influx, "rover") == 0


def test_one_point_now_ignores_the_days_box(rover, influx):
    assert post(rover, what="now", days="999").status_code == 302
    assert count_points(influx, "rover") == 1


def test_an_unknown_choice_is_a_form_error(rover, influx):
    response = post(rover, what="everything")
    assert response.status_code == 400
    assert "Nothing was written" in response.content.decode()


def test_viewers_get_403_anonymous_users_the_login_page(user_client, client, influx):
    svc.register_device("rover")
    assert post(user_client, what="now").status_code == 403
    user_client.logout()
    response = post(client, what="now")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert count_points(influx, "rover") == 0


def test_get_is_not_allowed(rover):
    assert rover.get("/devices/rover/write-now/").status_code == 405


def test_it_needs_the_csrf_token(influx, staff_user):
    from django.test import Client

    svc.register_device("rover")
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    assert post(client, what="now").status_code == 403
    assert count_points(influx, "rover") == 0


def test_a_removed_or_unknown_device_is_a_404(rover, influx):
    svc.remove_device("rover")
    assert post(rover, what="now").status_code == 404
    assert post(rover, "ghost", what="now").status_code == 404


def test_it_writes_with_the_devices_own_token(rover, influx):
    # Revoke the device's token behind the app's back: the write is refused, and says whose
    # token it was; nothing was written with the operator's token instead.
    auths = influx.client.authorizations_api()
    for auth in auths.find_authorizations(org_id=influx.org_id):
        if (auth.description or "").endswith("rover"):
            auths.delete_authorization(auth)
    response = post(rover, what="now")
    assert response.status_code == 302
    (message,) = said(response)
    assert message.startswith("Wrote 0 of 1 simulated points (now); 1 not written: rover:")
    assert "the token of device 'rover'" in message
    assert count_points(influx, "rover") == 0


def test_influxdb_down_is_the_503_page(staff_client, offline_influx):
    response = post(staff_client, what="now")
    assert response.status_code == 503
    assert "InfluxDB unavailable" in response.content.decode()


def test_a_fill_that_runs_out_of_time_says_exactly_what_it_wrote(rover, influx, monkeypatch):
    monkeypatch.setattr(write_now, "TIME_SHARE", 0.0)  # the page's time is up at once
    response = post(rover, what="days", days="30")
    assert response.status_code == 302
    (message,) = said(response)
    written = count_points(influx, "rover")
    assert written < 30 * 1440 + 1
    assert message.startswith(f"Wrote {written:,} of 43,201 simulated points")
    assert f"stopped at the page's time limit ({43_201 - written:,} not written)" in message
    assert "manage.py simulate rover --backfill-days N" in message
