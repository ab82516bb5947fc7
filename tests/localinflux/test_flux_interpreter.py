"""The language around the built-ins (``flux/interpreter.py``): variables, functions defined in
the query, expressions, options, yields, and the errors for unknown names and bad syntax.

Every test runs on both paths of the ``flux`` fixture (engine, and HTTP through the client).
"""

import pytest

from tests.localinflux.flux_dataset import DATA, ENV, NOW, SRC, at, values


@pytest.fixture
def db(flux):
    flux.load(DATA)
    return flux


def test_functions_and_variables_defined_in_the_query(db):
    q = (
        "hot = (t) => t > 27.0\n"
        "pick = (tables=<-, f) => tables |> filter(fn: (r) => r._field == f)\n"
        f'{ENV} |> pick(f: "temperature") |> filter(fn: (r) => hot(t: r._value))'
    )
    assert values(db, q, ["_value"]) == [[28.0], [29.0]]


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
def test_expressions_evaluate_like_flux(db, expression):
    q = ENV + f' |> filter(fn: (r) => r.device == "dev-2" and ({expression}))'
    assert len(values(db, q, ["_value"], now=NOW)) == 3


def test_option_now_blocks_defaults_and_record_extension(db):
    q = (
        "option now = () => 2024-01-01T00:05:00Z\n"
        "add = (a, b=1) => {\n  s = a + b\n  return s\n}\n"
        'from(bucket: "iot") |> range(start: -5m)'
        ' |> filter(fn: (r) => r._field == "humidity" and ({r with n: add(a: 1)}).n == 2)'
    )
    assert values(db, q, ["_time", "_value"]) == [[at(i), 40 + i] for i in range(5)]
    assert db.rows_returned == 5


def test_several_yields_come_back_as_named_results(db):
    q = (
        'data = from(bucket: "iot") |> range(start: 0)\n'
        'data |> filter(fn: (r) => r._field == "key") |> yield(name: "keys")\n'
        'data |> filter(fn: (r) => r._field == "token") |> yield(name: "tokens")'
    )
    result = db.tables(q)
    assert [(t.records[0]["result"], t.records[0].get_value()) for t in result] == [
        ("keys", "k1"),
        ("tokens", "t1"),
    ]


def test_unsupported_functions_are_refused_not_guessed(db):
    status, body = db.error(SRC + " |> window(every: 1m)")
    assert (status, body["code"]) == (400, "invalid")
    assert body["message"] == 'function "window" is not supported by this server'
    status, body = db.error('import "strings"\nstrings.toUpper(v: "a")')
    assert "not supported" in body["message"]


def test_compile_errors_carry_positions(db):
    status, body = db.error("x = 1\ny")
    assert (status, body["message"]) == (400, "error @2:1-2:2: undefined identifier y")
    status, body = db.error('from(bucket: "iot") |> range(strt: -1h)')
    assert "unexpected argument strt" in body["message"]
    assert body["message"].startswith("error @1:24-1:40:")
