"""Each built-in Flux function against hand-computed tables, read back through influxdb-client's
parser (the built-ins: ``localinflux/flux/builtins/``, reads planned by ``flux/plan/``).

Every test runs twice (see the ``flux`` fixture): straight into the engine, and end to end, the
same points written to a real server through influxdb-client and queried over HTTP.
"""

import pytest

from tests.localinflux.flux_dataset import DATA, ENV, MIN, NOW, SRC, T0, at, values
from tests.localinflux.flux_fakes import NS


@pytest.fixture
def db(flux):
    flux.load(DATA)
    return flux


def test_it_returns_the_newest_point_of_each_series_and_field(db):
    result = db.tables(ENV + " |> last()")
    assert [(t.records[0]["device"], t.records[0].get_field()) for t in result] == [
        ("dev-1", "humidity"),
        ("dev-1", "temperature"),
        ("dev-2", "temperature"),
    ]
    assert [t.records[0].get_value() for t in result] == [49, 29.0, 10.5]
    assert result[0].records[0].get_time() == at(9)
    keys = [c.label for c in result[0].columns if c.group]
    assert keys == ["_start", "_stop", "_field", "_measurement", "device"]


def test_it_prunes_series_by_key_and_reads_only_one_point_for_last(db):
    result = db.tables(ENV + ' |> filter(fn: (r) => r.device == "dev-2") |> last()')
    assert [(r["device"], r.get_time(), r.get_value()) for t in result for r in t.records] == [
        ("dev-2", at(2), 10.5)
    ]
    assert db.rows_returned == 1


def test_it_filters_rows_on_values_and_treats_a_missing_column_as_false(db):
    rows = values(
        db,
        ENV + ' |> filter(fn: (r) => r._field == "temperature" and r._value >= 28.0)',
        ["device", "_value"],
    )
    assert rows == [["dev-1", 28.0], ["dev-1", 29.0]]
    assert db.tables(SRC + ' |> filter(fn: (r) => r.nosuchtag == "x")') == []
    assert len(db.tables(SRC + ' |> filter(fn: (r) => r.nosuchtag != "x")')) == 0


def test_it_supports_regex_or_and_not_in_filters(db):
    rows = values(
        db,
        SRC + ' |> filter(fn: (r) => r.device =~ /-2$/ or not (r._measurement != "deviceauth"))'
        " |> last()",
        ["_measurement", "_field"],
    )
    assert rows == [["deviceauth", "key"], ["deviceauth", "token"], ["environment", "temperature"]]


def test_range_includes_start_excludes_stop_and_accepts_unix_seconds(db):
    start = (T0 + 2 * MIN) // NS
    stop = (T0 + 5 * MIN) // NS
    q = (
        f'from(bucket: "iot") |> range(start: {start}, stop: {stop})'
        ' |> filter(fn: (r) => r.device == "dev-1" and r._field == "humidity")'
    )
    assert values(db, q, ["_value"]) == [[42], [43], [44]]
    rec = db.tables(q)[0].records[0]
    assert rec.get_start() == at(2)
    assert rec.get_stop() == at(5)
    q2 = 'from(bucket: "iot") |> range(start: 2024-01-01T00:08:00Z, stop: -51m) |> last()'
    assert values(db, q2, ["_value"], now=NOW) == [[48], [28.0]]


def test_first_limit_and_sort(db):
    hum = ENV + ' |> filter(fn: (r) => r._field == "humidity")'
    assert values(db, hum + " |> first()", ["_value"]) == [[40]]
    assert values(db, hum + " |> limit(n: 2, offset: 3)", ["_value"]) == [[43], [44]]
    rows = values(db, hum + ' |> sort(columns: ["_value"], desc: true) |> limit(n: 2)', ["_value"])
    assert rows == [[49], [48]]


def test_group_and_max_time_give_each_devices_last_report(db):
    q = ENV + ' |> keep(columns: ["_time", "device"]) |> group(columns: ["device"])'
    result = db.tables(q + ' |> max(column: "_time")')
    assert [[r["device"], r.get_time()] for t in result for r in t.records] == [
        ["dev-1", at(9)],
        ["dev-2", at(2)],
    ]
    assert [c.label for c in result[0].columns] == ["result", "table", "_time", "device"]
    temps = ENV + ' |> filter(fn: (r) => r._field == "temperature")'
    merged = db.tables(temps + " |> group() |> count()")
    assert len(merged) == 1
    assert merged[0].records[0].get_value() == 13
    assert not any(c.group for c in merged[0].columns)


def test_group_except_keeps_the_other_columns_in_the_key(db):
    q = ENV + ' |> count() |> group(columns: ["_value", "_field"], mode: "except") |> sum()'
    result = db.tables(q)
    assert [(t.records[0]["device"], t.records[0].get_value()) for t in result] == [
        ("dev-1", 20),
        ("dev-2", 3),
    ]


def test_keep_drop_and_rename_reshape_columns(db):
    q = ENV + ' |> last() |> drop(columns: ["_start", "_stop"]) |> rename(columns: {device: "id"})'
    result = db.tables(q)
    assert [c.label for c in result[0].columns][2:] == [
        "_time",
        "_value",
        "_field",
        "_measurement",
        "id",
    ]
    assert result[0].records[0]["id"] == "dev-1"
    kept = db.tables(ENV + ' |> last() |> keep(fn: (column) => column == "_value")')
    assert [c.label for c in kept[0].columns] == ["result", "table", "_value"]


def test_pivot_turns_fields_into_columns_of_one_row(db):
    q = (
        SRC + ' |> filter(fn: (r) => r._measurement == "deviceauth" and r.deviceId == "dev-1")'
        ' |> last() |> pivot(rowKey: ["deviceId"], columnKey: ["_field"], valueColumn: "_value")'
    )
    result = db.tables(q)
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


def test_pivot_on_time_leaves_missing_cells_null(db):
    q = ENV + ' |> filter(fn: (r) => r.device == "dev-1")'
    q += ' |> filter(fn: (r) => r._field == "humidity" or r._value < 22.5)'
    q += ' |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")'
    result = db.tables(q)
    assert len(result) == 1
    rows = [[r.get_time(), r["humidity"], r["temperature"]] for r in result[0].records]
    assert rows[0] == [at(0), 40, 20.0]
    assert rows[3] == [at(3), 43, None]
    assert len(rows) == 10


def test_pivot_rows_come_in_order_of_first_appearance_with_nulls_where_a_series_lacks_one(db):
    # humidity (the first table) has minutes 5-9 only; temperature brings 0-4 after them.
    q = ENV + ' |> filter(fn: (r) => r.device == "dev-1")'
    q += ' |> filter(fn: (r) => r._field == "temperature" or r._value >= 45)'
    q += ' |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")'
    rows = [(r.get_time(), r["humidity"], r["temperature"]) for r in db.tables(q)[0].records]
    assert rows == [(at(m), 40 + m, 20.0 + m) for m in range(5, 10)] + [
        (at(m), None, 20.0 + m) for m in range(5)
    ]
    # The column key not in the group key: each row names its own column.
    q = ENV + ' |> filter(fn: (r) => r._field == "temperature") |> group()'
    q += ' |> pivot(rowKey: ["_time"], columnKey: ["device"], valueColumn: "_value")'
    rows = [(r.get_time(), r["dev-1"], r["dev-2"]) for r in db.tables(q)[0].records]
    assert rows == [(at(m), 20.0 + m, 10.5 if m < 3 else None) for m in range(10)]


def test_pivot_columns_of_tables_with_the_first_tables_times_fill_the_rows_they_share(db):
    # dev-1 humidity has minutes 0-2, dev-1 temperature brings 3-9, dev-2 has 0-2 again.
    q = ENV + ' |> filter(fn: (r) => r._field == "temperature" or r._value < 43)'
    q += ' |> pivot(rowKey: ["_time"], columnKey: ["device", "_field"], valueColumn: "_value")'
    [table] = db.tables(q)
    columns = ("dev-1_humidity", "dev-1_temperature", "dev-2_temperature")
    rows = [(r.get_time(), *(r[c] for c in columns)) for r in table.records]
    assert rows == [(at(m), 40 + m, 20.0 + m, 10.5) for m in range(3)] + [
        (at(m), None, 20.0 + m, None) for m in range(3, 10)
    ]


def test_pivot_on_two_key_columns_after_window_sums_makes_one_row_per_window(db):
    # What the dashboard's rollup read sends: per window, one column per field and stat.
    q = (
        'from(bucket: "iot") |> range(start: 2024-01-01T00:00:00Z, stop: 2024-01-01T00:10:00Z)'
        ' |> filter(fn: (r) => r._measurement == "environment" and r._field == "temperature")'
        " |> aggregateWindow(every: 5m, fn: sum, createEmpty: false)"
        ' |> keep(columns: ["_time", "_value", "_field", "device"])'
        ' |> pivot(rowKey: ["_time"], columnKey: ["_field", "device"], valueColumn: "_value")'
    )
    result = db.tables(q)
    assert len(result) == 1
    assert not [c.label for c in result[0].columns if c.group]
    rows = [
        (r.get_time(), r["temperature_dev-1"], r["temperature_dev-2"]) for r in result[0].records
    ]
    # dev-1: 20+21+22+23+24 and 25+...+29; dev-2: three points of 10.5 in the first window.
    assert rows == [(at(5), 110.0, 31.5), (at(10), 135.0, None)]


def test_aggregate_window_sum_and_count_with_time_src_start_clip_to_the_range(db):
    # What the rollup sends (hours at their start); the first window starts at the range start.
    base = (
        'from(bucket: "iot") |> range(start: 2024-01-01T00:01:30Z, stop: 2024-01-01T00:08:30Z)'
        ' |> filter(fn: (r) => r.device == "dev-1" and r._field == "temperature")'
    )
    for fn, expected in (("sum", [22.0, 72.0, 81.0]), ("count", [1, 3, 3])):
        q = f' |> aggregateWindow(every: 3m, fn: {fn}, createEmpty: false, timeSrc: "_start")'
        result = db.tables(base + q)
        assert [[r.get_time(), r.get_value()] for r in result[0].records] == [
            [t, v] for t, v in zip((at(1, 30), at(3), at(6)), expected, strict=True)
        ]


def test_aggregate_window_mean_uses_window_stops_and_range_bounds(db):
    q = (
        'from(bucket: "iot") |> range(start: 2024-01-01T00:00:00Z, stop: 2024-01-01T00:08:30Z)'
        ' |> filter(fn: (r) => r.device == "dev-1" and r._field == "temperature")'
        " |> aggregateWindow(every: 3m, fn: mean, createEmpty: false)"
    )
    result = db.tables(q)
    assert [[r.get_time(), r.get_value()] for r in result[0].records] == [
        [at(3), 21.0],
        [at(6), 24.0],
        [at(8, 30), 27.0],
    ]
    assert result[0].records[0].get_start() == at(0)
    assert [c.label for c in result[0].columns][2:6] == ["_start", "_stop", "_time", "_value"]


def test_aggregate_window_create_empty_fills_nulls_and_zero_counts(db):
    base = (
        'from(bucket: "iot") |> range(start: 2024-01-01T00:00:00Z, stop: 2024-01-01T00:20:00Z)'
        ' |> filter(fn: (r) => r.device == "dev-2")'
    )
    means = values(db, base + " |> aggregateWindow(every: 5m, fn: mean)", ["_value"])
    assert means == [[10.5], [None], [None], [None]]
    counts = values(db, base + " |> aggregateWindow(every: 5m, fn: count)", ["_value"])
    assert counts == [[3], [0], [0], [0]]
    # Selectors get a null row per empty window too (flux fills empty windows since 2021).
    maxes = values(db, base + " |> aggregateWindow(every: 5m, fn: max)", ["_time", "_value"])
    assert maxes == [[at(5), 10.5], [at(10), None], [at(15), None], [at(20), None]]
    lasts = values(
        db,
        base + " |> aggregateWindow(every: 5m, fn: last, createEmpty: false)",
        ["_time", "_value"],
    )
    assert lasts == [[at(5), 10.5]]


def test_aggregate_window_offset_shifts_the_boundaries(db):
    q = (
        SRC + ' |> filter(fn: (r) => r.device == "dev-1" and r._field == "humidity")'
        " |> aggregateWindow(every: 5m, offset: 2m, fn: sum, createEmpty: false)"
    )
    assert values(db, q, ["_time", "_value"]) == [[at(2), 81], [at(7), 220], [at(12), 144]]


def test_aggregates_and_selectors_per_table(db):
    temp = ENV + ' |> filter(fn: (r) => r._field == "temperature")'
    assert values(db, temp + " |> count()", ["_value"]) == [[10], [3]]
    assert values(db, temp + " |> sum()", ["_value"]) == [[245.0], [31.5]]
    assert values(db, temp + " |> mean()", ["_value"]) == [[24.5], [10.5]]
    assert values(db, temp + " |> min()", ["_value", "_time"]) == [
        [20.0, at(0)],
        [10.5, at(0)],
    ]
    assert values(db, temp + " |> max()", ["_value"]) == [[29.0], [10.5]]
    hum = db.tables(ENV + ' |> filter(fn: (r) => r._field == "humidity") |> mean()')
    assert hum[0].records[0].get_value() == 44.5
    assert {c.label: c.data_type for c in hum[0].columns}["_value"] == "double"


def test_distinct_lists_each_value_once(db):
    q = SRC + ' |> filter(fn: (r) => r._field == "temperature")'
    q += ' |> group() |> distinct(column: "device")'
    assert values(db, q, ["_value"]) == [["dev-1"], ["dev-2"]]


def test_schema_functions_list_tags_fields_and_measurements(db):
    imp = 'import "influxdata/influxdb/schema"\n'
    q = imp + 'schema.tagValues(bucket: "iot", tag: "device", start: 0)'
    assert values(db, q, ["_value"]) == [["dev-1"], ["dev-2"]]
    q = imp + 'schema.fieldKeys(bucket: "iot", start: 0, predicate: (r) => r.device == "dev-2")'
    assert values(db, q, ["_value"]) == [["temperature"]]
    q = imp + 'schema.measurements(bucket: "iot", start: 0)'
    assert values(db, q, ["_value"]) == [["deviceauth"], ["environment"]]
    # The default start is 30 days before now(): these points are older than that.
    reply = db.request(imp + 'schema.measurements(bucket: "iot")', now="2024-02-10T00:00:00Z")
    assert (reply.status, reply.body) == (200, b"\r\n")


def test_it_refuses_an_unbounded_read(db):
    status, body = db.error('from(bucket: "iot") |> filter(fn: (r) => true)')
    assert status == 400
    assert body["message"] == (
        "cannot submit unbounded read to \"iot\"; try bounding 'from' with a call to 'range'"
    )


def test_an_unknown_bucket_is_not_found(db):
    status, body = db.error('from(bucket: "nope") |> range(start: 0)')
    assert status == 404
    assert body == {
        "code": "not found",
        "message": 'failed to initialize execute state: could not find bucket "nope"',
    }


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
def test_row_filters_agree_before_and_after_regrouping(db, predicate):
    # Straight after range the filter runs on storage reads; after group() on generic tables.
    direct = ENV + f" |> filter(fn: (r) => {predicate})"
    regrouped = ENV + f' |> group(columns: ["device", "_field"]) |> filter(fn: (r) => {predicate})'
    columns = ["device", "_field", "_time", "_value"]
    assert sorted(map(str, values(db, direct, columns))) == sorted(
        map(str, values(db, regrouped, columns))
    )
    assert values(db, direct, columns)


def test_measurement_helpers_of_the_schema_package(db):
    imp = 'import "influxdata/influxdb/schema"\n'
    q = imp + 'schema.measurementTagValues(bucket: "iot", measurement: "deviceauth",'
    q += ' tag: "deviceId", start: 0)'
    assert values(db, q, ["_value"]) == [["dev-1"]]
    q = imp + 'schema.measurementFieldKeys(bucket: "iot", measurement: "environment", start: 0)'
    assert values(db, q, ["_value"]) == [["humidity"], ["temperature"]]
    status, body = db.error(imp + 'schema.tagKeys(bucket: "iot")')
    assert status == 400
    assert body["message"] == 'function "schema.tagKeys" is not supported by this server'


def test_aggregate_window_time_source_and_period(db):
    base = (
        SRC + ' |> filter(fn: (r) => r.device == "dev-1" and r._field == "humidity")'
        " |> range(start: 2024-01-01T00:00:00Z, stop: 2024-01-01T00:10:00Z)"
    )
    q = base + ' |> aggregateWindow(every: 5m, fn: first, timeSrc: "_start")'
    assert values(db, q, ["_time", "_value"]) == [[at(0), 40], [at(5), 45]]
    # 10-minute windows every 5 minutes overlap: each point lands in two windows.
    q = base + " |> aggregateWindow(every: 5m, period: 10m, fn: count)"
    assert values(db, q, ["_time", "_value"]) == [[at(5), 5], [at(10), 10], [at(10), 5]]


def test_pushed_down_and_flux_level_aggregates_order_columns_like_influxdb(db):
    pushed = db.tables(ENV + ' |> filter(fn: (r) => r._field == "humidity") |> count()')
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
    flux_level = db.tables(regrouped)
    assert [c.label for c in flux_level[0].columns][2:] == ["_field", "device", "_value"]


def test_a_filter_with_thousands_of_alternatives_still_runs(db):
    ids = " or ".join(f'r.device == "dev-{i}"' for i in range(3000))
    q = SRC + f" |> filter(fn: (r) => {ids}) |> last()"
    assert values(db, q, ["device", "_field"]) == [
        ["dev-1", "humidity"],
        ["dev-1", "temperature"],
        ["dev-2", "temperature"],
    ]


def test_points_written_out_of_order_and_overwritten_read_back_sorted(flux):
    # Three writes: the second goes back in time and overwrites the 00:05 point.
    flux.load([("m", {"d": "a"}, "v", [(T0 + 5 * MIN, 5.0), (T0 + 9 * MIN, 9.0)])])
    flux.load(
        [("m", {"d": "a"}, "v", [(T0 + MIN, 1.0), (T0 + 7 * MIN, 7.0), (T0 + 5 * MIN, 55.0)])]
    )
    flux.load([("m", {"d": "b"}, "v", [(T0 + 20 * MIN, 20.0)])])
    src = 'from(bucket: "iot") |> range(start: 2024-01-01T00:02:00Z, stop: 2024-01-01T00:09:00Z)'

    def rows(pipeline):
        return [(r["d"], r.get_value()) for t in flux.tables(src + pipeline) for r in t.records]

    assert rows("") == [("a", 55.0), ("a", 7.0)]
    assert rows(" |> last()") == [("a", 7.0)]
    assert rows(" |> first()") == [("a", 55.0)]
    assert rows(' |> last() |> keep(columns: ["d", "_value"]) |> group()') == [("a", 7.0)]
    assert rows(' |> filter(fn: (r) => r.d == "b") |> last()') == []
    assert rows(" |> min()") == [("a", 7.0)]
    windows = " |> aggregateWindow(every: 3m, fn: last, createEmpty: false)"
    assert rows(windows) == [("a", 55.0), ("a", 7.0)]
