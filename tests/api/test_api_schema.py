"""The OpenAPI schema at /api/schema/, its docs page (served locally, no inline script), and
property-based tests of every operation generated from the schema (schemathesis): no 500 on
any input, every status, content type and body as the schema says."""

from __future__ import annotations

import json
import re

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from devices import influx as service
from devices.api.endpoints import api

SCHEMA = json.loads(json.dumps(api.get_openapi_schema(path_prefix="/api/")))
schema = schemathesis.openapi.from_dict(SCHEMA)
schema.app = WSGIHandler()
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.mark.django_db
def test_the_schema_is_served_and_describes_the_whole_api(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200

    def no_duplicates(pairs):
        keys = [k for k, _ in pairs]
        assert len(keys) == len(set(keys)), keys  # Swagger UI refuses such a schema
        return dict(pairs)

    served = json.loads(response.content, object_pairs_hook=no_duplicates)
    assert served["paths"] == SCHEMA["paths"]
    assert set(served["paths"]) == {
        "/api/devices",
        "/api/devices/generate",
        "/api/devices/{device_id}",
        "/api/devices/{device_id}/measurements",
        "/api/provision/{secret}/api/env/{device_id}",
    }
    schemes = served["components"]["securitySchemes"]
    assert {s["type"] for s in schemes.values()} == {"http", "apiKey"}


@pytest.mark.django_db
def test_the_docs_page_needs_no_inline_script_and_no_cdn(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert scripts
    for attrs, body in scripts:
        # Under script-src 'self': only same-site files run; JSON data blocks are not scripts.
        assert 'src="/static/' in attrs or 'type="application/json"' in attrs, attrs
        assert "src=" in attrs or not body.strip().startswith(("(", "function", "var", "let"))
    assert "http://" not in re.sub(r'data-[a-z-]+="[^"]*"', "", html.split("<script", 1)[0])
    assert "cdn" not in html.lower()
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        assert client.get(asset).status_code == 200, asset


@pytest.fixture
def api_key(staff_key, influx):
    service.register_device("known-1")
    return staff_key


@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_operation_answers_as_its_schema_says(case, api_key):
    case.call_and_validate(headers={"Authorization": f"Bearer {api_key}"}, checks=CHECKS)
