"""Byte-exact annotated CSV, as InfluxDB 2.7 writes it and influxdb-client reads it."""

from localinflux.flux import tables as T
from localinflux.flux.csvout import Dialect, encode
from localinflux.flux.errors import FluxError
from localinflux.flux.values import format_float, format_time
from tests.localinflux.flux_fakes import NS, FakeReader, client_tables, csv_text, run

B = "0000000000000001"
T0 = 1704067200 * NS  # 2024-01-01T00:00:00Z
NOW = T0 + 3600 * NS
CLIENT = Dialect(annotations=["datatype", "group", "default"])


def lines(*rows):
    return "".join(row + "\r\n" for row in rows)


def climate():
    r = FakeReader()
    r.add(B, "climate", {"room": "kitchen"}, "humidity", [(T0 + 3510 * NS, 40)])
    r.add(B, "climate", {"room": "kitchen"}, "temperature", [(T0 + 3540 * NS + NS // 2, 21.5)])
    return r


LAST = 'from(bucket: "iot") |> range(start: 2024-01-01T00:00:00Z) |> last()'


def test_a_schema_change_starts_a_new_annotation_block():
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
    assert csv_text(climate(), LAST, now="2024-01-01T01:00:00Z") == expected


def test_tables_of_one_schema_share_one_block():
    r = climate()
    r.add(B, "climate", {"room": "hall"}, "temperature", [(T0 + 60 * NS, 19.0)])
    text = csv_text(
        r, LAST + ' |> filter(fn: (r) => r._field == "temperature")', now="2024-01-01T01:00:00Z"
    )
    assert text == lines(
        "#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339,double,string,string,string",
        "#group,false,false,true,true,false,false,true,true,true",
        "#default,_result,,,,,,,,",
        ",result,table,_start,_stop,_time,_value,_field,_measurement,room",
        ",,0,2024-01-01T00:00:00Z,2024-01-01T01:00:00Z,2024-01-01T00:01:00Z,19,temperature,climate,hall",
        ",,1,2024-01-01T00:00:00Z,2024-01-01T01:00:00Z,2024-01-01T00:59:00.5Z,21.5,temperature,climate,kitchen",
        "",
    )  # fmt: skip


def test_no_data_is_a_single_line_ending():
    response, ctx = run(climate(), LAST + ' |> filter(fn: (r) => r.room == "attic")', now_ns=NOW)
    assert response.status == 200
    assert response.content_type == "text/csv; charset=utf-8"
    assert response.body == b"\r\n"
    assert ctx.rows_returned == 0
    assert client_tables(response.body) == []


def test_each_yield_is_its_own_result_with_table_ids_from_zero():
    q = (
        'data = from(bucket: "iot") |> range(start: 2024-01-01T00:00:00Z)'
        ' |> filter(fn: (r) => r._field == "humidity")\n'
        'data |> count() |> yield(name: "n")\n'
        'data |> keep(columns: ["_value"]) |> yield(name: "v")'
    )
    text = csv_text(climate(), q, now="2024-01-01T01:00:00Z")
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
    assert body.decode().endswith(
        lines(
            ",,0,1",
            "",
            "",
            "#datatype,string,string",
            "#group,true,true",
            "#default,,",
            ",error,reference",
            ",runtime error: boom,",
        )
    )


def test_a_runtime_error_before_any_output_is_a_json_error():
    q = LAST + ' |> filter(fn: (r) => r._value > "x")'
    response, _ = run(climate(), q, now_ns=NOW)
    assert response.status == 400
    assert response.content_type == "application/json; charset=utf-8"
    assert b"cannot compare" in response.body


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
    assert format_time(T0) == "2024-01-01T00:00:00Z"
    assert format_time(T0 + 785_000_400) == "2024-01-01T00:00:00.7850004Z"
    assert format_time(-1) == "1969-12-31T23:59:59.999999999Z"


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
