"""pytest plugin: a session-wide local InfluxDB-compatible server, onboarded and ready.

Load it with ``pytest_plugins = ["localinflux.pytest_plugin"]``.
"""

from __future__ import annotations

import secrets

import pytest

from localinflux.runner import LocalInflux


@pytest.fixture(scope="session")
def localinflux_server():
    server = LocalInflux(org="iot-center", bucket="iot_center", token=secrets.token_urlsafe(32))
    server.start()
    try:
        yield server
    finally:
        server.stop()
