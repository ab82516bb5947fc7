"""Low-level requests: queries, writes, the org and bucket ids, and reading the registry.

Every request goes through ``errors.guard`` (client errors become the app's) and every query
through ``deadline.bounded`` (within a page, it is given up on when the page's time is up).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from influxdb_client import Point, WritePrecision
from influxdb_client.rest import ApiException

from devices import queries
from devices.ids import validate_device_id
from devices.timefmt import format_rfc3339, parse_rfc3339

from .client import Conn
from .deadline import bounded
from .errors import DeviceNotFound, InfluxMisconfigured, InvalidDeviceId, bucket_missing, guard
from .types import Registration

REGISTRY_SETTING = "INFLUX_BUCKET_AUTH"
TELEMETRY_SETTING = "INFLUX_BUCKET"


def now() -> datetime:
    return datetime.now(UTC)


def check_id(device_id: object) -> str:
    try:
        return validate_device_id(device_id)
    except ValueError as exc:
        raise InvalidDeviceId(str(exc)) from None


def query(conn: Conn, flux: str, what: str, *, bucket: str, setting: str) -> list[dict]:
    """Run a query; rows as plain dicts (``values`` of each record, in order).

    Within a page's deadline (see ``deadline.page_deadline``) the page stops waiting when it
    passes.
    """

    def run() -> list[dict]:
        with guard(conn, what, not_found=bucket_missing(bucket, setting)):
            tables = conn.query_api.query(flux, org=conn.org)
        return [record.values for table in tables for record in table.records]

    return bounded(conn, what, run)


def telemetry_query(conn: Conn, flux: str, what: str) -> list[dict]:
    """``query`` on the telemetry bucket (INFLUX_BUCKET)."""
    return query(conn, flux, what, bucket=conn.bucket, setting=TELEMETRY_SETTING)


def registry_query(conn: Conn, flux: str, what: str) -> list[dict]:
    """``query`` on the registry bucket (INFLUX_BUCKET_AUTH)."""
    return query(conn, flux, what, bucket=conn.bucket_auth, setting=REGISTRY_SETTING)


def write(conn: Conn, bucket: str, records, what: str, *, setting: str) -> None:
    with guard(conn, what, not_found=bucket_missing(bucket, setting)):
        conn.write_api.write(
            bucket=bucket, org=conn.org, record=records, write_precision=WritePrecision.NS
        )


# ---- ids ---------------------------------------------------------------------------------------


def org_id(conn: Conn) -> str:
    if "org" not in conn.ids:
        with guard(conn, f"look up organization {conn.org!r}"):
            orgs = conn.client.organizations_api().find_organizations(org=conn.org)
        if not orgs:
            raise InfluxMisconfigured(
                f"organization {conn.org!r} (INFLUX_ORG) not found or not readable with "
                "INFLUX_TOKEN: set INFLUX_ORG, or use a token that can read the organization"
            )
        conn.ids["org"] = orgs[0].id
    return conn.ids["org"]


def find_bucket(conn: Conn, name: str):
    """The bucket object named ``name`` in INFLUX_ORG, or None."""
    org = org_id(conn)
    with guard(conn, f"look up bucket {name!r}"):
        try:
            found = conn.client.buckets_api().find_buckets(name=name, org_id=org)
        except ApiException as exc:
            if exc.status == 404:  # name + org with no match answers 404
                return None
            raise
    buckets = [b for b in (found.buckets or []) if b.name == name]
    return buckets[0] if buckets else None


def bucket_id(conn: Conn, name: str, setting: str) -> str:
    key = f"bucket:{name}"
    if key not in conn.ids:
        bucket = find_bucket(conn, name)
        if bucket is None:
            raise InfluxMisconfigured(bucket_missing(name, setting))
        conn.ids[key] = bucket.id
    return conn.ids[key]


def telemetry_bucket_id(conn: Conn) -> str:
    """The telemetry bucket's id, looked up afresh (not cached): a token for the id of a since
    re-created bucket could write nowhere, and registrations are rare enough for one more
    request."""
    bucket = find_bucket(conn, conn.bucket)
    if bucket is None:
        raise InfluxMisconfigured(bucket_missing(conn.bucket, TELEMETRY_SETTING))
    conn.ids[f"bucket:{conn.bucket}"] = bucket.id
    return bucket.id


# ---- the registry ------------------------------------------------------------------------------


def decode_registry(rows: Iterable[dict]) -> dict[str, Registration]:
    """device id -> its entry, from registry rows (``_field``/``_value``/``_time``/``deviceId``,
    as ``queries.registry_*`` return them). ``createdAt`` if written, else the time of the
    ``key`` point; ``rotatedAt`` if written and not "". Removed devices are included
    (``key == ""``)."""
    fields: dict[str, dict[str, object]] = {}
    key_times: dict[str, datetime | None] = {}
    for row in rows:
        device_id = row.get("deviceId")
        if not device_id:
            continue
        name = row.get("_field")
        fields.setdefault(device_id, {})[name] = row.get("_value")
        if name == "key":
            key_times[device_id] = row.get("_time")
    return {
        device_id: Registration(
            device_id=device_id,
            key=str(values.get("key") or ""),
            token=str(values.get("token") or ""),
            created_at=parse_rfc3339(values.get("createdAt")) or key_times.get(device_id),
            rotated_at=parse_rfc3339(values.get(queries.ROTATED_AT_FIELD) or None),
        )
        for device_id, values in fields.items()
    }


def registration(conn: Conn, device_id: str) -> Registration | None:
    """The device's registry entry (None if never registered); removed ones have key ''."""
    rows = registry_query(
        conn,
        queries.registry_device(conn.bucket_auth, device_id),
        f"read the registration of device {device_id!r}",
    )
    return decode_registry(rows).get(device_id)


def require_registered(reg: Registration | None, device_id: str) -> Registration:
    """``reg`` if it is a registered, not removed device's; else ``DeviceNotFound``."""
    if reg is None or not reg.key:
        raise DeviceNotFound(f"device {device_id!r} is not registered")
    return reg


def active_registration(conn: Conn, device_id: str) -> Registration:
    return require_registered(registration(conn, device_id), device_id)


def registry_all(conn: Conn) -> dict[str, Registration]:
    """device id -> entry of every registered, not removed device (no tokens): one query."""
    rows = registry_query(conn, queries.registry_list(conn.bucket_auth), "list devices")
    return {d: reg for d, reg in decode_registry(rows).items() if reg.key}


def registry_point(
    device_id: str,
    key: str,
    token: str,
    created_at: datetime | None,
    *,
    rotated_at: datetime | None = None,
) -> Point:
    """The reference apps' registry point (``key``, ``token``, ``createdAt``), plus our string
    field ``rotatedAt`` when the token is rotated (its time) or the device removed ("": a device
    registered again afterwards was never rotated). A registration writes exactly the
    reference apps' fields."""
    point = (
        Point(queries.REGISTRY_MEASUREMENT)
        .tag("deviceId", device_id)
        .field("key", key)
        .field("token", token)
        .time(now(), WritePrecision.NS)
    )
    if rotated_at is not None:
        point = point.field(queries.ROTATED_AT_FIELD, format_rfc3339(rotated_at))
    elif not key:
        point = point.field(queries.ROTATED_AT_FIELD, "")
    if created_at is not None:
        point = point.field("createdAt", format_rfc3339(created_at))
    return point
