"""Lexer and parser of the Flux subset: what parses, and where errors are reported."""

import pytest

from localinflux.flux import ast
from localinflux.flux.errors import CompileError
from localinflux.flux.lexer import tokenize
from localinflux.flux.parser import parse
from localinflux.flux.values import Duration, duration_from_parts
from localinflux.timefmt import parse_rfc3339


def kinds(text):
    return [t.kind for t in tokenize(text)][:-1]


def test_it_reads_compound_durations_and_months():
    tok = tokenize("1h30m")[0]
    assert tok.kind == "DURATION"
    assert duration_from_parts(tok.value) == Duration(0, 5400 * 10**9)
    assert duration_from_parts(tokenize("1y2mo")[0].value) == Duration(14, 0)
    assert duration_from_parts(tokenize("5ms")[0].value).ns == 5_000_000


def test_it_tells_regex_literals_from_division():
    assert kinds("a / b") == ["IDENT", "/", "IDENT"]
    assert kinds("r.x =~ /^dev-\\d+$/") == ["IDENT", ".", "IDENT", "=~", "REGEX"]
    assert tokenize("x =~ /a\\/b/")[2].value == "a/b"


def test_it_reads_datetime_literals_with_offsets_and_nanoseconds():
    tok = tokenize("2024-01-01T01:00:00.5+01:00")[0]
    assert tok.kind == "TIME"
    assert parse_rfc3339(tok.value) == 1704067200 * 10**9 + 500_000_000


def test_it_decodes_string_escapes():
    assert tokenize(r'"a\"b\\c\nd\x41"')[0].value == 'a"b\\c\ndA'


def test_it_parses_a_pipeline_with_named_arguments():
    file = parse('from(bucket: "b")\n  |> range(start: -1h)\n  |> last()')
    pipe = file.body[0].expr
    assert isinstance(pipe, ast.PipeExpr)
    assert pipe.call.callee.name == "last"
    assert pipe.arg.call.args[0][0] == "start"
    assert pipe.loc == (1, 1, 3, 12)


def test_it_gives_and_higher_precedence_than_or():
    expr = parse("a or b and not c").body[0].expr
    assert expr.op == "or"
    assert expr.right.op == "and"
    assert isinstance(expr.right.right, ast.UnaryExpr)


def test_it_parses_arrow_functions_records_and_index_access():
    fn = parse('f = (r, x=1) => ({r with y: r["host"]})').body[0].init
    assert isinstance(fn, ast.FunctionExpr)
    assert [p.name for p in fn.params] == ["r", "x"]
    assert isinstance(fn.body, ast.RecordExpr)
    assert isinstance(fn.body.props[0][1], ast.MemberExpr)


def test_it_parses_imports_options_and_several_statements():
    file = parse('import "influxdata/influxdb/schema"\noption v = 3\nx = 1\nx')
    assert file.imports[0].path == "influxdata/influxdb/schema"
    assert isinstance(file.body[0], ast.OptionStmt)
    assert isinstance(file.body[1], ast.VarAssign)
    assert isinstance(file.body[2], ast.ExprStmt)


def test_it_reports_the_position_of_a_syntax_error():
    with pytest.raises(CompileError) as err:
        parse('from(bucket: "b")\n  |> filter(fn: (r) => r._value > )')
    assert err.value.message.startswith("compilation failed: error at @2:35-2:36:")


def test_it_rejects_an_unterminated_string_with_its_position():
    with pytest.raises(CompileError) as err:
        parse('x = "abc')
    assert "@1:5-1:6" in err.value.message
    assert "unterminated string" in err.value.message


def test_it_requires_a_call_after_a_pipe():
    with pytest.raises(CompileError, match="pipe destination must be a function call"):
        parse("a |> b")
