"""Each Flux function against hand-computed tables, read back through influxdb-client's parser."""

import datetime as dt
import json

import pytest

from localinflux.flux import handle_query
from tests.localinflux.flux_fakes import NS, FakeReader, client_tables, make_context, run

B = "0000000000000001"
T0 = 1704067200 * NS  # 2024-01-01T00:00:00Z
NOW = T0 + 3600 * NS
MIN = 60 * NS
UTC = dt.UTC


def at(minutes, seconds=0):
    return dt.datetime(2024, 1, 1, tzinfo=UTC) + dt.timedelta(minutes=minutes, seconds=seconds)


@pytest.fixture
def reader():
    r = FakeReader()
    r.add(
        B,
        "environment",
        {"device": "dev-1"},
        "temperature",
        [(T0 + i * MIN, 20.0 + i) for i in range(10)],
    )
    r.add(
        B,
        "environment",
        {"device": "dev-1"},
        "humidity",
        [(T0 + i * MIN, 40 + i) for i in range(10)],
    )
    r.add(
        B,
        "environment",
        {"device": "dev-2"},
        "temperature",
        [(T0 + i * MIN, 10.5) for i in range(3)],
    )
    r.add(B, "deviceauth", {"deviceId": "dev-1"}, "key", [(T0, "k1")])
    r.add(B, "deviceauth", {"deviceId": "dev-1"}, "token", [(T0, "t1")])
    return r


def tables(reader, query, **extra):
    response, _ = run(reader, query, now_ns=NOW, **extra)
    assert response.status == 200, response.body
    return client_tables(response.body)


def values(reader, query, columns):
    return [
        [rec.values.get(c) for c in columns] for t in tables(reader, query) for rec in t.records
    ]


def error(reader, query, **extra):
    response, _ = run(reader, query, now_ns=NOW, **extra)
    assert response.status != 200
    return response.status, json.loads(response.body)


SRC = 'from(bucket: "iot") |> range(start: 0)'
ENV = SRC + ' |> filter(fn: (r) => r._measurement == "environment")'


def test_it_returns_the_newest_point_of_each_series_and_field(reader):
    result = tables(reader, ENV + " |> last()")
    assert [(t.records[0]["device"], t.records[0].get_field()) for t in result] == [
        ("dev-1", "humidity"),
        ("dev-1", "temperature"),
        ("dev-2", "temperature"),
    ]
    assert [t.records[0].get_value() for t in result] == [49, 29.0, 10.5]
    assert result[0].records[0].get_time() == at(9)
    keys = [c.label for c in result[0].columns if c.group]
    assert keys == ["_start", "_stop", "_field", "_measurement", "device"]


def test_it_prunes_series_by_key_and_reads_only_one_point_for_last(reader):
    response, ctx = run(
        reader, ENV + ' |> filter(fn: (r) => r.device == "dev-2") |> last()', now_ns=NOW
    )
    assert response.status == 200
    assert ctx.series_read == 1
    assert ctx.rows_returned == 1
    assert sum(s.slices for s in reader.all_series()) == 0


def test_it_filters_rows_on_values_and_treats_a_missing_column_as_false(reader):
    rows = values(
        reader,
        ENV + ' |> filter(fn: (r) => r._field == "temperature" and r._value >= 28.0)',
        ["device", "_value"],
    )
    assert rows == [["dev-1", 28.0], ["dev-1", 29.0]]
    assert tables(reader, SRC + ' |> filter(fn: (r) => r.nosuchtag == "x")') == []
    assert len(tables(reader, SRC + ' |> filter(fn: (r) => r.nosuchtag != "x")')) == 0


def test_it_supports_regex_or_and_not_in_filters(reader):
    rows = values(
        reader,
        SRC + ' |> filter(fn: (r) => r.device =~ /-2$/ or not (r._measurement != "deviceauth"))'
        " |> last()",
        ["_measurement", "_field"],
    )
    assert rows == [["deviceauth", "key"], ["deviceauth", "token"], ["environment", "temperature"]]


def test_range_includes_start_excludes_stop_and_accepts_unix_seconds(reader):
    start = (T0 + 2 * MIN) // NS
    stop = (T0 + 5 * MIN) // NS
    q = (
        f'from(bucket: "iot") |> range(start: {start}, stop: {stop})'
        ' |> filter(fn: (r) => r.device == "dev-1" and r._field == "humidity")'
    )
    assert values(reader, q, ["_value"]) == [[42], [43], [44]]
    rec = tables(reader, q)[0].records[0]
    assert rec.get_start() == at(2)
    assert rec.get_stop() == at(5)
    q2 = 'from(bucket: "iot") |> range(start: 2024-01-01T00:08:00Z, stop: -51m) |> last()'
    assert values(reader, q2, ["_value"]) == [[48], [28.0]]


def test_first_limit_and_sort(reader):
    hum = ENV + ' |> filter(fn: (r) => r._field == "humidity")'
    assert values(reader, hum + " |> first()", ["_value"]) == [[40]]
    assert values(reader, hum + " |> limit(n: 2, offset: 3)", ["_value"]) == [[43], [44]]
    rows = values(
        reader, hum + ' |> sort(columns: ["_value"], desc: true) |> limit(n: 2)', ["_value"]
    )
    assert rows == [[49], [48]]


def test_group_and_max_time_give_each_devices_last_report(reader):
    q = ENV + ' |> keep(columns: ["_time", "device"]) |> group(columns: ["device"])'
    result = tables(reader, q + ' |> max(column: "_time")')
    assert [[r["device"], r.get_time()] for t in result for r in t.records] == [
        ["dev-1", at(9)],
        ["dev-2", at(2)],
    ]
    assert [c.label for c in result[0].columns] == ["result", "table", "_time", "device"]
    temps = ENV + ' |> filter(fn: (r) => r._field == "temperature")'
    merged = tables(reader, temps + " |> group() |> count()")
    assert len(merged) == 1
    assert merged[0].records[0].get_value() == 13
    assert not any(c.group for c in merged[0].columns)


def test_group_except_keeps_the_other_columns_in_the_key(reader):
    q = ENV + ' |> count() |> group(columns: ["_value", "_field"], mode: "except") |> sum()'
    result = tables(reader, q)
    assert [(t.records[0]["device"], t.records[0].get_value()) for t in result] == [
        ("dev-1", 20),
        ("dev-2", 3),
    ]


def test_keep_drop_and_rename_reshape_columns(reader):
    q = ENV + ' |> last() |> drop(columns: ["_start", "_stop"]) |> rename(columns: {device: "id"})'
    result = tables(reader, q)
    assert [c.label for c in result[0].columns][2:] == [
        "_time",
        "_value",
        "_field",
        "_measurement",
        "id",
    ]
    assert result[0].records[0]["id"] == "dev-1"
    kept = tables(reader, ENV + ' |> last() |> keep(fn: (column) => column == "_value")')
    assert [c.label for c in kept[0].columns] == ["result", "table", "_value"]


def test_pivot_turns_fields_into_columns_of_one_row(reader):
    q = (
        SRC + ' |> filter(fn: (r) => r._measurement == "deviceauth" and r.deviceId == "dev-1")'
        ' |> last() |> pivot(rowKey: ["deviceId"], columnKey: ["_field"], valueColumn: "_value")'
    )
    result = tables(reader, q)
    assert len(result) == 1
    assert [c.label for c in result[0].columns] == [
        "result",
        "table",
        "_start",
        "_stop",
        "_measurement",
        "deviceId",
        "key",
        "token",
    ]
    assert result[0].records[0]["key"] == "k1"
    assert result[0].records[0]["token"] == "t1"


def test_pivot_on_time_leaves_missing_cells_null(reader):
    q = ENV + ' |> filter(fn: (r) => r.device == "dev-1")'
    q += ' |> filter(fn: (r) => r._field == "humidity" or r._value < 22.5)'
    q += ' |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")'
    result = tables(reader, q)
    assert len(result) == 1
    rows = [[r.get_time(), r["humidity"], r["temperature"]] for r in result[0].records]
    assert rows[0] == [at(0), 40, 20.0]
    assert rows[3] == [at(3), 43, None]
    assert len(rows) == 10


def test_aggregate_window_mean_uses_window_stops_and_range_bounds(reader):
    q = (
        'from(bucket: "iot") |> range(start: 2024-01-01T00:00:00Z, stop: 2024-01-01T00:08:30Z)'
        ' |> filter(fn: (r) => r.device == "dev-1" and r._field == "temperature")'
        " |> aggregateWindow(every: 3m, fn: mean, createEmpty: false)"
    )
    result = tables(reader, q)
    assert [[r.get_time(), r.get_value()] for r in result[0].records] == [
        [at(3), 21.0],
        [at(6), 24.0],
        [at(8, 30), 27.0],
    ]
    assert result[0].records[0].get_start() == at(0)
    assert [c.label for c in result[0].columns][2:6] == ["_start", "_stop", "_time", "_value"]


def test_aggregate_window_create_empty_fills_nulls_and_zero_counts(reader):
    base = (
        'from(bucket: "iot") |> range(start: 2024-01-01T00:00:00Z, stop: 2024-01-01T00:20:00Z)'
        ' |> filter(fn: (r) => r.device == "dev-2")'
    )
    means = values(reader, base + " |> aggregateWindow(every: 5m, fn: mean)", ["_value"])
    assert means == [[10.5], [None], [None], [None]]
    counts = values(reader, base + " |> aggregateWindow(every: 5m, fn: count)", ["_value"])
    assert counts == [[3], [0], [0], [0]]
    # Selectors get a null row per empty window too (flux fills empty windows since 2021).
    maxes = values(reader, base + " |> aggregateWindow(every: 5m, fn: max)", ["_time", "_value"])
    assert maxes == [[at(5), 10.5], [at(10), None], [at(15), None], [at(20), None]]
    lasts = values(
        reader,
        base + " |> aggregateWindow(every: 5m, fn: last, createEmpty: false)",
        ["_time", "_value"],
    )
    assert lasts == [[at(5), 10.5]]


def test_aggregate_window_offset_shifts_the_boundaries(reader):
    q = (
        SRC + ' |> filter(fn: (r) => r.device == "dev-1" and r._field == "humidity")'
        " |> aggregateWindow(every: 5m, offset: 2m, fn: sum, createEmpty: false)"
    )
    assert values(reader, q, ["_time", "_value"]) == [[at(2), 81], [at(7), 220], [at(12), 144]]


def test_aggregates_and_selectors_per_table(reader):
    temp = ENV + ' |> filter(fn: (r) => r._field == "temperature")'
    assert values(reader, temp + " |> count()", ["_value"]) == [[10], [3]]
    assert values(reader, temp + " |> sum()", ["_value"]) == [[245.0], [31.5]]
    assert values(reader, temp + " |> mean()", ["_value"]) == [[24.5], [10.5]]
    assert values(reader, temp + " |> min()", ["_value", "_time"]) == [
        [20.0, at(0)],
        [10.5, at(0)],
    ]
    assert values(reader, temp + " |> max()", ["_value"]) == [[29.0], [10.5]]
    hum = tables(reader, ENV + ' |> filter(fn: (r) => r._field == "humidity") |> mean()')
    assert hum[0].records[0].get_value() == 44.5
    assert {c.label: c.data_type for c in hum[0].columns}["_value"] == "double"


def test_distinct_lists_each_value_once(reader):
    q = SRC + ' |> filter(fn: (r) => r._field == "temperature")'
    q += ' |> group() |> distinct(column: "device")'
    assert values(reader, q, ["_value"]) == [["dev-1"], ["dev-2"]]


def test_schema_functions_list_tags_fields_and_measurements(reader):
    imp = 'import "influxdata/influxdb/schema"\n'
    q = imp + 'schema.tagValues(bucket: "iot", tag: "device", start: 0)'
    assert values(reader, q, ["_value"]) == [["dev-1"], ["dev-2"]]
    q = imp + 'schema.fieldKeys(bucket: "iot", start: 0, predicate: (r) => r.device == "dev-2")'
    assert values(reader, q, ["_value"]) == [["temperature"]]
    q = imp + 'schema.measurements(bucket: "iot", start: 0)'
    assert values(reader, q, ["_value"]) == [["deviceauth"], ["environment"]]
    # The default start is 30 days before now(): these points are older than that.
    late = NOW + 40 * 86400 * NS
    response, _ = run(reader, imp + 'schema.measurements(bucket: "iot")', now_ns=late)
    assert response.body == b"\r\n"


def test_params_arrive_as_extern_options(reader):
    extern = {
        "imports": [],
        "body": [
            {
                "type": "OptionStatement",
                "assignment": {
                    "type": "VariableAssignment",
                    "id": {"type": "Identifier", "name": "dev"},
                    "init": {"type": "StringLiteral", "value": "dev-2"},
                },
            },
            {
                "type": "OptionStatement",
                "assignment": {
                    "type": "VariableAssignment",
                    "id": {"type": "Identifier", "name": "since"},
                    "init": {
                        "type": "UnaryExpression",
                        "operator": "-",
                        "argument": {
                            "type": "DurationLiteral",
                            "values": [{"magnitude": 3600000000, "unit": "us"}],
                        },
                    },
                },
            },
        ],
    }
    q = 'from(bucket: "iot") |> range(start: since) |> filter(fn: (r) => r.device == dev) |> last()'
    response, _ = run(reader, q, now_ns=NOW, extern=extern)
    result = client_tables(response.body)
    assert [t.records[0].get_value() for t in result] == [10.5]
    assert result[0].records[0].get_start() == at(0)


def test_now_can_be_overridden_by_the_request(reader):
    q = 'from(bucket: "iot") |> range(start: -5m) |> filter(fn: (r) => r._field == "humidity")'
    response, _ = run(reader, q, now_ns=NOW, now="2024-01-01T00:05:00Z")
    assert [r.get_value() for t in client_tables(response.body) for r in t.records] == [
        40,
        41,
        42,
        43,
        44,
    ]


def test_several_yields_come_back_as_named_results(reader):
    q = (
        'data = from(bucket: "iot") |> range(start: 0)\n'
        'data |> filter(fn: (r) => r._field == "key") |> yield(name: "keys")\n'
        'data |> filter(fn: (r) => r._field == "token") |> yield(name: "tokens")'
    )
    result = tables(reader, q)
    assert [(t.records[0]["result"], t.records[0].get_value()) for t in result] == [
        ("keys", "k1"),
        ("tokens", "t1"),
    ]


def test_it_refuses_an_unbounded_read(reader):
    status, body = error(reader, 'from(bucket: "iot") |> filter(fn: (r) => true)')
    assert status == 400
    assert body["message"] == (
        "cannot submit unbounded read to \"iot\"; try bounding 'from' with a call to 'range'"
    )


def test_an_unknown_bucket_is_not_found(reader):
    status, body = error(reader, 'from(bucket: "nope") |> range(start: 0)')
    assert status == 404
    assert body == {
        "code": "not found",
        "message": 'failed to initialize execute state: could not find bucket "nope"',
    }


def test_unsupported_functions_are_refused_not_guessed(reader):
    status, body = error(reader, SRC + " |> map(fn: (r) => r)")
    assert (status, body["code"]) == (400, "invalid")
    assert body["message"] == 'function "map" is not supported by this server'
    status, body = error(reader, 'import "strings"\nstrings.toUpper(v: "a")')
    assert "not supported" in body["message"]


def test_compile_errors_carry_positions(reader):
    status, body = error(reader, "x = 1\ny")
    assert (status, body["message"]) == (400, "error @2:1-2:2: undefined identifier y")
    status, body = error(reader, 'from(bucket: "iot") |> range(strt: -1h)')
    assert "unexpected argument strt" in body["message"]
    assert body["message"].startswith("error @1:24-1:40:")


def test_it_rejects_a_non_flux_query_type(reader):
    status, body = error(reader, "SELECT 1", type="influxql")
    assert status == 400
    assert body["message"].startswith("failed to decode request body:")


def test_a_raw_flux_body_gets_a_header_only_csv_with_result_names(reader):
    ctx = make_context(reader, NOW)
    q = 'from(bucket: "iot") |> range(start: 0) |> filter(fn: (r) => r._field == "key") |> last()'
    response = handle_query(q.encode(), "application/vnd.flux", ctx)
    assert response.status == 200
    lines = response.body.decode().split("\r\n")
    assert lines[0] == ",result,table,_start,_stop,_time,_value,_field,_measurement,deviceId"
    assert lines[1].startswith(",_result,0,1970-01-01T00:00:00Z,2024-01-01T01:00:00Z,")


@pytest.mark.parametrize(
    "predicate",
    [
        'r._value > 24.0 and r._field == "temperature"',
        'r._field == "humidity" or r._value < 21.0',
        "not (r._value >= 45)",
        'r.missing == "x" or r._value == 42',
        "exists r.device and r._value != 10.5 and r._time >= 2024-01-01T00:07:00Z",
        "r.device =~ /2$/ or r._field !~ /^t/",
    ],
)
def test_row_filters_agree_before_and_after_regrouping(reader, predicate):
    # Straight after range the filter runs on storage reads; after group() on generic tables.
    direct = ENV + f" |> filter(fn: (r) => {predicate})"
    regrouped = ENV + f' |> group(columns: ["device", "_field"]) |> filter(fn: (r) => {predicate})'
    columns = ["device", "_field", "_time", "_value"]
    assert sorted(map(str, values(reader, direct, columns))) == sorted(
        map(str, values(reader, regrouped, columns))
    )
    assert values(reader, direct, columns)


def test_measurement_helpers_of_the_schema_package(reader):
    imp = 'import "influxdata/influxdb/schema"\n'
    q = imp + 'schema.measurementTagValues(bucket: "iot", measurement: "deviceauth",'
    q += ' tag: "deviceId", start: 0)'
    assert values(reader, q, ["_value"]) == [["dev-1"]]
    q = imp + 'schema.measurementFieldKeys(bucket: "iot", measurement: "environment", start: 0)'
    assert values(reader, q, ["_value"]) == [["humidity"], ["temperature"]]
    status, body = error(reader, imp + 'schema.tagKeys(bucket: "iot")')
    assert status == 400
    assert body["message"] == 'function "schema.tagKeys" is not supported by this server'


@pytest.mark.parametrize(
    ("dialect", "message"),
    [
        ({"delimiter": ";;"}, "delimiter"),
        ({"annotations": ["datatype", "bogus"]}, "bogus"),
        ({"dateTimeFormat": "unix"}, "dateTimeFormat"),
    ],
)
def test_bad_dialects_are_rejected(reader, dialect, message):
    ctx = make_context(reader, NOW)
    body = json.dumps({"query": SRC, "dialect": dialect}).encode()
    response = handle_query(body, "application/json", ctx)
    assert response.status == 400
    assert message in json.loads(response.body)["message"]


def test_a_malformed_body_is_a_decode_error(reader):
    response = handle_query(b"{not json", "application/json", make_context(reader, NOW))
    assert response.status == 400
    assert json.loads(response.body)["message"].startswith("failed to decode request body:")


def test_functions_and_variables_defined_in_the_query(reader):
    q = (
        "hot = (t) => t > 27.0\n"
        "pick = (tables=<-, f) => tables |> filter(fn: (r) => r._field == f)\n"
        f'{ENV} |> pick(f: "temperature") |> filter(fn: (r) => hot(t: r._value))'
    )
    assert values(reader, q, ["_value"]) == [[28.0], [29.0]]


@pytest.mark.parametrize(
    "expression",
    [
        "1 + 2 * 3 == 7",
        "10 / 3 == 3 and -7 / 2 == -3 and -7 % 3 == -1",
        "1.5 * 2.0 == 3.0",
        '"a" + "b" == "ab"',
        "2024-01-01T00:00:00Z + 1h30m == 2024-01-01T01:30:00Z",
        "2024-01-31T00:00:00Z + 1mo == 2024-02-29T00:00:00Z",
        "now() - 1h == 2024-01-01T00:00:00Z",
        "not false and exists r._value and not exists r.nothing",
        "[1, 2, 3][1] == 2 and {a: 1, b: 2}.b == 2",
        "if 1 > 2 then false else true",
        '"sensor-12" =~ /^sensor-\\d+$/ and "x" !~ /y/',
    ],
)
def test_expressions_evaluate_like_flux(reader, expression):
    q = ENV + f' |> filter(fn: (r) => r.device == "dev-2" and ({expression}))'
    assert len(values(reader, q, ["_value"])) == 3


def test_aggregate_window_time_source_and_period(reader):
    base = (
        SRC + ' |> filter(fn: (r) => r.device == "dev-1" and r._field == "humidity")'
        " |> range(start: 2024-01-01T00:00:00Z, stop: 2024-01-01T00:10:00Z)"
    )
    q = base + ' |> aggregateWindow(every: 5m, fn: first, timeSrc: "_start")'
    assert values(reader, q, ["_time", "_value"]) == [[at(0), 40], [at(5), 45]]
    # 10-minute windows every 5 minutes overlap: each point lands in two windows.
    q = base + " |> aggregateWindow(every: 5m, period: 10m, fn: count)"
    assert values(reader, q, ["_time", "_value"]) == [[at(5), 5], [at(10), 10], [at(10), 5]]


def test_pushed_down_and_flux_level_aggregates_order_columns_like_influxdb(reader):
    pushed = tables(reader, ENV + ' |> filter(fn: (r) => r._field == "humidity") |> count()')
    assert [c.label for c in pushed[0].columns][2:] == [
        "_start",
        "_stop",
        "_value",
        "_field",
        "_measurement",
        "device",
    ]
    regrouped = ENV + ' |> filter(fn: (r) => r._field == "humidity")'
    regrouped += ' |> group(columns: ["device", "_field"]) |> count()'
    flux_level = tables(reader, regrouped)
    assert [c.label for c in flux_level[0].columns][2:] == ["_field", "device", "_value"]


def test_a_filter_with_thousands_of_alternatives_still_runs(reader):
    ids = " or ".join(f'r.device == "dev-{i}"' for i in range(3000))
    q = SRC + f" |> filter(fn: (r) => {ids}) |> last()"
    assert values(reader, q, ["device", "_field"]) == [
        ["dev-1", "humidity"],
        ["dev-1", "temperature"],
        ["dev-2", "temperature"],
    ]
