"""Writing as a device, with the device's own token."""

from datetime import UTC, datetime, timedelta

import pytest

from devices import influx as svc


@pytest.fixture
def now():
    return datetime.now(UTC).replace(second=0, microsecond=0)


def test_the_virtual_device_session_writes_with_the_device_token(influx, now):
    creds = svc.register_device("dev-1")
    with svc.DeviceSession(creds) as session:
        assert session.last_point_time() is None
        written = session.write([(now - timedelta(minutes=1), {"Temperature": 20.0, "CO2": 410.0})])
        assert written == 1
        assert session.last_point_time() == now - timedelta(minutes=1)
    readings = {r.field: r.value for r in svc.latest_readings("dev-1")}
    assert readings == {"CO2": 410.0, "Temperature": 20.0}
    rows = influx.client.query_api().query(
        f'from(bucket: "{influx.bucket}") |> range(start: -1h) |> limit(n: 1)', org=influx.org
    )
    record = rows[0].records[0]
    assert record.values["TemperatureSensor"] == "virtual_bme280"
