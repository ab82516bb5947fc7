"""The plot query parser: iot-api-ui's shape and nothing else reaches a query builder."""

from __future__ import annotations

import pytest

from devices import queries
from devices.api import measurements

UI = """from(bucket: "iot_center")
         |> range(start: {start})
         |> filter(fn: (r) => r._measurement == "environment" and r.{tag} == "dev-1" )
         |> filter(fn: (r) => r._field == "{field}" )
         |> aggregateWindow(every: {every}, fn: {fn}, createEmpty: false)
         |> yield(name: "mean")
         """


def ui(start="-60d", tag="device", field="Humidity", every="1h", fn="mean") -> str:
    return UI.format(start=start, tag=tag, field=field, every=every, fn=fn)


def parse(text):
    return measurements.parse(text, bucket="iot_center", device_id="dev-1")


def test_it_reads_the_uis_query_and_rebuilds_it_with_the_builder():
    parsed = parse(ui())
    assert parsed == measurements.MeasurementQuery("Humidity", "-60d", "1h", "mean")
    rebuilt = queries.measurements("iot_center", "dev-1", "Humidity", "-60d", "1h", "mean")
    assert 'r["_field"] == "Humidity"' in rebuilt
    assert "aggregateWindow(every: 1h, fn: mean, createEmpty: false)" in rebuilt
    assert parse(ui(tag="clientId", fn="max", every="15m")).fn == "max"
    assert parse(" ".join(ui().split())) == parsed  # spacing does not matter


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (ui(start="-400d"), "366 days"),
        (ui(start="0"), "shape"),
        (ui(start="-1h", every="1s"), "window"),
        (ui(start="-366d", every="10s"), "window"),
        (ui(fn="to"), "fn must be"),
        (ui(field="token"), "field must be"),
        (ui(field="${token}"), "shape"),
        (ui(field='x" or r._field == "token'), "shape"),
        (ui() + '|> to(bucket: "iot_center_devices")', "shape"),
        (ui().replace("environment", "deviceauth"), "measurement"),
        (ui().replace('"dev-1"', '"dev-2"'), "device named in the URL"),
        (ui().replace("iot_center", "iot_center_devices"), "telemetry bucket"),
        ("", "shape"),
        (None, "string"),
        (ui() * 10, "2000"),
    ],
)
def test_it_refuses_anything_else_saying_why(text, says):
    with pytest.raises(measurements.QueryRefused, match=says):
        parse(text)
