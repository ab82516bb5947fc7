"""The live list and overview in Chromium: a device's "last telemetry" and freshness label and
the overview's numbers update without a reload, the list says when its times are stale and
recovers, under the site's CSP."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from devices import influx as svc
from tests.browser.pages import log_in
from tests.browser.test_live_dashboard import page  # noqa: F401 (the page fixture)
from tests.devices.influx.points import write_lines

pytestmark = [pytest.mark.browser]


def log_in_to_the_list(page, base):  # noqa: F811
    log_in(page, base, "/devices/")
    expect(page.get_by_role("heading", name="Devices")).to_be_visible()


@pytest.mark.localonly
@pytest.mark.django_db(transaction=True)
def test_last_telemetry_updates_without_reload_and_goes_stale_on_errors(
    live_server,
    local_influx,
    staff_user,
    page,  # noqa: F811
):
    svc.register_device("quiet-1")
    svc.register_device("other-1")
    log_in_to_the_list(page, live_server.url)
    row = page.locator('tr[data-device="quiet-1"]')
    expect(row.locator(".freshness")).to_have_text("no data")
    page.evaluate("window.__notReloaded = true")
    write_lines(
        local_influx,
        [f"environment,device=quiet-1 Temperature=1 {int(datetime.now(UTC).timestamp())}"],
    )
    expect(row.locator(".freshness")).to_have_text("just now", timeout=20_000)
    expect(row.locator(".freshness")).to_have_class("freshness fresh")
    expect(row.locator("td.last-seen time")).to_be_visible()
    expect(page.locator('tr[data-device="other-1"] .freshness')).to_have_text("no data")
    status = page.locator(".live-status")
    expect(status).to_contain_text("Live: last telemetry updated")

    local_influx.local.faults.add(status=500, count=100, path="/api/v2/query")
    expect(status).to_contain_text("retrying", timeout=20_000)
    expect(status).to_have_attribute("data-state", "stale")
    local_influx.local.faults.clear()
    expect(status).to_contain_text("Live: last telemetry updated", timeout=30_000)
    assert page.evaluate("window.__notReloaded") is True
    assert page.evaluate("window.__cspViolations") == []


@pytest.mark.django_db(transaction=True)
def test_the_overview_numbers_update_without_reload(
    live_server,
    influx,
    staff_user,
    page,  # noqa: F811
    monkeypatch,
):
    from devices import views

    monkeypatch.setattr(views, "OVERVIEW_REFRESH_SECONDS", 2)
    svc.register_device("tile-1")
    log_in(page, live_server.url, "/")
    online = page.locator('[data-stat="online"]')
    expect(online).to_have_text("0")
    page.evaluate("window.__notReloaded = true")
    write_lines(
        influx, [f"environment,device=tile-1 Temperature=1 {int(datetime.now(UTC).timestamp())}"]
    )
    expect(online).to_have_text("1", timeout=20_000)
    expect(page.locator('[data-stat="never"]')).to_have_text("0")
    expect(page.locator(".live-status")).to_contain_text("Live: numbers as of")
    assert page.evaluate("window.__notReloaded") is True
    assert page.evaluate("window.__cspViolations") == []
