"""System checks for the INFLUX_* settings (``manage.py check``, runserver, migrate).

They read settings only, never the network: ``manage.py influx_check`` tests the connection.
Every message says which setting to change and how.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Warning, register

from .influx.client import parse_timeout
from .influx.setup import SHARED_BUCKET_WARNING

SEE = "See .env.example; manage.py influx_check tests the connection once these are set."


def _text(name: str) -> str:
    value = getattr(settings, name, "")
    return value.strip() if isinstance(value, str) else ""


@register()
def check_influx_settings(app_configs=None, **kwargs):
    problems = []

    url = _text("INFLUX_URL")
    if not url:
        problems.append(
            Error(
                "INFLUX_URL is not set.",
                hint="Set INFLUX_URL to your InfluxDB URL, e.g. http://localhost:8086. " + SEE,
                id="devices.E001",
            )
        )
    else:
        try:
            parts = urlsplit(url)
            port_ok = parts.port is None or parts.port > 0
        except ValueError:
            parts, port_ok = None, False
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            problems.append(
                Error(
                    f"INFLUX_URL {url!r} is not an http(s) URL.",
                    hint="Set INFLUX_URL to scheme://host:port, e.g. http://localhost:8086.",
                    id="devices.E002",
                )
            )
        elif not port_ok or parts.query or parts.fragment or parts.username:
            problems.append(
                Error(
                    f"INFLUX_URL {url!r} has a bad port, a query, a fragment or credentials.",
                    hint="Set INFLUX_URL to scheme://host:port only; put the token in "
                    "INFLUX_TOKEN.",
                    id="devices.E002",
                )
            )

    if not _text("INFLUX_TOKEN"):
        problems.append(
            Error(
                "INFLUX_TOKEN is not set.",
                hint="Set INFLUX_TOKEN to an InfluxDB API token that can read and write both "
                "buckets and create authorizations (the operator or an all-access token). " + SEE,
                id="devices.E003",
            )
        )

    if not _text("INFLUX_ORG"):
        problems.append(
            Error(
                "INFLUX_ORG is not set.",
                hint="Set INFLUX_ORG to the name of your InfluxDB organization. " + SEE,
                id="devices.E004",
            )
        )

    raw_timeout = getattr(settings, "INFLUX_TIMEOUT", "")
    if parse_timeout(raw_timeout) is None:
        problems.append(
            Error(
                f"INFLUX_TIMEOUT {raw_timeout!r} is not a positive number of seconds.",
                hint='Set INFLUX_TIMEOUT to seconds, e.g. INFLUX_TIMEOUT="5".',
                id="devices.E005",
            )
        )

    for name, default in (
        ("INFLUX_BUCKET", "iot_center"),
        ("INFLUX_BUCKET_AUTH", "iot_center_devices"),
    ):
        bucket = _text(name)
        if not bucket:
            problems.append(
                Error(
                    f"{name} is empty.",
                    hint=f"Set {name} to a bucket name, e.g. {default}, or remove it to use "
                    "that default.",
                    id="devices.E006",
                )
            )
        elif bucket.startswith("_") or '"' in bucket:
            problems.append(
                Error(
                    f"{name} {bucket!r} is not a valid bucket name.",
                    hint=f"Bucket names cannot start with _ or contain double quotes; set {name} "
                    f"to e.g. {default}.",
                    id="devices.E007",
                )
            )

    bucket, bucket_auth = _text("INFLUX_BUCKET"), _text("INFLUX_BUCKET_AUTH")
    if bucket and bucket == bucket_auth:
        problems.append(
            Warning(
                f"INFLUX_BUCKET and INFLUX_BUCKET_AUTH are both {bucket!r}. "
                + SHARED_BUCKET_WARNING,
                hint="Set INFLUX_BUCKET_AUTH to a separate bucket (e.g. iot_center_devices) so "
                "that a token able to read telemetry cannot read other devices' tokens.",
                id="devices.W001",
            )
        )
    return problems
