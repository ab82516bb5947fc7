"""Save the README's screenshots: docs/screenshots/overview.png and dashboard.png.

Run from the project root: ``make screenshots`` (``.venv/bin/python -m tests.browser.screenshot``).
Everything is local: an in-process local InfluxDB-compatible server, a throwaway SQLite database,
the app on a loopback port, and the system Chromium. The fleet: three virtual devices with a day
of telemetry written by ``manage.py simulate`` (their own tokens, moving: a track), one that went
silent three hours ago, and one registered that never wrote; alert rules for a Temperature
threshold (its line on the charts) and for silence (one evaluator pass fires it).
"""

from __future__ import annotations

import os
import random
import secrets
import shutil
import sys
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, make_server

from tests.browser import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "docs" / "screenshots"
ACTIVE = ["greenhouse-1", "kitchen", "cold-store-3"]
SILENT = "warehouse:door-2"  # wrote until three hours ago
NEVER = "attic-sensor"  # registered, never wrote
VIEWPORT = {"width": 1280, "height": 900}


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # one line per request would drown the output
        pass


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from localinflux.runner import LocalInflux

    server = LocalInflux(org="iot-center", bucket="iot_center", token=secrets.token_urlsafe(32))
    server.start()
    workdir = tempfile.mkdtemp(prefix="iotcenter-shot-")
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": f"sqlite:///{workdir}/db.sqlite3",
            "INFLUX_URL": server.url,
            "INFLUX_TOKEN": server.token,
            "INFLUX_ORG": server.org,
            "INFLUX_BUCKET": "iot_center",
            "INFLUX_BUCKET_AUTH": "iot_center_devices",
        }
    )
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.core.wsgi import get_wsgi_application

    from devices import influx

    # Static files straight from static/ (no collectstatic for a one-off run).
    settings.WHITENOISE_USE_FINDERS = True
    httpd = None
    try:
        call_command("migrate", verbosity=0)
        password = secrets.token_urlsafe(12)
        get_user_model().objects.create_user("operator", password=password, is_staff=True)
        influx.ensure_buckets()  # the server was onboarded with the telemetry bucket only
        out = StringIO()
        call_command(
            "simulate", *ACTIVE, "--create", "--backfill-days", "1", "--seed", "7", stdout=out
        )
        influx.register_device(SILENT)
        influx.register_device(NEVER)
        stop = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=3)
        _write(server, _lines(SILENT, stop - timedelta(hours=21), stop))
        from alerts.models import Rule

        Rule.objects.create(
            name="Too warm", condition=Rule.ABOVE, field="Temperature", threshold=18, minutes=15
        )
        Rule.objects.create(name="Silent", condition=Rule.SILENCE, minutes=60)
        call_command("alerts", stdout=out, stderr=out)

        httpd = make_server("127.0.0.1", 0, get_wsgi_application(), handler_class=QuietHandler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        _shoot(f"http://127.0.0.1:{httpd.server_port}", password)
    finally:
        if httpd is not None:
            httpd.shutdown()
        influx.reset_client()
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    for name in ("overview.png", "dashboard.png"):
        print(f"saved {(OUTPUT / name).relative_to(ROOT)}")
    return 0


def _shoot(base: str, password: str) -> None:
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import expect, sync_playwright

    OUTPUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=VIEWPORT, locale="en-US", timezone_id="UTC")
            page = context.new_page()
            page.goto(f"{base}/accounts/login/?next=/")
            page.get_by_label("Username").fill("operator")
            page.get_by_label("Password").fill(password)
            page.get_by_role("button", name="Log in").click()
            expect(page.get_by_role("heading", name="Fleet overview")).to_be_visible()
            page.screenshot(path=str(OUTPUT / "overview.png"))

            page.goto(f"{base}/devices/{ACTIVE[0]}/dashboard/?range=1d")
            temperature = page.locator('figure.chart[data-field="Temperature"]')
            expect(temperature.locator("canvas")).to_be_visible()
            temperature.scroll_into_view_if_needed()  # hovered: the time and value shown
            box = temperature.locator(".u-over").bounding_box()
            page.mouse.move(box["x"] + box["width"] * 0.62, box["y"] + box["height"] / 2)
            page.screenshot(path=str(OUTPUT / "dashboard.png"), full_page=True)
        finally:
            browser.close()


def _lines(device_id: str, start: datetime, stop: datetime) -> list[str]:
    from devices import simulator

    rng = random.Random(42)
    return [
        "environment,device={} {} {}".format(
            device_id,
            ",".join(f"{name}={value!r}" for name, value in fields.items()),
            int(t.timestamp()),
        )
        for t, fields in simulator.readings(device_id, start, stop, rng)
    ]


def _write(server, lines: list[str]) -> None:
    from influxdb_client import InfluxDBClient
    from influxdb_client.client.write_api import SYNCHRONOUS

    with (
        InfluxDBClient(url=server.url, token=server.token, org=server.org) as client,
        client.write_api(write_options=SYNCHRONOUS) as writer,
    ):
        writer.write(bucket="iot_center", record=lines, write_precision="s")


if __name__ == "__main__":
    sys.exit(main())
