"""The permission matrix: which token may write, query, delete and see buckets, and how it fails."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from influxdb_client import InfluxDBClient, Permission, PermissionResource
from influxdb_client.client.exceptions import InfluxDBError
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.rest import ApiException

from localinflux.permissions import all_access_permissions
from tests.localinflux.conftest import write_url


@dataclass
class Tokens:
    all_access: str
    read_write: str
    read_only: str
    write_only: str
    inactive: str
    other_bucket_id: str


def _perm(action, bucket_id, org_id):
    return Permission(
        action=action, resource=PermissionResource(type="buckets", id=bucket_id, org_id=org_id)
    )


@pytest.fixture(scope="module")
def tokens(server, client):
    auths = client.authorizations_api()
    org_id = server.org_id
    me = client.users_api().me()
    every = [
        Permission(
            action=p.action,
            resource=PermissionResource(type=p.type, id=p.id, org_id=p.org_id),
        )
        for p in all_access_permissions(org_id, me.id)
    ]
    other = client.buckets_api().create_bucket(bucket_name="other", org=server.org)

    def make(perms, **kw):
        return auths.create_authorization(org_id=org_id, permissions=perms, **kw)

    rw = [_perm("read", server.bucket_id, org_id), _perm("write", server.bucket_id, org_id)]
    inactive = make(rw)
    inactive.status = "inactive"
    auths.update_authorization(inactive)
    return Tokens(
        all_access=make(every).token,
        read_write=make(rw).token,
        read_only=make([_perm("read", server.bucket_id, org_id)]).token,
        write_only=make([_perm("write", server.bucket_id, org_id)]).token,
        inactive=inactive.token,
        other_bucket_id=other.id,
    )


def _as(server, token, call, ok: int) -> tuple[int, str]:
    """(status, message) of ``call(client)`` with a client holding ``token``: ``ok`` if it works."""
    with InfluxDBClient(url=server.url, token=token, org=server.org) as c:
        try:
            call(c)
        except ApiException as exc:
            return exc.status, exc.message
    return ok, ""


def _write(server, token):
    def write(c):
        c.write_api(write_options=SYNCHRONOUS).write(server.bucket, record="perm v=1 1")

    return _as(server, token, write, 204)


def _query(server, token):
    flux = f'from(bucket: "{server.bucket}") |> range(start: 0)'
    return _as(server, token, lambda c: c.query_api().query(flux), 200)


def _delete(server, token):
    def delete(c):
        epoch = "1970-01-01T00:00:00Z"
        c.delete_api().delete(epoch, epoch, "", server.bucket, server.org)

    return _as(server, token, delete, 204)


def _bucket_names(server, token):
    with InfluxDBClient(url=server.url, token=token, org=server.org) as c:
        try:
            return {b.name for b in c.buckets_api().find_buckets().buckets}
        except ApiException as exc:
            return exc.status


NOT_FOUND = 'failed to initialize execute state: could not find bucket "telemetry"'


@pytest.mark.parametrize(
    ("who", "write", "query", "delete"),
    [
        ("operator", 204, 200, 204),
        ("all_access", 204, 200, 204),
        ("read_write", 204, 200, 204),
        ("read_only", 403, 200, 403),
        ("write_only", 204, 404, 204),
        ("inactive", 403, 404, 403),
        ("unknown", 401, 401, 401),
    ],
)
def test_permission_matrix(server, tokens, who, write, query, delete):
    token = {"operator": server.token, "unknown": "not-a-token"}.get(who) or getattr(tokens, who)
    w_status, w_message = _write(server, token)
    q_status, q_message = _query(server, token)
    d_status, d_message = _delete(server, token)
    assert (w_status, q_status, d_status) == (write, query, delete)
    if write == 403:
        assert w_message.startswith("insufficient permissions for write")
    if delete == 403:
        assert d_message.startswith("insufficient permissions to delete")
    if query == 404:
        assert q_message == NOT_FOUND  # a write-only token cannot even see that the bucket exists
    if write == 401:
        assert w_message == "unauthorized access"


def test_a_missing_or_malformed_authorization_header_is_401(raw, server):
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Token"}):
        resp = raw("GET", "/api/v2/buckets", token=None, headers=headers)
        assert (resp.status, resp.json) == (
            401,
            {"code": "unauthorized", "message": "unauthorized access"},
        )
        assert "www-authenticate" not in resp.headers
    bearer = raw(
        "GET", "/api/v2/buckets", token=None, headers={"Authorization": f"bearer {server.token}"}
    )
    assert bearer.status == 200


def test_bucket_lists_are_filtered_silently(server, tokens):
    operator = _bucket_names(server, server.token)
    assert {"telemetry", "other", "_monitoring", "_tasks"} <= operator
    assert _bucket_names(server, tokens.all_access) == operator
    assert _bucket_names(server, tokens.read_write) == {"telemetry"}
    assert _bucket_names(server, tokens.read_only) == {"telemetry"}
    assert _bucket_names(server, tokens.write_only) == set()  # write does not imply read
    assert _bucket_names(server, tokens.inactive) == set()


def test_reading_a_bucket_you_may_not_see_is_401(server, tokens, raw):
    resp = raw("GET", f"/api/v2/buckets/{tokens.other_bucket_id}", token=tokens.read_write)
    assert resp.status == 401
    assert resp.json == {
        "code": "unauthorized",
        "message": f"read:orgs/{server.org_id}/buckets/{tokens.other_bucket_id} is unauthorized",
    }


def test_a_bucket_token_cannot_create_buckets(server, tokens, raw):
    resp = raw(
        "POST",
        "/api/v2/buckets",
        {"orgID": server.org_id, "name": "nope"},
        token=tokens.read_write,
    )
    assert resp.status == 401
    assert resp.json["message"] == f"write:orgs/{server.org_id}/buckets is unauthorized"
    with InfluxDBClient(url=server.url, token=tokens.read_write, org=server.org) as c:
        # the org is invisible to this token, so the client cannot resolve its name
        assert c.organizations_api().find_organizations(org=server.org) == []
        with pytest.raises(InfluxDBError, match="cannot find organization"):
            c.buckets_api().create_bucket(bucket_name="nope", org=server.org)


def test_a_bucket_token_may_write_with_org_name(server, tokens, raw):
    resp = raw(
        "POST",
        write_url(server),
        b"named v=1 1",
        token=tokens.write_only,
    )
    assert resp.status == 204


def test_all_access_can_create_buckets_but_not_grant_more_than_it_holds(server, tokens, raw):
    with InfluxDBClient(url=server.url, token=tokens.all_access, org=server.org) as c:
        made = c.buckets_api().create_bucket(bucket_name="by-all-access", org=server.org)
        assert made.name == "by-all-access"
    write_other = {
        "action": "write",
        "resource": {"type": "buckets", "id": tokens.other_bucket_id, "orgID": server.org_id},
    }

    def grant(token, *permissions):
        body = {"orgID": server.org_id, "permissions": list(permissions)}
        return raw("POST", "/api/v2/authorizations", body, token=token)

    resp = grant(tokens.read_write, write_other)
    assert resp.status == 401
    assert resp.json["message"] == f"write:orgs/{server.org_id}/authorizations is unauthorized"
    granted = grant(
        tokens.all_access, write_other, {"action": "read", "resource": {"type": "orgs"}}
    )
    assert granted.status == 403
    assert granted.json == {
        "code": "forbidden",
        "message": "permission read:orgs is not allowed",
    }


def test_a_deleted_token_stops_working(server, client):
    auths = client.authorizations_api()
    auth = auths.create_authorization(
        org_id=server.org_id, permissions=[_perm("write", server.bucket_id, server.org_id)]
    )
    assert _write(server, auth.token)[0] == 204
    auths.delete_authorization(auth)
    assert _write(server, auth.token) == (401, "unauthorized access")


def test_control_endpoints_need_the_operator_token(server, tokens, raw):
    assert raw("GET", "/api/v2/localinflux/stats", token=tokens.all_access).status == 403
    assert raw("GET", "/api/v2/localinflux/stats", token=None).status == 401
    assert raw("GET", "/api/v2/localinflux/stats").status == 200
