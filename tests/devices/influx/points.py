"""Points (and device authorizations) tests write straight into InfluxDB, as other apps, older
versions or a change that failed half-way would."""

from datetime import UTC, datetime

from influxdb_client import Authorization, Permission, PermissionResource, Point, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS


def write_registry(env, device_id, fields, when=None):
    point = Point("deviceauth").tag("deviceId", device_id)
    for name, value in fields.items():
        point = point.field(name, value)
    if when is not None:
        point = point.time(when, WritePrecision.S)
    env.client.write_api(write_options=SYNCHRONOUS).write(env.bucket_auth, env.org, point)


def write_telemetry(env, device_id, when, **fields):
    point = Point("environment").tag("device", device_id).time(when, WritePrecision.S)
    for name, value in fields.items():
        point = point.field(name, float(value))
    env.client.write_api(write_options=SYNCHRONOUS).write(env.bucket, env.org, point)


def write_lines(env, lines: list[str], bucket: str | None = None) -> None:
    """Line protocol with timestamps in seconds into the test's telemetry bucket (or ``bucket``),
    20,000 lines a request."""
    with env.client.write_api(write_options=SYNCHRONOUS) as writer:
        for i in range(0, len(lines), 20_000):
            writer.write(bucket or env.bucket, env.org, lines[i : i + 20_000], write_precision="s")


def telemetry_count(env, device_id: str) -> int:
    """How many telemetry values (points x fields) the device has."""
    query = (
        f'from(bucket: "{env.bucket}") |> range(start: 0) '
        f'|> filter(fn: (r) => r.device == "{device_id}") |> count()'
    )
    tables = env.client.query_api().query(query, org=env.org)
    return sum(record.get_value() for table in tables for record in table.records)


def write_registrations(env, ids: list[str]) -> None:
    """Registry points as any IoT Center app writes them (fast: no authorizations)."""
    created = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    lines = [
        f'deviceauth,deviceId={d} key="k{i:016x}",token="t{i}",createdAt="{created}"'
        for i, d in enumerate(ids)
    ]
    write_lines(env, lines, env.bucket_auth)


def make_device_auth(env, device_id: str, bucket_id: str | None = None):
    """A device authorization as register_device makes it (on the telemetry bucket unless told),
    but no registry point references it: what a change that failed half-way, or another tool,
    leaves behind."""
    resource = PermissionResource(type="buckets", id=bucket_id or env.bucket_id, org_id=env.org_id)
    auth = Authorization(
        org_id=env.org_id,
        permissions=[Permission(action="write", resource=resource)],
        description=f"IoTCenterDevice: {device_id}",
    )
    return env.client.authorizations_api().create_authorization(authorization=auth)
