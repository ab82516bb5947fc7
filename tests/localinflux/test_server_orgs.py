"""``PATCH /api/v2/orgs/{id}``: rename an org or change its description, as InfluxDB 2.7 does."""

from __future__ import annotations

from influxdb_client import InfluxDBClient, Permission, PermissionResource


def _bucket_token(server, client) -> str:
    perm = Permission(
        action="write",
        resource=PermissionResource(type="buckets", id=server.bucket_id, org_id=server.org_id),
    )
    auth = client.authorizations_api().create_authorization(
        org_id=server.org_id, permissions=[perm]
    )
    return auth.token


def test_the_client_renames_an_org_and_changes_its_description(server, client, raw):
    orgs = client.organizations_api()
    org = orgs.create_organization(name="before")
    org.name = "after"
    org.description = "renamed by a test"
    updated = orgs.update_organization(org)
    assert (updated.id, updated.name, updated.description) == (org.id, "after", "renamed by a test")
    assert updated.updated_at >= updated.created_at
    found = orgs.find_organization(org.id)
    assert (found.name, found.description) == ("after", "renamed by a test")
    assert [o.id for o in orgs.find_organizations(org="after")] == [org.id]
    assert raw("GET", "/api/v2/orgs?org=before").status == 404  # the old name is gone
    assert orgs.create_organization(name="before").id != org.id  # and free again


def test_a_patch_with_only_a_description_keeps_the_name(server, client, raw):
    org = client.organizations_api().create_organization(name="keeps-name")
    resp = raw("PATCH", f"/api/v2/orgs/{org.id}", {"description": "only this"})
    assert resp.status == 200
    assert (resp.json["name"], resp.json["description"]) == ("keeps-name", "only this")
    assert resp.json["links"]["self"] == f"/api/v2/orgs/{org.id}"
    assert resp.body.startswith(b"{\n\t")  # tab-indented like the other REST answers


def test_patching_an_org_fails_as_influxdb_does(server, client, raw):
    org = client.organizations_api().create_organization(name="target")
    missing = raw("PATCH", "/api/v2/orgs/0123456789abcdef", {"name": "x"})
    assert (missing.status, missing.json) == (
        404,
        {"code": "not found", "message": "organization not found"},
    )
    bad_id = raw("PATCH", "/api/v2/orgs/nope", {"name": "x"})
    assert (bad_id.status, bad_id.json["code"]) == (400, "invalid")
    taken = raw("PATCH", f"/api/v2/orgs/{org.id}", {"name": server.org})
    assert (taken.status, taken.json) == (
        422,
        {"code": "conflict", "message": f"organization with name {server.org} already exists"},
    )
    empty = raw("PATCH", f"/api/v2/orgs/{org.id}", {"name": " "})
    assert (empty.status, empty.json) == (400, {"code": "invalid", "message": "org name is empty"})
    not_json = raw("PATCH", f"/api/v2/orgs/{org.id}", b"{", headers={"Content-Type": "x"})
    assert (not_json.status, not_json.json["code"]) == (400, "invalid")
    assert client.organizations_api().find_organization(org.id).name == "target"


def test_patching_an_org_needs_write_on_that_org(server, client, raw):
    org = client.organizations_api().create_organization(name="guarded")
    token = _bucket_token(server, client)
    resp = raw("PATCH", f"/api/v2/orgs/{org.id}", {"name": "stolen"}, token=token)
    assert (resp.status, resp.json) == (
        401,
        {"code": "unauthorized", "message": f"write:orgs/{org.id}/orgs/{org.id} is unauthorized"},
    )
    # the permission check comes before the lookup: no token learns which ids exist
    unknown = raw("PATCH", "/api/v2/orgs/0123456789abcdef", {"name": "x"}, token=token)
    assert unknown.status == 401
    with InfluxDBClient(url=server.url, token=server.token, org=server.org) as c:
        assert c.organizations_api().find_organization(org.id).name == "guarded"
