"""``manage.py iot_api_ui_env``: the ``.env.local`` line that points iot-api-ui at IoT Center."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from devices.api import keys


class Command(BaseCommand):
    help = (
        "Print iot-api-ui's .env.local lines: API_URL with an API key in its path (the UI's "
        "server-side rewrite forwards it; browsers never see it) and NEXT_PUBLIC_INFLUX_BUCKET. "
        "Whoever can open that UI acts with that key."
    )

    def add_arguments(self, parser):
        parser.add_argument("site", help="IoT Center's base URL as iot-api-ui's server reaches it")
        parser.add_argument("--key", help="an existing API key (default: read from stdin)")

    def handle(self, *args, site: str, key: str | None, **options):
        if not site.startswith(("http://", "https://")):
            raise CommandError("site must be a URL such as http://127.0.0.1:8000")
        if key is None:
            key = input().strip()
        if keys.authenticate(key) is None:
            raise CommandError(
                "not an active API key: create one with "
                "`manage.py api_key create iot-api-ui --owner <user>`"
            )
        self.stdout.write(f"API_URL={site.rstrip('/')}/api/k/{key}")
        self.stdout.write(f"NEXT_PUBLIC_INFLUX_BUCKET={settings.INFLUX_BUCKET}")
