"""An operator's whole day in the system Chromium: log in, register, look, rotate, remove."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from devices import simulator
from tests.browser.pages import log_in, open_page, submit_login
from tests.devices.influx.points import write_lines

pytestmark = [pytest.mark.browser]


@pytest.fixture
def page(monkeypatch):
    with open_page(monkeypatch, timeout_ms=15_000, accept_downloads=True) as page:
        yield page


def write_hour_of_telemetry(env, device_id: str) -> None:
    """An hour of simulated readings, a minute apart, the newest at this second (not at the
    start of this minute): it is still "just now" when the dashboard is opened a few seconds
    later, whatever second of the minute the test runs at."""
    now = datetime.now(UTC).replace(microsecond=0)
    stop = now.replace(second=0)
    rng = random.Random(7)
    lines = [
        "environment,device={} {} {}".format(
            device_id,
            ",".join(f"{name}={value!r}" for name, value in fields.items()),
            int((t + (now - stop)).timestamp()),
        )
        for t, fields in simulator.readings(device_id, stop - timedelta(hours=1), stop, rng)
    ]
    write_lines(env, lines)


@pytest.mark.django_db(transaction=True)
def test_an_operator_manages_a_device_from_the_browser(live_server, influx, staff_user, page):
    base = live_server.url
    page.goto(f"{base}/devices/")
    expect(page).to_have_url(f"{base}/accounts/login/?next=/devices/")
    submit_login(page)
    expect(page.get_by_role("heading", name="Devices")).to_be_visible()

    # Register: the token is on this page once, in the copy box and the download.
    page.get_by_role("link", name="Register a device").first.click()
    page.get_by_label("Device id").fill("browser-1")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("heading", name="Device registered: browser-1")).to_be_visible()
    expect(page).to_have_url(f"{base}/devices/browser-1/token/")
    config = json.loads(page.locator("#device-config").inner_text())
    token = config["token"]
    assert config["device_id"] == "browser-1"
    assert config["bucket"] == influx.bucket
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download as JSON").click()
    download = download_info.value
    assert download.suggested_filename == "browser-1.json"
    with open(download.path()) as saved:
        assert json.load(saved) == config
    page.get_by_role("button", name="Copy configuration").click()
    expect(page.locator(".copy-status")).not_to_have_text("")

    # The list shows it, never its token.
    page.get_by_role("link", name="All devices").click()
    row = page.get_by_role("row").filter(has_text="browser-1")
    expect(row).to_be_visible()
    assert token not in page.content()

    # Device page and dashboard, with an hour of telemetry.
    write_hour_of_telemetry(influx, "browser-1")
    row.get_by_role("link", name="Details").click()
    expect(page.get_by_role("heading", name="Device browser-1")).to_be_visible()
    expect(page.get_by_text("Temperature").first).to_be_visible()
    assert token not in page.content()
    assert token[-4:] in page.content()
    page.get_by_role("link", name="Dashboard").click()
    page.get_by_role("link", name="1h", exact=True).click()
    # Five environment charts; Lat and Lon are one position track (issue 8).
    expect(page.locator("figure.chart")).to_have_count(5)
    expect(page.locator("figure.track")).to_have_count(1)
    expect(page.locator("figure.gauge")).to_have_count(7)
    expect(page.locator("figure.gauge .freshness").first).to_have_text("just now")
    assert token not in page.content()

    # Rotate: confirm, see the new token once.
    page.get_by_role("link", name="Device details").click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Rotate token").click()
    expect(page.get_by_role("heading", name="New device token: browser-1")).to_be_visible()
    new_token = json.loads(page.locator("#device-config").inner_text())["token"]
    assert new_token != token
    # Reloading the page neither rotates again nor shows the token a second time.
    page.reload()
    expect(page.get_by_text("This token was shown already.")).to_be_visible()
    assert new_token not in page.content()

    # Remove, deleting its telemetry too.
    page.get_by_role("link", name="Go to the device page").click()
    page.get_by_role("link", name="Remove device").click()
    page.get_by_label("Also delete its telemetry").check()
    page.get_by_role("button", name="Remove device").click()
    expect(page.get_by_text("Device browser-1 removed and its telemetry deleted.")).to_be_visible()
    expect(page.get_by_text("No devices registered yet.")).to_be_visible()


@pytest.mark.django_db(transaction=True)
def test_a_viewer_sees_devices_but_no_management(live_server, influx, plain_user, page):
    from devices import influx as service

    service.register_device("viewer-sees")
    log_in(page, live_server.url, username="viewer", password="viewer-pass-123")
    expect(page.get_by_role("row").filter(has_text="viewer-sees")).to_be_visible()
    expect(page.get_by_role("link", name="Register a device")).to_have_count(0)
    page.get_by_role("link", name="Details").click()
    expect(page.get_by_role("button", name="Rotate token")).to_have_count(0)
    page.goto(f"{live_server.url}/devices/register/")
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
