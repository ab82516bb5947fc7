"""Save docs/screenshot.png: the dashboard of a virtual device with a day of telemetry.

Run from the project root: ``.venv/bin/python -m tests.browser.screenshot``. Everything is
local: an in-process local InfluxDB-compatible server, a throwaway SQLite database, the app on a
loopback port, and the system Chromium.
"""

from __future__ import annotations

import os
import random
import secrets
import sys
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, make_server

from tests.browser import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "docs" / "screenshot.png"
DEVICES = ["greenhouse-1", "kitchen", "warehouse:door-2"]


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

    from devices import influx, simulator

    # Static files straight from static/ (no collectstatic for a one-off run).
    settings.WHITENOISE_USE_FINDERS = True
    call_command("migrate", verbosity=0)
    password = secrets.token_urlsafe(12)
    get_user_model().objects.create_user("operator", password=password, is_staff=True)
    influx.ensure_buckets()  # the server was onboarded with the telemetry bucket only
    stop = datetime.now(UTC).replace(second=0, microsecond=0)
    rng = random.Random(42)
    for device_id in DEVICES:
        influx.register_device(device_id)
    for device_id in DEVICES[:2]:
        start = stop - timedelta(days=1)
        lines = [
            "environment,device={} {} {}".format(
                device_id,
                ",".join(f"{name}={value!r}" for name, value in fields.items()),
                int(t.timestamp()),
            )
            for t, fields in simulator.readings(device_id, start, stop, rng)
        ]
        _write(server, lines)

    httpd = make_server("127.0.0.1", 0, get_wsgi_application(), handler_class=QuietHandler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_port}"
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{base}/accounts/login/")
            page.get_by_label("Username").fill("operator")
            page.get_by_label("Password").fill(password)
            page.get_by_role("button", name="Log in").click()
            page.goto(f"{base}/devices/{DEVICES[0]}/dashboard/?range=1d")
            OUTPUT.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(OUTPUT), full_page=True)
            browser.close()
    finally:
        httpd.shutdown()
        influx.reset_client()
        server.stop()
    print(f"saved {OUTPUT.relative_to(ROOT)}")
    return 0


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
