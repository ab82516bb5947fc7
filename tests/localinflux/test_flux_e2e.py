"""The Flux engine end to end: influxdb-client queries over HTTP against the local server."""

import datetime as dt

import pytest
from influxdb_client import Point
from influxdb_client.client.flux_csv_parser import FluxQueryException
from influxdb_client.rest import ApiException

from tests.localinflux.flux_fakes import NS

BUCKET = "telemetry"
UTC = dt.UTC
T0 = dt.datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def data(server, write):
    points = []
    for i in range(10):
        t = T0 + dt.timedelta(minutes=i)
        points.append(
            Point("environment")
            .tag("device", "dev-1")
            .field("temperature", 20.0 + i)
            .field("humidity", 40 + i)
            .time(t)
        )
    for i in range(3):
        t = T0 + dt.timedelta(minutes=i)
        points.append(
            Point("environment").tag("device", "dev-2").field("temperature", 10.5).time(t)
        )
    points.append(
        Point("deviceauth")
        .tag("deviceId", "dev-1")
        .field("key", "k1")
        .field("token", "t1")
        .time(T0)
    )
    write.write(BUCKET, record=points)
    return points


def q(client, flux, **kw):
    return client.query_api().query(flux, **kw)


def test_the_apps_device_lookup_pivots_fields_into_one_record(client, data):
    tables = q(
        client,
        f'from(bucket: "{BUCKET}") |> range(start: 0)'
        ' |> filter(fn: (r) => r._measurement == "deviceauth" and r.deviceId == "dev-1")'
        ' |> last() |> pivot(rowKey: ["deviceId"], columnKey: ["_field"], valueColumn: "_value")',
    )
    assert len(tables) == 1
    record = tables[0].records[0]
    assert (record["deviceId"], record["key"], record["token"]) == ("dev-1", "k1", "t1")


def test_the_apps_device_list_hides_tokens(client, data):
    tables = q(
        client,
        f'from(bucket: "{BUCKET}") |> range(start: 0)'
        ' |> filter(fn: (r) => r._measurement == "deviceauth" and r._field != "token") |> last()',
    )
    assert [(r["deviceId"], r.get_field(), r.get_value()) for t in tables for r in t.records] == [
        ("dev-1", "key", "k1")
    ]


def test_last_report_per_device_via_group_and_max_time(client, data, server):
    before = server.stats.rows_returned
    tables = q(
        client,
        f'from(bucket: "{BUCKET}") |> range(start: 0)'
        ' |> filter(fn: (r) => r._measurement == "environment")'
        ' |> keep(columns: ["_time", "device"]) |> group(columns: ["device"])'
        ' |> max(column: "_time")',
    )
    assert [(r["device"], r.get_time()) for t in tables for r in t.records] == [
        ("dev-1", T0 + dt.timedelta(minutes=9)),
        ("dev-2", T0 + dt.timedelta(minutes=2)),
    ]
    assert server.stats.rows_returned - before == 2


def test_params_and_aggregate_window_through_the_client(client, data):
    tables = q(
        client,
        f'from(bucket: "{BUCKET}") |> range(start: start, stop: stop)'
        ' |> filter(fn: (r) => r._measurement == "environment" and r.device == device)'
        " |> aggregateWindow(every: every, fn: mean, createEmpty: false)"
        ' |> yield(name: "mean")',
        params={
            "start": T0,
            "stop": T0 + dt.timedelta(minutes=10),
            "device": "dev-1",
            "every": dt.timedelta(minutes=5),
        },
    )
    got = {
        t.records[0].get_field(): [(r.get_time(), r.get_value()) for r in t.records] for t in tables
    }
    assert got["temperature"] == [
        (T0 + dt.timedelta(minutes=5), 22.0),
        (T0 + dt.timedelta(minutes=10), 27.0),
    ]
    assert got["humidity"] == [
        (T0 + dt.timedelta(minutes=5), 42.0),
        (T0 + dt.timedelta(minutes=10), 47.0),
    ]
    assert tables[0].records[0]["result"] == "mean"


def test_stream_and_csv_apis_read_the_same_rows(client, data):
    flux = f'from(bucket: "{BUCKET}") |> range(start: 0) |> filter(fn: (r) => r.device == "dev-2")'
    records = list(client.query_api().query_stream(flux))
    assert [r.get_value() for r in records] == [10.5, 10.5, 10.5]
    rows = list(client.query_api().query_csv(flux))
    assert rows[0][0] == "#datatype"
    assert sum(1 for row in rows if row[:3] == ["", "", "0"]) == 3


def test_schema_tag_values_for_the_device_picker(client, data):
    tables = q(
        client,
        'import "influxdata/influxdb/schema"\n'
        f'schema.tagValues(bucket: "{BUCKET}", tag: "device", start: 0)',
    )
    assert [r.get_value() for t in tables for r in t.records] == ["dev-1", "dev-2"]


def test_an_empty_result_is_an_empty_table_list(client, data):
    tables = q(client, f'from(bucket: "{BUCKET}") |> range(start: -1m)')
    assert list(tables) == []


def test_errors_reach_the_client_with_status_and_message(client, data):
    with pytest.raises(ApiException) as err:
        q(client, f'from(bucket: "{BUCKET}") |> range(start: 0) |> window(every: 1m)')
    assert err.value.status == 400
    assert err.value.message == 'function "window" is not supported by this server'
    with pytest.raises(ApiException) as err:
        q(client, 'from(bucket: "missing") |> range(start: 0)')
    assert err.value.status == 404
    with pytest.raises(ApiException) as err:
        q(client, f'from(bucket: "{BUCKET}") |> last()')
    assert err.value.status == 400
    assert "cannot submit unbounded read" in err.value.message


def test_a_failure_after_the_first_result_arrives_in_stream(client, data):
    flux = (
        f'from(bucket: "{BUCKET}") |> range(start: 0) |> filter(fn: (r) => r.device == "dev-2")'
        ' |> yield(name: "ok")\n'
        f'from(bucket: "{BUCKET}") |> range(start: 0)'
        ' |> filter(fn: (r) => r._field == "temperature" and r._value > "x") |> yield(name: "bad")'
    )
    with pytest.raises(FluxQueryException) as err:
        q(client, flux)
    assert "cannot compare float with string" in err.value.message


def test_params_of_every_python_type_reach_the_query(client, data):
    tables = q(
        client,
        f'from(bucket: "{BUCKET}") |> range(start: since)'
        " |> filter(fn: (r) => r._field == names[1] and r._value < below and wanted)"
        " |> filter(fn: (r) => r.device == device) |> limit(n: n)",
        params={
            "since": T0,
            "names": ["humidity", "temperature"],
            "below": 28.5,
            "wanted": True,
            "device": "dev-1",
            "n": 2,
        },
    )
    assert [r.get_value() for t in tables for r in t.records] == [20.0, 21.0]


def test_deleted_series_and_points_leave_the_indexed_and_fused_reads(http_flux, client):
    minute = 60 * NS
    t0 = 1704067200 * NS
    dev1 = [(t0 + i * minute, 40 + i) for i in range(10)]
    http_flux.load(
        [
            ("environment", {"device": "dev-1"}, "humidity", dev1),
            ("environment", {"device": "dev-2"}, "humidity", [(t0, 50)]),
        ]
    )
    env = 'from(bucket: "iot") |> range(start: 0)'
    env += ' |> filter(fn: (r) => r._measurement == "environment")'
    devices = env + ' |> last() |> keep(columns: ["device", "_value"]) |> group()'
    assert [(r["device"], r.get_value()) for t in http_flux.tables(devices) for r in t.records] == [
        ("dev-1", 49),
        ("dev-2", 50),
    ]  # the bucket's series index now exists
    delete = client.delete_api()
    end = dt.datetime(2030, 1, 1, tzinfo=UTC)
    delete.delete(dt.datetime(1970, 1, 1, tzinfo=UTC), end, 'device="dev-2"', "iot")
    # Delete bounds are inclusive: 00:05 itself goes, 40..44 stay.
    delete.delete(T0 + dt.timedelta(minutes=5), end, 'device="dev-1"', "iot")
    assert [(r["device"], r.get_value()) for t in http_flux.tables(devices) for r in t.records] == [
        ("dev-1", 44)
    ]
    assert http_flux.tables(env + ' |> filter(fn: (r) => r.device == "dev-2") |> last()') == []
    counts = http_flux.tables(env + " |> count()")
    assert [(r["device"], r.get_value()) for t in counts for r in t.records] == [("dev-1", 5)]


def test_params_of_every_type_the_client_encodes_are_bound_in_the_query(client, data):
    """influxdb-client turns each param into ``option <name> = <literal>`` in the extern:
    str, int, float, bool, datetime (naive = UTC), timedelta (negative too), sequences and
    dicts (arrays of their keys), None (left out), and AST node objects as given."""
    from influxdb_client.domain.call_expression import CallExpression
    from influxdb_client.domain.identifier import Identifier

    tables = q(
        client,
        f'from(bucket: "{BUCKET}") |> range(start: since, stop: until)'
        ' |> filter(fn: (r) => r._measurement == "environment" and r.device == device)'
        " |> filter(fn: (r) => r._field == fields[0] and r._value >= low)"
        " |> filter(fn: (r) => r._time >= since + step and r._time <= until + back and on)"
        ' |> filter(fn: (r) => keys[1] == "b" and pair[1] == "y" and r._time < stamp)'
        " |> limit(n: n)",
        params={
            "since": T0,
            "until": dt.datetime(2024, 1, 1, 0, 9),  # naive: the client takes it as UTC
            "device": "dev-1",
            "fields": ["temperature"],
            "low": 21.5,
            "step": dt.timedelta(minutes=1),
            "back": -dt.timedelta(minutes=2),
            "on": True,
            "keys": {"a": 1, "b": 2},
            "pair": ("x", "y"),
            "n": 3,
            "unused": None,
            "stamp": CallExpression("CallExpression", callee=Identifier("Identifier", "now")),
        },
    )
    got = [(r.get_time(), r.get_value()) for t in tables for r in t.records]
    assert got == [(T0 + dt.timedelta(minutes=m), 20.0 + m) for m in (2, 3, 4)]


QUERY_PROFILE_COLUMNS = [
    "result",
    "table",
    "_measurement",
    "TotalDuration",
    "CompileDuration",
    "QueueDuration",
    "PlanDuration",
    "RequeueDuration",
    "ExecuteDuration",
    "Concurrency",
    "MaxAllocated",
    "TotalAllocated",
    "RuntimeErrors",
]
OPERATOR_PROFILE_COLUMNS = [
    "result",
    "table",
    "_measurement",
    "Type",
    "Label",
    "Count",
    "MinDuration",
    "MaxDuration",
    "DurationSum",
    "MeanDuration",
]


def test_the_clients_profilers_get_the_profiler_tables_apart_from_the_data(client, data, server):
    from influxdb_client.client.query_api import QueryOptions

    before = server.stats.rows_returned
    seen = []
    api = client.query_api(
        query_options=QueryOptions(profilers=["query", "operator"], profiler_callback=seen.append)
    )
    tables = api.query(
        f'from(bucket: "{BUCKET}") |> range(start: 2024-01-01T00:00:00Z)'
        ' |> filter(fn: (r) => r._field == "temperature") |> group() |> sort() |> limit(n: 2)'
    )
    assert [r.get_value() for t in tables for r in t.records] == [10.5, 10.5]  # data only
    assert server.stats.rows_returned - before == 2
    query, *operators = seen
    assert list(query.values) == QUERY_PROFILE_COLUMNS
    assert query["result"] == "_profiler"
    assert query["_measurement"] == "profiler/query"
    total = query["TotalDuration"]
    assert total > 0
    assert total >= query["CompileDuration"] + query["PlanDuration"] + query["ExecuteDuration"]
    assert query["RuntimeErrors"] is None  # an empty string cell reads as null
    # range, filter and group fuse into one storage read: one operator, named for its last step
    assert [op["Type"] for op in operators] == ["group", "sort", "limit"]
    assert [op["Label"] for op in operators] == ["group3", "sort4", "limit5"]
    for op in operators:
        assert list(op.values) == OPERATOR_PROFILE_COLUMNS
        assert op["_measurement"] == "profiler/operator"
        assert op["Count"] == 1
        assert op["MinDuration"] == op["MaxDuration"] == op["DurationSum"] >= 0
        assert op["MeanDuration"] == float(op["DurationSum"])
    assert sum(op["DurationSum"] for op in operators) <= query["ExecuteDuration"]


def test_without_profilers_enabled_there_is_no_profiler_result(client, data):
    tables = q(
        client,
        'import "profiler"\noption profiler.enabledProfilers = [""]\n'
        f'from(bucket: "{BUCKET}") |> range(start: 2024-01-01T00:00:00Z) |> count()',
    )
    assert {r["result"] for t in tables for r in t.records} == {"_result"}
