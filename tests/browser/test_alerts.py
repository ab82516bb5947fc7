"""Alerts in Chromium: a rule fires (evaluated in the test), the overview and the device's
dashboard show it (the panel, and the threshold drawn on the chart), and staff acknowledge it
from the dashboard; no CSP violation on the way."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from alerts.models import Alert, Rule
from alerts.services import evaluate
from devices import influx as svc
from tests.browser.pages import log_in
from tests.browser.test_live_dashboard import page  # noqa: F401 (the Chromium page fixture)
from tests.devices.influx.points import write_lines

pytestmark = [pytest.mark.browser]

# Pixels of the threshold's red (#c5221f) on a chart's canvas; the data line is blue.
RED_PIXELS = """(figure) => {
  const canvas = figure.querySelector("canvas");
  const ctx = canvas.getContext("2d");
  const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  let red = 0;
  for (let i = 0; i < data.length; i += 4) {
    const [r, g, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
    if (a > 100 && r > 150 && r - g > 80 && r - b > 80) red += 1;
  }
  return red;
}"""


@pytest.mark.django_db(transaction=True)
def test_a_firing_alert_shows_on_the_overview_and_dashboard_and_is_acknowledged(
    live_server,
    influx,
    staff_user,
    page,  # noqa: F811
):
    svc.register_device("alarm-1")
    stop = datetime.now(UTC).replace(microsecond=0)
    times = [int((stop - timedelta(minutes=m)).timestamp()) for m in range(30)]
    lines = [f"environment,device=alarm-1 CO2={1800 + i} {t}" for i, t in enumerate(times)]
    write_lines(influx, lines)
    rule = Rule(name="CO2 high", device_id="alarm-1", field="CO2", threshold=1500, minutes=10)
    rule.full_clean()
    rule.save()
    assert [a.device_id for a in evaluate().fired] == ["alarm-1"]

    log_in(page, live_server.url, "/")
    panel = page.get_by_role("region", name="Firing alerts")
    expect(panel).to_contain_text("CO2 high")
    expect(panel).to_contain_text("alarm-1")
    expect(panel.get_by_role("link", name="History of alarm-1")).to_be_visible()

    page.goto(f"{live_server.url}/devices/alarm-1/dashboard/?range=1h")
    alerts = page.get_by_role("region", name="Alerts")
    expect(alerts).to_contain_text("firing")
    expect(alerts).to_contain_text("CO2 high")
    expect(alerts).to_contain_text("CO2 above 1500 for 10 min")  # also said without JS
    data = json.loads(page.locator("#board-data").text_content())
    assert data["thresholds"] == {"CO2": [1500.0]}
    figure = page.locator('figure.chart[data-field="CO2"]')
    expect(figure.locator("canvas")).to_be_visible()
    expect(figure).to_have_attribute("data-thresholds", "1500")
    # The values are all 1,800 and more: the line at 1,500 is drawn because the scale was
    # stretched to show it.
    assert figure.evaluate(RED_PIXELS) > 100

    alerts.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_role("heading", name="Dashboard alarm-1")).to_be_visible()
    expect(page.get_by_role("region", name="Alerts")).to_contain_text("Acknowledged by operator")
    assert Alert.objects.get().acknowledged_by == staff_user
    assert page.evaluate("window.__cspViolations") == []


# Marks the focused Acknowledge button: the mark survives only if the element is not replaced.
MARK_FOCUSED = """() => {
  const button = document.activeElement;
  button.dataset.marked = "1";
  return button.textContent;
}"""
FOCUS_KEPT = """() => document.activeElement.dataset.marked === "1" &&
  document.querySelector("section.device-alerts").contains(document.activeElement)"""


@pytest.mark.django_db(transaction=True)
def test_the_dashboards_alert_panel_follows_an_alert_without_a_reload(
    live_server,
    influx,
    staff_user,
    page,  # noqa: F811
    monkeypatch,
):
    from devices import live

    monkeypatch.setattr(live, "REFRESH_SECONDS", 2)  # the browser's refresh interval
    svc.register_device("alarm-2")
    now = datetime.now(UTC).replace(microsecond=0)

    def write_co2(value, minutes):
        stamps = [int((now - timedelta(minutes=m)).timestamp()) for m in minutes]
        write_lines(influx, [f"environment,device=alarm-2 CO2={value} {t}" for t in stamps])

    write_co2(900, range(30, 20, -1))  # before the rule's window: nothing fires
    rule = Rule(name="CO2 high", device_id="alarm-2", field="CO2", threshold=1500, minutes=10)
    rule.full_clean()
    rule.save()
    assert evaluate().fired == []

    log_in(page, live_server.url, "/devices/alarm-2/dashboard/?range=1h")
    alerts = page.get_by_role("region", name="Alerts")
    expect(alerts).to_contain_text("No alert is firing on this device.")
    page.evaluate("window.__notReloaded = true")
    figure = page.locator('figure.chart[data-field="CO2"]')

    write_co2(1800, range(12, -1, -1))
    assert [a.device_id for a in evaluate().fired] == ["alarm-2"]
    button = alerts.get_by_role("button", name="Acknowledge")
    expect(button).to_be_visible(timeout=10_000)  # within a refresh or two, no reload
    expect(alerts).to_contain_text("CO2 high")
    expect(alerts).not_to_contain_text("No alert is firing")

    # Refreshes that change nothing leave the panel alone: the focused button stays the same.
    button.focus()
    assert page.evaluate(MARK_FOCUSED) == "Acknowledge"
    updates = int(figure.get_attribute("data-updates"))
    expect(figure).to_have_attribute("data-updates", str(updates + 2), timeout=10_000)
    assert page.evaluate(FOCUS_KEPT) is True

    write_co2(900, [0])
    assert len(evaluate().resolved) == 1
    expect(alerts).to_contain_text("No alert is firing on this device.", timeout=10_000)
    expect(alerts.get_by_role("button", name="Acknowledge")).to_have_count(0)
    assert page.evaluate("window.__notReloaded") is True
    assert page.evaluate("window.__cspViolations") == []
