"""Device pages end to end: Django test client -> views -> service -> InfluxDB over HTTP."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest

from devices import influx as svc
from tests.devices.influx.points import telemetry_count, write_lines, write_registrations


def telemetry(device_id: str, when: datetime, **fields: float) -> str:
    values = ",".join(f"{name}={value}" for name, value in fields.items())
    return f"environment,device={device_id} {values} {int(when.timestamp())}"


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def register(staff_client, device_id: str = ""):
    """Register through the page; returns (the token page it redirects to, credentials shown)."""
    response = staff_client.post("/devices/register/", {"device_id": device_id}, follow=True)
    assert response.status_code == 200, response.content[:500]
    assert response.redirect_chain, "a registration answers with a redirect to the token page"
    return response, response.context["creds"]


# ---- register ---------------------------------------------------------------------------------


def test_it_registers_a_device_and_shows_its_token_once(staff_client, influx):
    response, creds = register(staff_client, "kitchen-1")
    page = response.content.decode()
    assert creds.device_id == "kitchen-1"
    assert len(creds.token) > 20
    assert creds.token in page
    assert influx.url in page
    assert influx.org in page
    assert influx.bucket in page
    assert "no-store" in response["Cache-Control"]
    # The download is built in the page (data: URL), not fetched by a second request.
    assert 'download="kitchen-1.json"' in page
    assert "data:application/json" in page

    for url in ("/devices/", "/devices/kitchen-1/", "/devices/kitchen-1/dashboard/"):
        later = staff_client.get(url)
        assert later.status_code == 200
        assert creds.token not in later.content.decode(), url
    assert creds.token not in staff_client.get("/api/devices").content.decode()
    assert creds.token not in staff_client.get("/api/devices/kitchen-1").content.decode()


def test_it_generates_an_id_when_none_is_given(staff_client, influx):
    _, creds = register(staff_client, "")
    assert re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", creds.device_id)
    assert creds.device_id in staff_client.get("/devices/").content.decode()
    # A POST without the field at all is not the form's "empty": issue 10 made it register
    # nothing (tests/devices/test_views_register_input.py covers the bodies that do this).
    other = staff_client.post("/devices/register/")
    assert other.status_code == 400
    assert svc.list_devices().total == 1


def test_it_refuses_an_id_already_registered(staff_client, influx):
    register(staff_client, "dup-1")
    response = staff_client.post("/devices/register/", {"device_id": "dup-1"})
    assert response.status_code == 200
    assert "already registered" in response.context["form"].errors["device_id"][0]
    assert "creds" not in response.context


# ---- list -------------------------------------------------------------------------------------


def test_it_lists_devices_with_registration_and_last_telemetry(staff_client, influx):
    register(staff_client, "alpha")
    register(staff_client, "beta")
    write_lines(influx, [telemetry("alpha", now() - timedelta(minutes=3), Temperature=21.0)])
    response = staff_client.get("/devices/")
    page = response.content.decode()
    assert response.status_code == 200
    rows = {d.device_id: d for d in response.context["page"].devices}
    assert set(rows) == {"alpha", "beta"}
    assert rows["alpha"].last_seen is not None
    assert rows["beta"].last_seen is None
    assert "3\xa0minutes ago" in page
    assert "never" in page
    assert 'href="/devices/alpha/dashboard/"' in page
    assert "Register a device" in page


def test_it_hides_the_register_button_from_non_staff(user_client, influx):
    page = user_client.get("/devices/").content.decode()
    assert "No devices registered yet." in page
    assert 'class="button primary" href="/devices/register/"' not in page


def test_it_searches_devices_by_id(staff_client, influx):
    for device_id in ("hall-1", "hall-2", "garage"):
        register(staff_client, device_id)
    response = staff_client.get("/devices/", {"q": "HALL"})
    assert [d.device_id for d in response.context["page"].devices] == ["hall-1", "hall-2"]
    assert 'value="HALL"' in response.content.decode()


def test_it_pages_through_many_devices(staff_client, influx):
    write_registrations(influx, [f"dev-{n:03d}" for n in range(60)])
    first = staff_client.get("/devices/")
    assert first.context["page"].num_pages == 3
    assert first.context["page"].devices[0].device_id == "dev-000"
    assert "Page 1 of 3" in first.content.decode()
    third = staff_client.get("/devices/", {"page": "3"})
    assert [d.device_id for d in third.context["page"].devices] == [
        f"dev-{n:03d}" for n in range(50, 60)
    ]
    # A page number that is not a number shows the first page instead of an error.
    assert staff_client.get("/devices/", {"page": "x"}).context["page"].page == 1


@pytest.mark.localonly
def test_the_list_costs_the_same_queries_for_10_and_1000_devices(staff_client, local_influx):
    stats = local_influx.local.stats
    write_registrations(local_influx, [f"small-{n:04d}" for n in range(10)])
    stats.reset()
    assert staff_client.get("/devices/").status_code == 200
    with_10 = stats.queries
    write_registrations(local_influx, [f"large-{n:04d}" for n in range(990)])
    stats.reset()
    response = staff_client.get("/devices/")
    assert response.context["page"].total == 1000
    assert stats.queries == with_10, [(r.path, r.status, r.rows, r.query) for r in stats.log]
    assert 1 <= with_10 <= 3


# ---- device page ------------------------------------------------------------------------------


def test_it_shows_a_device_with_masked_token_and_latest_values(staff_client, influx):
    _, creds = register(staff_client, "porch")
    t = now() - timedelta(seconds=20)
    write_lines(
        influx,
        [
            telemetry("porch", t - timedelta(minutes=10), Temperature=18.5, Humidity=50.0),
            telemetry("porch", t, Temperature=19.25, Humidity=55.5),
        ],
    )
    response = staff_client.get("/devices/porch/")
    page = response.content.decode()
    assert response.status_code == 200
    assert creds.token not in page
    assert creds.token[-4:] in page  # the hint tells tokens apart
    assert influx.url in page
    assert influx.bucket in page
    assert "19.25 °C" in page
    assert "55.50 %" in page
    assert "just now" in page
    stats = {s.field: s for s in response.context["stats"]}
    assert stats["Temperature"].count == 2
    assert (stats["Temperature"].min, stats["Temperature"].max) == (18.5, 19.25)
    assert 'action="/devices/porch/rotate-token/"' in page


def test_it_counts_measurements_over_the_chosen_range(staff_client, influx):
    register(staff_client, "attic")
    write_lines(
        influx,
        [
            telemetry("attic", now() - timedelta(days=2), Pressure=1000.0),
            telemetry("attic", now() - timedelta(minutes=5), Pressure=1010.0),
        ],
    )

    def count(range_key):
        response = staff_client.get("/devices/attic/", {"range": range_key})
        return {s.field: s.count for s in response.context["stats"]}.get("Pressure", 0)

    assert count("1h") == 1
    assert count("3d") == 2
    assert count("nonsense") == 1  # unknown range: the default (1d)


def test_it_hides_manage_buttons_from_non_staff(staff_client, influx, plain_user):
    register(staff_client, "shed")
    staff_client.force_login(plain_user)
    page = staff_client.get("/devices/shed/").content.decode()
    assert "rotate-token" not in page
    assert "/devices/shed/remove/" not in page


@pytest.mark.parametrize(
    "url",
    [
        "/devices/ghost/",
        "/devices/ghost/dashboard/",
        "/devices/ghost/remove/",
        "/devices/x%22%20or%20r._field%20==%20%22token/",
        "/devices/%24%7Btoken%7D/dashboard/",
    ],
)
def test_it_answers_404_for_unknown_or_invalid_ids(staff_client, influx, url):
    response = staff_client.get(url)
    assert response.status_code == 404
    assert b"Not found" in response.content


# ---- dashboard --------------------------------------------------------------------------------


def test_it_draws_a_chart_per_field_and_gauges(staff_client, influx):
    register(staff_client, "lab")
    end = now()
    write_lines(
        influx,
        [
            telemetry("lab", end - timedelta(minutes=m), Temperature=20 + m / 10, CO2=800.0 + m)
            for m in range(0, 60, 2)
        ],
    )
    response = staff_client.get("/devices/lab/dashboard/", {"range": "1h"})
    page = response.content.decode()
    assert response.status_code == 200
    # Environment fields come in the reference order, not alphabetically.
    assert [c.field for c in response.context["charts"]] == ["Temperature", "CO2"]
    assert [r.field for r in response.context["board"].readings] == ["Temperature", "CO2"]
    assert page.count('class="line"') == 2
    assert page.count('class="gauge"') == 2
    assert "CO2 (ppm)" in page
    assert "just now" in page
    assert '<strong aria-current="true">1h</strong>' in page


def test_it_shows_an_empty_dashboard_for_a_silent_device(staff_client, influx):
    register(staff_client, "quiet")
    page = staff_client.get("/devices/quiet/dashboard/").content.decode()
    assert "No telemetry yet." in page
    assert '<strong aria-current="true">1d</strong>' in page


# ---- remove and rotate ------------------------------------------------------------------------


@pytest.mark.parametrize("delete_telemetry", [False, True])
def test_it_removes_a_device_after_confirmation(staff_client, influx, delete_telemetry):
    register(staff_client, "old-1")
    write_lines(influx, [telemetry("old-1", now(), Temperature=1.0)])

    confirm = staff_client.get("/devices/old-1/remove/")
    assert confirm.status_code == 200
    assert "Also delete its telemetry" in confirm.content.decode()

    data = {"delete_telemetry": "on"} if delete_telemetry else {}
    response = staff_client.post("/devices/old-1/remove/", data, follow=True)
    assert response.redirect_chain == [("/devices/", 302)]
    assert "Device old-1 removed" in response.content.decode()
    assert response.context["page"].total == 0
    assert staff_client.get("/devices/old-1/").status_code == 404
    assert telemetry_count(influx, "old-1") == (0 if delete_telemetry else 1)


def test_it_rotates_a_token_and_shows_the_new_one_once(staff_client, influx):
    _, old = register(staff_client, "rot-1")
    response = staff_client.post("/devices/rot-1/rotate-token/", follow=True)
    assert response.redirect_chain == [("/devices/rot-1/token/", 302)]
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    new = response.context["creds"]
    assert new.token != old.token
    assert new.token in response.content.decode()
    assert old.token not in response.content.decode()
    detail = staff_client.get("/devices/rot-1/").content.decode()
    assert new.token not in detail
    assert new.token[-4:] in detail
    auth_ids = {a.id for a in influx.client.authorizations_api().find_authorizations()}
    assert new.key in auth_ids
    assert old.key not in auth_ids  # the old token is revoked


def test_it_answers_404_when_rotating_an_unknown_device(staff_client, influx):
    assert staff_client.post("/devices/ghost/rotate-token/").status_code == 404


def test_it_warns_staff_when_tokens_share_a_bucket_with_telemetry(client, db, influx, settings):
    from django.contrib.auth import get_user_model

    settings.INFLUX_BUCKET_AUTH = settings.INFLUX_BUCKET
    users = get_user_model().objects
    client.force_login(users.create_user("boss", is_staff=True))
    for url in ("/devices/", "/admin/devices/"):  # the site's list and the admin's, one text
        assert "device tokens are stored beside telemetry" in client.get(url).content.decode()
    client.force_login(users.create_user("reader"))
    assert "device tokens are stored beside" not in client.get("/devices/").content.decode()


def test_a_bad_page_number_keeps_the_search(staff_client, influx):
    svc.register_device("kitchen-1")
    svc.register_device("garage-1")
    for url in ("/devices/?q=kitchen&page=x", "/admin/devices/?q=kitchen&page=0"):
        page = staff_client.get(url).content.decode()
        assert "kitchen-1" in page, url
        assert "garage-1" not in page, url


def test_the_list_and_device_page_label_freshness_with_its_own_class(
    staff_client, influx, monkeypatch
):
    """Each label and its class come from one reading of the clock: wherever the 5-minute
    threshold falls among a page's readings, "<5 min" is not shown as aging."""
    from devices.templatetags import iot
    from tests.devices.test_views_charts import AGREEING, SteppingClock

    register(staff_client, "porch")
    seen = now() - timedelta(minutes=10)
    write_lines(influx, [telemetry("porch", seen, Temperature=18.5)])
    shown = re.compile(r'<span class="freshness (\w+)">([^<]+)</span>')
    for url in ("/devices/", "/devices/porch/"):
        for before in range(6):
            monkeypatch.setattr(iot, "_now", SteppingClock(seen, before))
            page = staff_client.get(url).content.decode()
            found = [(html.unescape(label), css) for css, label in shown.findall(page)]
            assert found, url
            assert set(found) <= AGREEING, (url, before, found)
