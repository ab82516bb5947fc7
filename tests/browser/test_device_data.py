"""A device's data in Chromium: staff fill an empty device from its dashboard (the charts
appear), then download its telemetry as CSV, which parses."""

from __future__ import annotations

import csv

import pytest
from playwright.sync_api import expect

from devices import influx as svc
from tests.browser.pages import log_in, open_page

pytestmark = [pytest.mark.browser]


@pytest.fixture
def page(monkeypatch):
    with open_page(monkeypatch, accept_downloads=True) as page:
        yield page


def read_csv(path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as file:
        return list(csv.reader(file))


@pytest.mark.django_db(transaction=True)
def test_write_data_now_then_download_the_csv(live_server, influx, staff_user, page):
    svc.register_device("bench:7")
    log_in(page, live_server.url, "/devices/bench:7/dashboard/?range=6h")

    data = page.get_by_role("region", name="Data")
    expect(data).to_contain_text("python manage.py simulate bench:7")
    expect(page.locator('figure.chart[data-field="Temperature"]')).to_have_count(0)
    data.get_by_label("Days to fill").fill("1")
    data.get_by_role("button", name="Fill the last").click()

    expect(page.get_by_role("status").first).to_contain_text("Wrote 1,441 simulated points")
    assert page.url.endswith("/devices/bench:7/dashboard/?range=6h")
    chart = page.locator('figure.chart[data-field="Temperature"]')
    expect(chart.locator("canvas")).to_be_visible()

    with page.expect_download() as info:
        data.get_by_role("link", name="raw points").click()
    download = info.value
    assert download.suggested_filename == "bench_7-6h-raw.csv"
    table = read_csv(download.path())
    assert table[0] == ["time", "Temperature", "Humidity", "Pressure", "CO2", "TVOC", "Lat", "Lon"]
    assert 360 <= len(table) - 1 <= 361  # a point a minute over the last 6 hours
    assert all(float(value) for value in table[-1][1:])

    with page.expect_download() as info:
        data.get_by_role("link", name="window means").click()
    means = read_csv(info.value.path())
    assert means[0] == table[0]
    assert len(means) > 30
    assert page.evaluate("window.__cspViolations") == []
