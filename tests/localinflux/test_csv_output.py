"""Byte-exact annotated CSV, as InfluxDB 2.7 writes it and influxdb-client reads it.

The tests taking ``flux`` run twice: straight into the engine, and end to end (points written
through influxdb-client to a real server, the CSV read back over HTTP). The encoder tests below
them build tables by hand, which only the engine-level API can do.
"""

import pytest

from localinflux.flux import tables as T
from localinflux.flux.csvout import Dialect, encode
from localinflux.flux.errors import FluxError
from localinflux.flux.values import format_float
from localinflux.timefmt import format_rfc3339
from tests.localinflux.flux_fakes import NS, client_tables

T0 = 1704067200 * NS  # 2024-01-01T00:00:00Z
NOW = "2024-01-01T01:00:00Z"
CLIENT = Dialect(annotations=["datatype", "group", "default"])

CLIMATE = [
    ("climate", {"room": "kitchen"}, "humidity", [(T0 + 3510 * NS, 40)]),
    ("climate", {"room": "kitchen"}, "temperature", [(T0 + 3540 * NS + NS // 2, 21.5)]),
]


def lines(*rows):
    return "".join(row + "\r\n" for row in rows)


def error_table(message: str) -> tuple[str, ...]:
    """The rows that end a response whose query failed after output started: two empty rows,
    then an error table with the message."""
    return (
        "",
        "",
        "#datatype,string,string",
        "#group,true,true",
        "#default,,",
        ",error,reference",
        f",{message},",
    )


@pytest.fixture
def db(flux):
    flux.load(CLIMATE)
    return flux


LAST = 'from(bucket: "iot") |> range(start: 2024-01-01T00:00:00Z) |> last()'


def test_a_schema_change_starts_a_new_annotation_block(db):
    expected = lines(
        "#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339,long,string,string,string",
        "#group,false,false,true,true,false,false,true,true,true",
        "#default,_result,,,,,,,,",
        ",result,table,_start,_stop,_time,_value,_field,_measurement,room",
        ",,0,2024-01-01T00:00:00Z,2024-01-01T01:00:00Z,2024-01-01T00:58:30Z,40,humidity,climate,kitchen",
        "",
        "#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339,double,string,string,string",
        "#group,false,false,true,true,false,false,true,true,true",
        "#default,_result,,,,,,,,",
        ",result,table,_start,_stop,_time,_value,_field,_measurement,room",
        ",,1,2024-01-01T00:00:00Z,2024-01-01T01:00:00Z,2024-01-01T00:59:00.5Z,21.5,temperature,climate,kitchen",
        "",
    )  # fmt: skip
    assert db.csv(LAST, now=NOW) == expected


def test_tables_of_one_schema_share_one_block(db):
    db.load([("climate", {"room": "hall"}, "temperature", [(T0 + 60 * NS, 19.0)])])
    text = db.csv(LAST + ' |> filter(fn: (r) => r._field == "temperature")', now=NOW)
    assert text == lines(
        "#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339,double,string,string,string",
        "#group,false,false,true,true,false,false,true,true,true",
        "#default,_result,,,,,,,,",
        ",result,table,_start,_stop,_time,_value,_field,_measurement,room",
        ",,0,2024-01-01T00:00:00Z,2024-01-01T01:00:00Z,2024-01-01T00:01:00Z,19,temperature,climate,hall",
        ",,1,2024-01-01T00:00:00Z,2024-01-01T01:00:00Z,2024-01-01T00:59:00.5Z,21.5,temperature,climate,kitchen",
        "",
    )  # fmt: skip


def test_no_data_is_a_single_line_ending(db):
    reply = db.request(LAST + ' |> filter(fn: (r) => r.room == "attic")', now=NOW)
    assert reply.status == 200
    assert reply.content_type == "text/csv; charset=utf-8"
    assert reply.body == b"\r\n"
    assert db.rows_returned == 0
    assert client_tables(reply.body) == []
    # What the client's own query call makes of it.
    assert db.tables(LAST + ' |> filter(fn: (r) => r.room == "attic")') == []


def test_each_yield_is_its_own_result_with_table_ids_from_zero(db):
    q = (
        'data = from(bucket: "iot") |> range(start: 2024-01-01T00:00:00Z)'
        ' |> filter(fn: (r) => r._field == "humidity")\n'
        'data |> count() |> yield(name: "n")\n'
        'data |> keep(columns: ["_value"]) |> yield(name: "v")'
    )
    text = db.csv(q, now=NOW)
    assert text == lines(
        "#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,long,string,string,string",
        "#group,false,false,true,true,false,true,true,true",
        "#default,n,,,,,,,",
        ",result,table,_start,_stop,_value,_field,_measurement,room",
        ",,0,2024-01-01T00:00:00Z,2024-01-01T01:00:00Z,1,humidity,climate,kitchen",
        "",
        "#datatype,string,long,long",
        "#group,false,false,false",
        "#default,v,,",
        ",result,table,_value",
        ",,0,40",
        "",
    )
    assert db.rows_returned == 2


def test_a_runtime_error_before_any_output_is_a_json_error(db):
    reply = db.request(LAST + ' |> filter(fn: (r) => r._value > "x")')
    assert reply.status == 400
    assert reply.content_type == "application/json; charset=utf-8"
    assert reply.json["code"] == "invalid"
    assert "cannot compare" in reply.json["message"]


def test_a_runtime_error_after_the_first_result_becomes_an_in_stream_error_table(db):
    q = (
        'data = from(bucket: "iot") |> range(start: 2024-01-01T00:00:00Z)\n'
        'data |> filter(fn: (r) => r._field == "humidity") |> yield(name: "ok")\n'
        'data |> filter(fn: (r) => r._field == "temperature" and r._value > "x")'
        ' |> yield(name: "bad")'
    )  # the comparison sits at line 3, columns 57 to 71
    reply = db.request(q, now=NOW)
    assert reply.status == 200
    assert reply.body.decode() == lines(
        "#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339,long,string,string,string",
        "#group,false,false,true,true,false,false,true,true,true",
        "#default,ok,,,,,,,,",
        ",result,table,_start,_stop,_time,_value,_field,_measurement,room",
        ",,0,2024-01-01T00:00:00Z,2024-01-01T01:00:00Z,2024-01-01T00:58:30Z,40,humidity,climate,kitchen",
        *error_table("error @3:57-3:71: cannot compare float with string"),
    )  # fmt: skip


def test_field_and_tag_text_is_quoted_only_where_csv_needs_it(flux):
    flux.load(
        [
            ("notes", {"room": "hall, east"}, "text", [(T0, 'say "hi"')]),
            ("notes", {"room": "living room"}, "text", [(T0, " lead, comma")]),
        ]
    )
    # keep() leaves the columns in the table's order: _value before the tag.
    q = 'from(bucket: "iot") |> range(start: 0) |> keep(columns: ["room", "_value"])'
    assert flux.csv(q) == lines(
        "#datatype,string,long,string,string",
        "#group,false,false,false,true",
        "#default,_result,,,",
        ",result,table,_value,room",
        ',,0,"say ""hi""","hall, east"',
        ',,1," lead, comma",living room',
        "",
    )


def test_escaped_keys_round_trip_and_key_columns_sort_bytewise(flux):
    # Line protocol escapes the space, comma and equals signs; the CSV shows them plain. An
    # uppercase tag key sorts before "_field" (bytewise), fields sort within the series.
    tags = {"Site": "a=b", "room": "x y"}
    flux.load(
        [
            ("my env", tags, "temp C", [(T0, 1.5)]),
            ("my env", tags, "n", [(T0 - NS, 2)]),
        ]
    )
    q = 'from(bucket: "iot") |> range(start: 2023-12-31T00:00:00Z, stop: 2024-01-02T00:00:00Z)'
    q += ' |> filter(fn: (r) => r.Site == "a=b" and r._measurement == "my env")'
    assert flux.csv(q) == lines(
        "#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339,long,string,string,string,string",
        "#group,false,false,true,true,false,false,true,true,true,true",
        "#default,_result,,,,,,,,,",
        ",result,table,_start,_stop,_time,_value,Site,_field,_measurement,room",
        ",,0,2023-12-31T00:00:00Z,2024-01-02T00:00:00Z,2023-12-31T23:59:59Z,2,a=b,n,my env,x y",
        "",
        "#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339,double,string,string,string,string",
        "#group,false,false,true,true,false,false,true,true,true,true",
        "#default,_result,,,,,,,,,",
        ",result,table,_start,_stop,_time,_value,Site,_field,_measurement,room",
        ",,1,2023-12-31T00:00:00Z,2024-01-02T00:00:00Z,2024-01-01T00:00:00Z,1.5,"
        "a=b,temp C,my env,x y",
        "",
    )  # fmt: skip


def test_floats_booleans_and_nanosecond_times_print_like_go(flux):
    floats = [1.0, 0.1, 1e21, 1.5e-7, -2.5]
    flux.load(
        [
            ("m", {}, "f", [(T0 + i * NS, v) for i, v in enumerate(floats)]),
            ("m", {}, "ok", [(T0 + 785_000_400, True), (T0 + NS, False)]),
        ]
    )
    q = 'from(bucket: "iot") |> range(start: 0) |> keep(columns: ["_time", "_value"])'
    assert flux.csv(q) == lines(
        "#datatype,string,long,dateTime:RFC3339,double",
        "#group,false,false,false,false",
        "#default,_result,,,",
        ",result,table,_time,_value",
        ",,0,2024-01-01T00:00:00Z,1",
        ",,0,2024-01-01T00:00:01Z,0.1",
        ",,0,2024-01-01T00:00:02Z,1000000000000000000000",
        ",,0,2024-01-01T00:00:03Z,0.00000015",
        ",,0,2024-01-01T00:00:04Z,-2.5",
        "",
        "#datatype,string,long,dateTime:RFC3339,boolean",
        "#group,false,false,false,false",
        "#default,_result,,,",
        ",result,table,_time,_value",
        ",,1,2024-01-01T00:00:00.7850004Z,true",
        ",,1,2024-01-01T00:00:01Z,false",
        "",
    )


def test_nulls_are_empty_cells_and_strings_are_quoted_like_go():
    table = T.Table(
        ["_value", "note", "flag"],
        [T.DOUBLE, T.STRING, T.BOOL],
        [],
        {},
        [[None, 2.0], ['say "hi", then\nleave', " lead"], [True, None]],
    )
    body, rows = encode([("_result", lambda: [table])], CLIENT)
    assert rows == 2
    assert body.decode() == lines(
        "#datatype,string,long,double,string,boolean",
        "#group,false,false,false,false,false",
        "#default,_result,,,,",
        ",result,table,_value,note,flag",
        ',,0,,"say ""hi"", then\r\nleave",true',
        ',,0,2," lead",',
        "",
    )
    parsed = client_tables(body)
    # Go's CSV writer turns a newline inside a quoted cell into CRLF; clients see it that way.
    assert parsed[0].records[0]["note"] == 'say "hi", then\r\nleave'
    assert parsed[0].records[0]["_value"] is None


def test_an_error_after_output_started_becomes_an_error_table():
    ok = T.Table(["_value"], [T.LONG], [], {}, [[1]])

    def failing():
        raise FluxError("runtime error: boom")

    body, _ = encode([("a", lambda: [ok]), ("b", failing)], CLIENT)
    assert body.decode().endswith(lines(",,0,1", *error_table("runtime error: boom")))


def test_an_empty_table_writes_its_key_in_the_default_row():
    empty = T.Table(
        ["_start", "_value", "host"], [T.TIME, T.DOUBLE, T.STRING], ["host"], {"host": "a"}, []
    )
    empty.data = [[], [], []]
    body, rows = encode([("_result", lambda: [empty])], CLIENT)
    assert rows == 0
    assert body.decode() == lines(
        "#datatype,string,long,dateTime:RFC3339,double,string",
        "#group,false,false,false,false,true",
        "#default,_result,0,,,a",
        ",result,table,_start,_value,host",
        "",
    )


def test_dialect_options_change_delimiter_annotations_and_header():
    table = T.Table(["_value"], [T.STRING], [], {}, [["a;b"]])
    body, _ = encode(
        [("r", lambda: [table])], Dialect(header=False, delimiter=";", annotations=["group"])
    )
    assert body.decode() == lines("#group;false;false;false", ';r;0;"a;b"', "")


def test_floats_and_times_print_like_go():
    assert format_float(1.0) == "1"
    assert format_float(0.1) == "0.1"
    assert format_float(1e21) == "1000000000000000000000"
    assert format_float(1.5e-7) == "0.00000015"
    assert format_float(-2.5) == "-2.5"
    assert format_float(float("nan")) == "NaN"
    assert format_float(float("inf")) == "+Inf"
    assert format_rfc3339(T0) == "2024-01-01T00:00:00Z"
    assert format_rfc3339(T0 + 785_000_400) == "2024-01-01T00:00:00.7850004Z"
    assert format_rfc3339(-1) == "1969-12-31T23:59:59.999999999Z"


def test_a_group_key_change_alone_continues_the_block():
    # Flux compares column labels and types only when deciding to repeat the annotations.
    a = T.Table(["_value", "host"], [T.LONG, T.STRING], ["host"], {"host": "a"}, [[1], ["a"]])
    b = T.Table(["_value", "host"], [T.LONG, T.STRING], [], {}, [[2], ["b"]])
    body, _ = encode([("_result", lambda: [a, b])], CLIENT)
    assert body.decode() == lines(
        "#datatype,string,long,long,string",
        "#group,false,false,false,true",
        "#default,_result,,,",
        ",result,table,_value,host",
        ",,0,1,a",
        ",,1,2,b",
        "",
    )


def test_an_error_table_keeps_its_header_and_skips_the_blank_line_without_tables():
    def failing():
        raise FluxError("boom")

    body, _ = encode(
        [("a", lambda: []), ("b", failing)], Dialect(header=False, annotations=["datatype"])
    )
    assert body.decode() == lines("", "#datatype,string,string", ",error,reference", ",boom,")


@pytest.mark.parametrize("repeats", [1, 4])
def test_double_columns_print_like_go_whether_values_repeat_or_not(repeats):
    # Counts repeat one value down a column, sums rarely do; nulls are pivot's missing cells.
    values = [120.0, -0.0, 0.0, 1e21, 3.0e-7, 2.5, None, float("nan"), float("-inf"), 7.0]
    expected = ["120", "0", "0", "1000000000000000000000", "0.0000003", "2.5", "", "NaN"]
    expected += ["-Inf", "7"]
    for column, cells in ((values, expected), ([v for v in values if v is not None], None)):
        cells = cells or [c for c in expected if c]
        column, cells = column * repeats, cells * repeats
        table = T.Table(["_value"], [T.DOUBLE], [], {}, [column])
        body, _ = encode([("_result", lambda t=table: [t])], Dialect())
        assert body.decode().split("\r\n")[1:-2] == [f",_result,0,{c}" for c in cells]
    whole = T.Table(["_value"], [T.DOUBLE], [], {}, [[-0.0, 1.0, -0.0, 10.0, 100.0, -0.0]])
    body, _ = encode([("_result", lambda: [whole])], Dialect())
    assert body.decode().split("\r\n")[1:-2] == [
        f",_result,0,{c}" for c in ("0", "1", "0", "10", "100", "0")
    ]
