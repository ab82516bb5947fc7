"""Points tests write straight into InfluxDB, as other apps or older versions would."""

from influxdb_client import Point, WritePrecision
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
