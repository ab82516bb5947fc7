"""Decoding of ``POST /api/v2/query`` bodies (``flux/request.py``, ``flux/extern.py``): JSON and
raw bodies, dialects, ``now``, ``extern`` params, and the shape of the error body.

The tests with the ``db`` fixture run on both paths of ``flux`` (engine, and HTTP through the
client); the others call the engine directly.
"""

from __future__ import annotations

import json

import pytest

from tests.localinflux.flux_dataset import DATA, NOW, SRC, T0, at
from tests.localinflux.flux_fakes import NS, FakeReader, client_tables, run


@pytest.fixture
def db(flux):
    flux.load(DATA)
    return flux


def test_params_arrive_as_extern_options(db):
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
    result = db.tables(q, now=NOW, extern=extern)
    assert [t.records[0].get_value() for t in result] == [10.5]
    assert result[0].records[0].get_start() == at(0)


def test_now_can_be_overridden_by_the_request(db):
    q = 'from(bucket: "iot") |> range(start: -5m) |> filter(fn: (r) => r._field == "humidity")'
    result = db.tables(q, now="2024-01-01T00:05:00Z")
    assert [r.get_value() for t in result for r in t.records] == [
        40,
        41,
        42,
        43,
        44,
    ]


def test_it_rejects_a_non_flux_query_type(db):
    status, body = db.error("SELECT 1", type="influxql")
    assert status == 400
    assert body["message"].startswith("failed to decode request body:")


def test_a_raw_flux_body_gets_a_header_only_csv_with_result_names(db):
    q = 'from(bucket: "iot") |> range(start: 0, stop: 2024-01-01T01:00:00Z)'
    q += ' |> filter(fn: (r) => r._field == "key") |> last()'
    reply = db.post(q.encode(), "application/vnd.flux")
    assert reply.status == 200
    lines = reply.body.decode().split("\r\n")
    assert lines[0] == ",result,table,_start,_stop,_time,_value,_field,_measurement,deviceId"
    assert lines[1].startswith(",_result,0,1970-01-01T00:00:00Z,2024-01-01T01:00:00Z,")


@pytest.mark.parametrize(
    ("dialect", "message"),
    [
        ({"delimiter": ";;"}, "delimiter"),
        ({"annotations": ["datatype", "bogus"]}, "bogus"),
        ({"dateTimeFormat": "unix"}, "dateTimeFormat"),
    ],
)
def test_bad_dialects_are_rejected(db, dialect, message):
    reply = db.post(json.dumps({"query": SRC, "dialect": dialect}).encode())
    assert reply.status == 400
    assert message in reply.json["message"]


def test_a_malformed_body_is_a_decode_error(db):
    reply = db.post(b"{not json")
    assert reply.status == 400
    assert reply.json["message"].startswith("failed to decode request body:")


def test_a_query_error_body_is_compact_html_escaped_json_without_a_newline():
    """InfluxDB writes it with Go's json.Marshal: what a client byte-compares or logs."""
    reply, _ = run(FakeReader(), 'from(bucket: "<a&b>") |> range(start: -1h)')
    assert reply.status == 404
    assert reply.body == (
        b'{"code":"not found","message":"failed to initialize execute state: '
        b'could not find bucket \\"\\u003ca\\u0026b\\u003e\\""}'
    )
    assert reply.content_type == "application/json; charset=utf-8"


# -- extern: every AST node InfluxDB accepts, not only the literals the client writes ---------
B = "0000000000000001"


def option(name, init):
    return {
        "type": "OptionStatement",
        "assignment": {
            "type": "VariableAssignment",
            "id": {"type": "Identifier", "name": name},
            "init": init,
        },
    }


def ident(name):
    return {"type": "Identifier", "name": name}


def string(value):
    return {"type": "StringLiteral", "value": value}


def call(callee, **args):
    node = {"type": "CallExpression", "callee": callee, "arguments": []}
    if args:
        props = [{"type": "Property", "key": ident(k), "value": v} for k, v in args.items()]
        node["arguments"] = [{"type": "ObjectExpression", "properties": props}]
    return node


HOUR = {"type": "DurationLiteral", "values": [{"magnitude": 1, "unit": "h"}]}


@pytest.fixture
def reader():
    r = FakeReader()
    r.add(B, "m", {"dev": "a"}, "v", [(T0 + i * 600 * NS, float(i)) for i in range(6)])
    r.add(B, "m", {"dev": "b"}, "v", [(T0, 100.0)])
    return r


def values_of(reader, query, *statements):
    extern = {"type": "File", "imports": [], "body": list(statements)}
    reply, _ = run(reader, query, now=NOW, extern=extern)
    assert reply.status == 200, reply.body
    return [row["_value"] for table in client_tables(reply.body) for row in table.records]


QUERY = 'from(bucket: "iot") |> range(start: since) |> filter(fn: (r) => r.dev == "a")'


def test_a_call_expression_of_now_binds_the_request_time(reader):
    since = {"type": "BinaryExpression", "operator": "-", "left": call(ident("now")), "right": HOUR}
    assert values_of(reader, QUERY, option("since", since)) == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    minus_30m = {
        "type": "BinaryExpression",
        "operator": "-",
        "left": call(ident("now")),
        "right": {"type": "DurationLiteral", "values": [{"magnitude": 30, "unit": "m"}]},
    }
    assert values_of(reader, QUERY, option("since", minus_30m)) == [3.0, 4.0, 5.0]


def test_member_index_logical_conditional_and_paren_expressions(reader):
    settings = {
        "type": "ObjectExpression",
        "properties": [
            {"type": "Property", "key": ident("device"), "value": string("a")},
            {"type": "Property", "key": string("lookback"), "value": HOUR},
            {
                "type": "Property",
                "key": ident("limits"),
                "value": {
                    "type": "ArrayExpression",
                    "elements": [
                        {"type": "IntegerLiteral", "value": "2"},
                        {"type": "IntegerLiteral", "value": "4"},
                    ],
                },
            },
        ],
    }
    pick = {
        "type": "ConditionalExpression",
        "test": {
            "type": "LogicalExpression",
            "operator": "and",
            "left": {"type": "BooleanLiteral", "value": True},
            "right": {
                "type": "ParenExpression",
                "expression": {
                    "type": "BinaryExpression",
                    "operator": "==",
                    "left": {
                        "type": "MemberExpression",
                        "object": ident("settings"),
                        "property": ident("device"),
                    },
                    "right": string("a"),
                },
            },
        },
        "consequent": {
            "type": "IndexExpression",
            "array": {
                "type": "MemberExpression",
                "object": ident("settings"),
                "property": string("limits"),
            },
            "index": {"type": "IntegerLiteral", "value": "1"},
        },
        "alternate": {"type": "IntegerLiteral", "value": "0"},
    }
    query = (
        'from(bucket: "iot") |> range(start: -settings.lookback)'
        " |> filter(fn: (r) => r.dev == settings.device) |> limit(n: n)"
    )
    got = values_of(reader, query, option("settings", settings), option("n", pick))
    assert got == [0.0, 1.0, 2.0, 3.0]


def test_a_function_and_a_pipe_expression_in_the_extern(reader):
    # keepDevice = (tables=<-, d) => tables |> filter(fn: (r) => r.dev == d)
    fn = {
        "type": "FunctionExpression",
        "params": [
            {"type": "Property", "key": ident("tables"), "value": {"type": "PipeLiteral"}},
            {"type": "Property", "key": ident("d")},
        ],
        "body": {
            "type": "Block",
            "body": [
                {
                    "type": "ReturnStatement",
                    "argument": {
                        "type": "PipeExpression",
                        "argument": ident("tables"),
                        "call": call(
                            ident("filter"),
                            fn={
                                "type": "FunctionExpression",
                                "params": [{"type": "Property", "key": ident("r")}],
                                "body": {
                                    "type": "BinaryExpression",
                                    "operator": "==",
                                    "left": {
                                        "type": "MemberExpression",
                                        "object": ident("r"),
                                        "property": ident("dev"),
                                    },
                                    "right": ident("d"),
                                },
                            },
                        ),
                    },
                }
            ],
        },
    }
    query = 'from(bucket: "iot") |> range(start: -1h) |> keepDevice(d: "b")'
    assert values_of(reader, query, option("keepDevice", fn)) == [100.0]


@pytest.mark.parametrize(
    ("init", "message"),
    [
        ({"type": "StringExpression", "parts": []}, "unsupported extern expression"),
        ({"type": "CallExpression"}, "invalid extern CallExpression"),
        ({"type": "DateTimeLiteral", "value": "yesterday"}, "invalid extern DateTimeLiteral"),
        ("now()", "extern expression must be an object"),
    ],
)
def test_an_extern_the_engine_cannot_read_is_a_clear_400(reader, init, message):
    extern = {"imports": [], "body": [option("x", init)]}
    reply, _ = run(reader, "x", extern=extern)
    assert reply.status == 400
    body = json.loads(reply.body)
    assert body["message"].startswith("failed to decode request body: ")
    assert message in body["message"]
