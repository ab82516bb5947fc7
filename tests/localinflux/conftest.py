"""Fixtures for the local server's conformance tests: one fresh in-process server per module."""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass

import pytest
from influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS

from localinflux.runner import LocalInflux
from tests.localinflux.flux_fakes import EnginePath, HttpPath

OPERATOR_TOKEN = "operator-token-for-localinflux-tests"


@pytest.fixture(scope="module")
def server():
    with LocalInflux(org="acme", bucket="telemetry", token=OPERATOR_TOKEN) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server):
    with InfluxDBClient(url=server.url, token=server.token, org=server.org, timeout=10_000) as c:
        yield c


@pytest.fixture(scope="module")
def write(client):
    api = client.write_api(write_options=SYNCHRONOUS)
    yield api
    api.close()


@pytest.fixture
def bucket(client, server):
    """A fresh bucket per test so stored data never leaks between tests (deleted afterwards)."""
    api = client.buckets_api()
    made = api.create_bucket(bucket_name=f"b{time.time_ns()}", org=server.org)
    yield made
    api.delete_bucket(made)


@pytest.fixture(autouse=True)
def _clean_faults(request):
    yield
    if "server" in request.fixturenames:
        request.getfixturevalue("server").faults.clear()


@dataclass
class Raw:
    status: int
    headers: dict
    body: bytes

    @property
    def json(self):
        return json.loads(self.body)


def write_url(server, bucket: str | None = None) -> str:
    """The write endpoint of ``server``'s org and its bucket (or ``bucket``, a name or id)."""
    return f"/api/v2/write?org={server.org}&bucket={bucket or server.bucket}"


def raw_request(server, method, path, body=b"", token=None, headers=None) -> Raw:
    """One HTTP request with nothing hidden by the client library."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        hdrs = dict(headers or {})
        if token is not None:
            hdrs["Authorization"] = f"Token {token}"
        if isinstance(body, str):
            body = body.encode()
        if isinstance(body, dict):
            body = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        return Raw(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


@pytest.fixture
def raw(server):
    def call(method, path, body=b"", token=OPERATOR_TOKEN, headers=None):
        return raw_request(server, method, path, body, token, headers)

    return call


@pytest.fixture
def raw_to():
    """``raw_to(server, method, path, body, token)``: raw HTTP to any server (own servers too)."""
    return raw_request


@pytest.fixture
def http_flux(server, client, write):
    """The end-to-end path alone: the module's server, written and queried through
    influxdb-client, in a fresh bucket named ``iot`` (deleted afterwards)."""
    path = HttpPath(server, client, write)
    yield path
    path.close()


@pytest.fixture(params=["engine", "http"])
def flux(request):
    """A Flux test's two paths: ``engine`` (``handle_query`` on an in-memory reader) and
    ``http`` (``http_flux``). Load data with ``flux.load(...)``, then query; one test body and
    one hand-computed expectation serve both."""
    if request.param == "engine":
        return EnginePath()
    return request.getfixturevalue("http_flux")
