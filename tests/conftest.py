"""Fixtures shared by the whole suite.

By default the suite starts the project's local InfluxDB-compatible server in-process. Point it at
a real InfluxDB 2.x instead with::

    IOTCENTER_TEST_INFLUX_URL=http://127.0.0.1:8086 \
    IOTCENTER_TEST_INFLUX_TOKEN=<operator or all-access token> \
    IOTCENTER_TEST_INFLUX_ORG=<org name> make test

Each test that uses ``influx`` gets two fresh buckets of its own, so tests never see each
other's devices; tests marked ``localonly`` (fault injection, request counters) are skipped
against a real InfluxDB.
"""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from dataclasses import dataclass

import pytest
from django.db.backends.signals import connection_created
from hypothesis import settings as hypothesis_settings
from influxdb_client import InfluxDBClient

from localinflux.runner import LocalInflux, free_port

pytest_plugins = ["localinflux.pytest_plugin"]  # the session's local server: localinflux_server

# Property tests draw the same examples in every run (CI runs the suite twice and one chance
# failure refuses it), with no example database carried from one run to the next.
hypothesis_settings.register_profile("iotcenter", derandomize=True, database=None)
hypothesis_settings.load_profile("iotcenter")

DEVICE_AUTH_PREFIX = "IoTCenterDevice: "

# Database connections Django's test teardown does not know of: those opened by threads other
# than the main one, and those the main thread opens while an event loop runs in it (Django
# keeps a separate set of connections per asyncio context, e.g. under Playwright's sync API).
# One still open at the end leaves a session behind, so on PostgreSQL the test database cannot
# be dropped ("database test_iotcenter is being accessed by other users"). They are held here,
# so a leak is seen every time, not only when the garbage collector happens to be late.
_side_connections: list[tuple[str, threading.Thread | None, object]] = []


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _note_side_connection(sender, connection, **kwargs):
    thread = threading.current_thread()
    if thread is not threading.main_thread():
        _side_connections.append((thread.name, thread, connection))
    elif _in_event_loop():
        _side_connections.append(("main thread, in an event loop", None, connection))
    else:
        return
    connection.closed_as_asked = False
    if "close" not in vars(connection):
        # SQLite ignores close() on the in-memory test database: note the call itself.
        close = connection.close

        def noting_close():
            connection.closed_as_asked = True
            close()

        connection.close = noting_close


connection_created.connect(_note_side_connection)


@pytest.fixture(autouse=True)
def _side_connections_are_closed():
    """Fail a test that leaves such a connection open: a thread that uses the ORM ends with
    ``django.db.connections.close_all()``, and so does a fixture that ran an event loop (in that
    loop: ``with sync_playwright()`` closes them before it ends)."""
    yield
    leaked, alive = [], []
    for name, thread, conn in _side_connections:
        if thread is not None and thread.is_alive():
            alive.append((name, thread, conn))
        elif conn.connection is not None and not conn.closed_as_asked:
            leaked.append(name)
            conn.inc_thread_sharing()  # its thread or its event loop is gone: close it here
            conn.close()
    _side_connections[:] = alive
    assert not leaked, f"database connections left open by: {leaked}"


@dataclass
class InfluxServer:
    url: str
    token: str
    org: str
    org_id: str
    local: LocalInflux | None


@dataclass
class InfluxEnv(InfluxServer):
    """The server and one test's own buckets."""

    bucket: str
    bucket_id: str
    bucket_auth: str
    bucket_auth_id: str
    client: InfluxDBClient


@pytest.fixture(scope="session")
def influx_server(request):
    url = os.environ.get("IOTCENTER_TEST_INFLUX_URL")
    if not url:
        # localinflux's own pytest fixture: started only when no real InfluxDB is given.
        server = request.getfixturevalue("localinflux_server")
        return InfluxServer(server.url, server.token, server.org, server.org_id, local=server)
    token = os.environ["IOTCENTER_TEST_INFLUX_TOKEN"]
    org = os.environ["IOTCENTER_TEST_INFLUX_ORG"]
    with InfluxDBClient(url=url, token=token, org=org, timeout=10_000) as client:
        org_id = client.organizations_api().find_organizations(org=org)[0].id
    return InfluxServer(url=url, token=token, org=org, org_id=org_id, local=None)


@pytest.fixture(scope="session")
def operator_client(influx_server):
    with InfluxDBClient(
        url=influx_server.url, token=influx_server.token, org=influx_server.org, timeout=10_000
    ) as client:
        yield client


def _cleanup(client: InfluxDBClient, bucket_ids: list[str], org_id: str) -> None:
    """Delete the test's buckets and every device authorization scoped to them."""
    auths = client.authorizations_api()
    for auth in auths.find_authorizations(org_id=org_id):
        if not (auth.description or "").startswith(DEVICE_AUTH_PREFIX):
            continue
        if any(p.resource.id in bucket_ids for p in auth.permissions):
            auths.delete_authorization(auth)
    buckets = client.buckets_api()
    for bucket_id in bucket_ids:
        buckets.delete_bucket(bucket_id)


@pytest.fixture
def influx(influx_server, operator_client, settings, transactional_db):
    """Fresh telemetry and registry buckets for one test; INFLUX_* settings point at them.

    With the database: changes of a device take its lock row there (devices.influx.locks),
    from any thread (so no test-wide transaction that other threads' writes would wait on)."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    buckets_api = operator_client.buckets_api()
    telemetry = buckets_api.create_bucket(bucket_name=f"{prefix}_iot_center", org=influx_server.org)
    registry = buckets_api.create_bucket(
        bucket_name=f"{prefix}_iot_center_devices", org=influx_server.org
    )
    settings.INFLUX_URL = influx_server.url
    settings.INFLUX_TOKEN = influx_server.token
    settings.INFLUX_ORG = influx_server.org
    settings.INFLUX_BUCKET = telemetry.name
    settings.INFLUX_BUCKET_AUTH = registry.name
    settings.INFLUX_TIMEOUT = "5"
    if influx_server.local is not None:
        influx_server.local.faults.clear()
        # A request an earlier test delayed must not be counted in this test's budget.
        influx_server.local.stats.wait_idle()
        influx_server.local.stats.reset()
    try:
        yield InfluxEnv(
            **vars(influx_server),
            bucket=telemetry.name,
            bucket_id=telemetry.id,
            bucket_auth=registry.name,
            bucket_auth_id=registry.id,
            client=operator_client,
        )
    finally:
        if influx_server.local is not None:
            influx_server.local.faults.clear()
            influx_server.local.stats.wait_idle()
        _cleanup(operator_client, [telemetry.id, registry.id], influx_server.org_id)


@pytest.fixture
def local_influx(influx):
    """``influx`` on the local server only: fault injection and request counters available."""
    if influx.local is None:
        pytest.skip("needs the local InfluxDB-compatible server (fault injection, counters)")
    return influx


def pytest_collection_modifyitems(config, items):
    if not os.environ.get("IOTCENTER_TEST_INFLUX_URL"):
        return
    skip = pytest.mark.skip(reason="needs the local InfluxDB-compatible server")
    for item in items:
        if "localonly" in item.keywords:
            item.add_marker(skip)


def point_settings_at(settings, url: str, *, token: str, timeout: str = "2"):
    """INFLUX_* settings for an InfluxDB at ``url``, with the default org and bucket names."""
    settings.INFLUX_URL = url
    settings.INFLUX_TOKEN = token
    settings.INFLUX_ORG = "iot-center"
    settings.INFLUX_BUCKET = "iot_center"
    settings.INFLUX_BUCKET_AUTH = "iot_center_devices"
    settings.INFLUX_TIMEOUT = timeout
    return settings


@pytest.fixture
def offline_influx(settings):
    """Settings pointing at a port where nothing listens: every request is refused."""
    url = f"http://127.0.0.1:{free_port()}"
    point_settings_at(settings, url, token="offline-token-never-valid")
    return url


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user(
        username="operator", password="operator-pass-123", is_staff=True
    )


@pytest.fixture
def plain_user(django_user_model):
    return django_user_model.objects.create_user(username="viewer", password="viewer-pass-123")


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def user_client(client, plain_user):
    client.force_login(plain_user)
    return client
