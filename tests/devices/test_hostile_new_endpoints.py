"""What a hostile device can write (any number a float holds) does not break this session's
pages (the overview's sparklines, numbers as people read them); no page sends a user off
site after a POST (``next``)."""

from __future__ import annotations

import re

from alerts.models import Alert
from devices import influx as svc
from devices.templatetags.iot import number
from tests.alerts.helpers import now, rule
from tests.devices.influx.points import write_lines
from tests.devices.test_views_overview import point, register

NUMBER = r"-?\d+(\.\d+)?"


def test_huge_values_draw_a_sparkline_of_finite_points(staff_client, influx):
    register(influx, ["huge-1"])
    write_lines(
        influx,
        [
            point("huge-1", 1, Temperature=1e308),
            point("huge-1", 3, Temperature=-1e308),
            point("huge-1", 5, Temperature=1.7e308),
            # The same time under both device tags: two series whose mean overflows a float.
            point("huge-1", 5, Temperature=1.7e308).replace("device=", "clientId=huge-1,device="),
        ],
    )
    page = staff_client.get("/").content.decode()
    (points,) = re.findall(r'<polyline points="([^"]*)"', page)
    pairs = points.split()
    assert len(pairs) >= 2
    for pair in pairs:  # one "nan" and the browser draws no line at all
        assert re.fullmatch(f"{NUMBER},{NUMBER}", pair), points
        x, y = map(float, pair.split(","))
        assert 0 <= x <= 100
        assert 0 <= y <= 24
    (label,) = re.findall(r'aria-label="(Temperature, last hour: [^"]*)"', page)
    assert len(label) < 80, label  # not two 300-digit numbers


def test_numbers_stay_short_however_large():
    assert number(21.456) == "21.46"
    assert number(1234567.0) == "1,234,567.00"
    assert number(1.7e308) == "1.7e+308"
    assert number(-1e20) == "-1e+20"
    assert number(float("inf")) == "inf"


OFF_SITE = [
    "//evil.example",
    "https://evil.example/",
    "/\\evil.example",
    "\\\\evil.example",
    "javascript:alert(1)",
    " //evil.example",
    "\t//evil.example",
    "http:evil.example",
]


def test_no_open_redirect_after_acknowledging_or_writing_now(staff_client, influx):
    svc.register_device("rover")
    alert = Alert.objects.create(rule=rule(name="CO2"), device_id="rover", started_at=now())
    for target in OFF_SITE:
        ack = staff_client.post(f"/alerts/{alert.pk}/ack/", {"next": target})
        assert ack["Location"] == "/alerts/", target
        wrote = staff_client.post("/devices/rover/write-now/", {"what": "now", "next": target})
        assert wrote["Location"] == "/devices/rover/", target
    back = staff_client.post(f"/alerts/{alert.pk}/ack/", {"next": "/devices/rover/dashboard/"})
    assert back["Location"] == "/devices/rover/dashboard/"


def test_no_token_in_the_new_pages_json_csv_or_logs(staff_client, influx, caplog):
    caplog.set_level("DEBUG")
    creds = svc.register_device("rover")
    assert staff_client.post("/devices/rover/write-now/", {"what": "days", "days": "1"})
    urls = ["/", "/overview/data", "/devices/last-telemetry?d=rover", "/devices/rover/dashboard/",
            "/devices/rover/dashboard/data", "/devices/rover/telemetry.csv?mode=raw",
            "/alerts/"]  # fmt: skip
    for url in urls:
        response = staff_client.get(url)
        assert response.status_code == 200, url
        content = b"".join(response) if response.streaming else response.content
        assert creds.token.encode() not in content, url
        if url.endswith("mode=raw"):
            assert content.count(b"\r\n") > 1000  # the day written is in the file
    assert creds.token not in caplog.text
    assert all(creds.token not in str(r.args) for r in caplog.records)
