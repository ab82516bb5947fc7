"""Setup, health, orgs, users, buckets and authorizations, as the client and raw HTTP see them."""

from __future__ import annotations

import base64
import re

import pytest
from influxdb_client import (
    BucketRetentionRules,
    InfluxDBClient,
    OnboardingRequest,
    Permission,
    PermissionResource,
    SetupService,
)
from influxdb_client.client.exceptions import InfluxDBError
from influxdb_client.rest import ApiException

from localinflux.runner import LocalInflux

ID = re.compile(r"^[0-9a-f]{16}$")


def test_it_answers_health_ready_and_ping(server, client, raw):
    health = raw("GET", "/health", token=None)
    assert health.status == 200
    assert health.json["status"] == "pass"
    assert health.json["version"] == "v2.7.11"
    assert health.body.endswith(b"\n")
    ready = raw("GET", "/ready", token=None)
    assert (ready.status, ready.json["status"]) == (200, "ready")
    for method in ("GET", "HEAD"):
        ping = raw(method, "/ping", token=None)
        assert (ping.status, ping.body) == (204, b"")
        assert ping.headers["x-influxdb-build"] == "OSS"
        assert ping.headers["x-influxdb-version"] == "v2.7.11"
    assert client.ping() is True
    assert client.version() == "v2.7.11"
    assert client.build() == "OSS"
    assert client.ready().status == "ready"


def test_it_sends_version_headers_on_errors_too(raw):
    resp = raw("GET", "/api/v2/nothing-here")
    assert resp.status == 404
    assert resp.json == {"code": "not found", "message": "path not found"}
    assert resp.headers["x-influxdb-version"] == "v2.7.11"
    assert resp.headers["x-platform-error-code"] == "not found"


def test_it_answers_405_for_a_known_path_with_the_wrong_method(raw):
    resp = raw("PUT", "/api/v2/buckets")
    assert resp.status == 405
    assert resp.json["code"] == "method not allowed"


def test_it_onboards_through_setup_once(raw_to):
    with LocalInflux() as srv:
        assert raw_to(srv, "GET", "/api/v2/setup").json == {"allowed": True}
        with InfluxDBClient(url=srv.url, token="unused") as c:
            request = OnboardingRequest(
                username="ada",
                password="password123",
                org="lab",
                bucket="data",
                retention_period_seconds=7200,
            )
            result = SetupService(c.api_client).post_setup(request)
        assert ID.match(result.org.id)
        assert result.bucket.retention_rules[0].every_seconds == 7200
        assert result.bucket.retention_rules[0].shard_group_duration_seconds == 3600
        token = result.auth.token
        assert len(token) == 88
        assert token.endswith("==")
        assert len(base64.urlsafe_b64decode(token)) == 64
        assert result.auth.description == "ada's Token"
        assert raw_to(srv, "GET", "/api/v2/setup").json == {"allowed": False}
        again = raw_to(srv, "POST", "/api/v2/setup", {"username": "x", "org": "y", "bucket": "z"})
        assert again.status == 422
        assert again.json == {
            "code": "conflict",
            "message": "onboarding has already been completed",
        }
        assert b"\n\t" in again.body  # the setup handler indents with tabs
        with InfluxDBClient(url=srv.url, token=token, org="lab") as c:
            assert c.buckets_api().find_bucket_by_name("data").id == result.bucket.id


def test_setup_lists_missing_fields_and_accepts_a_fixed_token(raw_to):
    with LocalInflux() as srv:
        missing = raw_to(srv, "POST", "/api/v2/setup", {"username": "a"})
        assert missing.status == 422
        assert missing.json["message"] == "onboarding failed: missing required fields [org,bucket]"
        ok = raw_to(
            srv,
            "POST",
            "/api/v2/setup",
            {"username": "a", "org": "o", "bucket": "b", "token": "my-fixed-token"},
        )
        assert ok.status == 201
        assert ok.json["auth"]["token"] == "my-fixed-token"
        me = raw_to(srv, "GET", "/api/v2/me", token="my-fixed-token")
        assert me.json["name"] == "a"


def test_it_finds_orgs_by_name_and_id(server, client, raw):
    orgs = client.organizations_api().find_organizations(org=server.org)
    assert [o.id for o in orgs] == [server.org_id]
    assert client.organizations_api().find_organization(server.org_id).name == server.org
    missing = raw("GET", "/api/v2/orgs?org=nope")
    assert (missing.status, missing.json["message"]) == (404, 'organization name "nope" not found')
    with pytest.raises(InfluxDBError, match="cannot find organization"):
        client.buckets_api().create_bucket(bucket_name="zz", org="nope")
    bad = raw("GET", "/api/v2/orgs/xyz")
    assert bad.status == 400
    assert bad.json["code"] == "invalid"


def test_it_creates_finds_updates_and_deletes_buckets(server, client, raw):
    api = client.buckets_api()
    created = api.create_bucket(
        bucket_name="crud",
        org=server.org,
        retention_rules=BucketRetentionRules(type="expire", every_seconds=86400 * 3),
        description="for tests",
    )
    assert ID.match(created.id)
    assert created.type == "user"
    assert created.retention_rules[0].shard_group_duration_seconds == 86400
    assert created.links.write == f"/api/v2/write?org={server.org_id}&bucket={created.id}"
    assert api.find_bucket_by_id(created.id).name == "crud"
    assert api.find_bucket_by_name("crud").description == "for tests"
    created.description = "changed"
    created.name = "crud2"
    updated = api.update_bucket(created)
    assert (updated.name, updated.description) == ("crud2", "changed")
    dup = raw("POST", "/api/v2/buckets", {"orgID": server.org_id, "name": "crud2"})
    assert (dup.status, dup.json) == (
        422,
        {"code": "conflict", "message": "bucket with name crud2 already exists"},
    )
    api.delete_bucket(created)
    assert api.find_bucket_by_name("crud2") is None
    gone = raw("GET", f"/api/v2/buckets/{created.id}")
    assert (gone.status, gone.json["message"]) == (404, "bucket not found")


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"name": "x"}, 400, "organization id must be provided"),
        ({"orgID": "ORG", "name": "_x"}, 400, "Buckets may not start with underscore"),
        ({"orgID": "ORG", "name": 'a"b'}, 400, "may not include quotation marks"),
        (
            {
                "orgID": "ORG",
                "name": "r",
                "retentionRules": [{"type": "expire", "everySeconds": 60}],
            },
            500,
            "retention policy duration must be at least 1h0m0s",
        ),
        (
            {"orgID": "ORG", "name": "r", "retentionRules": [{"everySeconds": -5}]},
            422,
            "",
        ),
        (
            {
                "orgID": "ORG",
                "name": "r",
                "retentionRules": [{"everySeconds": 3600}, {"everySeconds": 7200}],
            },
            422,
            "",
        ),
    ],
)
def test_it_rejects_invalid_buckets(server, raw, body, status, message):
    if body.get("orgID") == "ORG":
        body = {**body, "orgID": server.org_id}
    resp = raw("POST", "/api/v2/buckets", body)
    assert resp.status == status
    assert message in resp.json["message"]


def test_it_includes_system_buckets_and_pages_with_after(server, client, raw):
    api = client.buckets_api()
    made = [api.create_bucket(bucket_name=f"page{i}", org=server.org) for i in range(5)]
    names = {b.name for b in api.find_buckets_iter(limit=2)}
    assert {"_monitoring", "_tasks", server.bucket} | {b.name for b in made} <= names
    system = {b.name: b for b in api.find_buckets(org=server.org).buckets if b.type == "system"}
    assert system["_monitoring"].retention_rules[0].every_seconds == 604800
    assert system["_tasks"].retention_rules[0].every_seconds == 259200
    page = raw("GET", "/api/v2/buckets?limit=2")
    assert len(page.json["buckets"]) == 2
    assert "after=" in page.json["links"]["next"]
    assert raw("GET", "/api/v2/buckets?limit=101").status == 400
    assert (
        raw("GET", "/api/v2/buckets?limit=0").json["message"] == "limit must be between 1 and 100"
    )
    missing = raw("GET", f"/api/v2/buckets?name=nope&org={server.org}")
    assert (missing.status, missing.json["message"]) == (404, 'bucket "nope" not found')
    assert raw("GET", "/api/v2/buckets?name=nope").json["buckets"] == []
    system_delete = raw("DELETE", f"/api/v2/buckets/{system['_tasks'].id}")
    assert system_delete.status == 400
    for b in made:
        api.delete_bucket(b)


def test_it_manages_authorizations(server, client, raw):
    auths = client.authorizations_api()
    bucket = client.buckets_api().find_bucket_by_name(server.bucket)
    perm = Permission(
        action="read",
        resource=PermissionResource(type="buckets", id=bucket.id, org_id=server.org_id),
    )
    created = auths.create_authorization(org_id=server.org_id, permissions=[perm])
    assert ID.match(created.id)
    assert len(created.token) == 88
    assert created.status == "active"
    assert created.permissions[0].resource.name == server.bucket
    assert created.permissions[0].resource.org == server.org
    assert created.org == server.org
    assert created.user == "admin"
    found = auths.find_authorization_by_id(created.id)
    assert found.token == created.token
    listed = {a.id for a in auths.find_authorizations(org_id=server.org_id)}
    assert created.id in listed
    assert created.id in {a.id for a in auths.find_authorizations_by_org_name(server.org)}
    created.status = "inactive"
    created.description = "disabled"
    updated = auths.update_authorization(created)
    assert (updated.status, updated.description) == ("inactive", "disabled")
    auths.delete_authorization(created)
    gone = raw("GET", f"/api/v2/authorizations/{created.id}")
    assert (gone.status, gone.json) == (
        404,
        {"code": "not found", "message": "authorization not found"},
    )
    assert raw("DELETE", f"/api/v2/authorizations/{created.id}").status == 404
    assert raw("DELETE", "/api/v2/authorizations/bad").status == 400


def test_it_validates_new_authorizations(server, raw):
    no_perms = raw("POST", "/api/v2/authorizations", {"orgID": server.org_id, "permissions": []})
    assert (no_perms.status, no_perms.json["message"]) == (
        400,
        "authorization must include permissions",
    )
    no_org = raw("POST", "/api/v2/authorizations", {"permissions": []})
    assert (no_org.status, no_org.json["message"]) == (400, "org id required: invalid ID")
    other_org = raw(
        "POST",
        "/api/v2/authorizations",
        {
            "orgID": server.org_id,
            "permissions": [
                {"action": "read", "resource": {"type": "buckets", "orgID": "0000000000000001"}}
            ],
        },
    )
    assert other_org.status == 400
    assert "is not for org id" in other_org.json["message"]
    instance = raw(
        "POST",
        "/api/v2/authorizations",
        {
            "orgID": server.org_id,
            "permissions": [{"action": "read", "resource": {"type": "instance"}}],
        },
    )
    assert instance.status == 400


def test_it_lists_users_and_me(server, client):
    me = client.users_api().me()
    assert me.name == "admin"
    assert me.id in {u.id for u in client.users_api().find_users().users}


def test_rest_errors_are_tab_indented_and_escaped_like_go(server, raw):
    resp = raw("POST", "/api/v2/buckets", {"orgID": server.org_id, "name": "_<x>&"})
    assert resp.status == 400
    assert b"\n\t" in resp.body
    assert b"\\u003cx\\u003e\\u0026" in resp.body
    assert resp.json["message"].startswith("bucket name _<x>& is invalid")


def test_it_rejects_unknown_tokens_but_serves_health(server):
    with InfluxDBClient(url=server.url, token="nope", org=server.org) as c:
        with pytest.raises(ApiException) as info:
            c.buckets_api().find_buckets()
        assert info.value.status == 401
        assert c.ping() is True
