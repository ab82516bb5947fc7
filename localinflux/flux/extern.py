"""The ``extern`` of a query request: a Flux File AST in its JSON form, decoded to ``ast`` nodes.

influxdb-client sends ``query(..., params={...})`` this way: one ``OptionStatement`` per param,
its value a literal (string, integer, float, boolean, RFC3339 time, duration in microseconds, a
negated duration, an array of those) or any AST node object the caller passed in, such as a
``CallExpression`` of ``now``. ``QueryOptions(profilers=[...])`` adds ``import "profiler"`` and
``option profiler.enabledProfilers = [...]``. Every expression node of Flux's AST that this
engine can evaluate is accepted here; the others get a clear 400.
"""

from __future__ import annotations

from collections.abc import Callable

from localinflux.timefmt import parse_rfc3339

from . import ast
from .errors import FluxError


def _bad(detail: str) -> FluxError:
    return FluxError(f"failed to decode request body: {detail}")


def extern_file(raw: object) -> ast.File:
    if not isinstance(raw, dict):
        raise _bad("extern must be a File AST object")
    imports = []
    for imp in raw.get("imports") or []:
        if not isinstance(imp, dict):
            raise _bad("extern import must be an object")
        path = (imp.get("path") or {}).get("value")
        alias = (imp.get("as") or {}).get("name")
        imports.append(ast.ImportDecl(path, alias))
    body = [_statement(stmt) for stmt in raw.get("body") or []]
    return ast.File(imports, body)


def _statement(stmt: object) -> ast.Node:
    if not isinstance(stmt, dict):
        raise _bad("extern statement must be an object")
    kind = stmt.get("type")
    try:
        if kind == "OptionStatement":
            assignment = stmt.get("assignment") or {}
            if assignment.get("type") == "VariableAssignment":
                name = assignment["id"]["name"]
                return ast.OptionStmt(name, expression(assignment.get("init")))
            if assignment.get("type") == "MemberAssignment":
                member = assignment.get("member") or {}
                pkg = (member.get("object") or {}).get("name")
                name = _property_name(member.get("property"))
                return ast.OptionStmt(name, expression(assignment.get("init")), member_of=pkg)
        if kind == "VariableAssignment":
            return ast.VarAssign(stmt["id"]["name"], expression(stmt.get("init")))
        if kind == "ExpressionStatement":
            return ast.ExprStmt(expression(stmt.get("expression")))
        if kind == "ReturnStatement":
            return ast.ReturnStmt(expression(stmt.get("argument")))
    except (KeyError, TypeError, AttributeError) as exc:
        raise _bad(f"invalid extern {kind}: {exc}") from None
    raise _bad(f"unsupported extern statement {kind!r}")


def _property_name(prop: object) -> str:
    """A member or record key: an ``Identifier`` (``name``) or a ``StringLiteral`` (``value``)."""
    if not isinstance(prop, dict):
        raise TypeError("property must be an object")
    name = prop.get("name") if prop.get("type") == "Identifier" else None
    name = name if name is not None else prop.get("value", prop.get("name"))
    if not isinstance(name, str):
        raise TypeError("property has no name")
    return name


def _properties(props: object) -> list[tuple[str, ast.Node]]:
    return [(_property_name(p["key"]), expression(p["value"])) for p in props or []]


def _call(node: dict) -> ast.CallExpr:
    arguments = node.get("arguments") or []
    if len(arguments) > 1:
        raise TypeError("a call takes one record of named arguments")
    args = _properties(arguments[0].get("properties")) if arguments else []
    return ast.CallExpr(expression(node["callee"]), args)


def _function(node: dict) -> ast.FunctionExpr:
    params = []
    for prop in node.get("params") or []:
        name = _property_name(prop["key"])
        value = prop.get("value")
        if isinstance(value, dict) and value.get("type") == "PipeLiteral":
            params.append(ast.Param(name, pipe=True))
        else:
            params.append(ast.Param(name, None if value is None else expression(value)))
    body = node["body"]
    if isinstance(body, dict) and body.get("type") == "Block":
        block = ast.Block([_statement(s) for s in body.get("body") or []])
        return ast.FunctionExpr(params, block)
    return ast.FunctionExpr(params, expression(body))


def _duration(node: dict) -> ast.DurationLit:
    return ast.DurationLit([(int(d["magnitude"]), d["unit"]) for d in node.get("values") or []])


_LOGICAL = {"and": "and", "or": "or", "AndOperator": "and", "OrOperator": "or"}

_DECODERS: dict[str, Callable[[dict], ast.Node]] = {
    "StringLiteral": lambda n: ast.StringLit(str(n["value"])),
    "IntegerLiteral": lambda n: ast.IntLit(int(n["value"])),
    "UnsignedIntegerLiteral": lambda n: ast.IntLit(int(n["value"])),
    "FloatLiteral": lambda n: ast.FloatLit(float(n["value"])),
    "BooleanLiteral": lambda n: ast.BoolLit(bool(n["value"])),
    "DateTimeLiteral": lambda n: ast.DateTimeLit(parse_rfc3339(str(n["value"]), allow_date=True)),
    "DurationLiteral": _duration,
    "RegexpLiteral": lambda n: ast.RegexLit(str(n["value"])),
    "Identifier": lambda n: ast.Identifier(n["name"]),
    "ArrayExpression": lambda n: ast.ArrayExpr([expression(e) for e in n.get("elements") or []]),
    "ObjectExpression": lambda n: ast.RecordExpr(
        _properties(n.get("properties")),
        None if n.get("with") is None else expression(n["with"]),
    ),
    "UnaryExpression": lambda n: ast.UnaryExpr(n.get("operator", "-"), expression(n["argument"])),
    "BinaryExpression": lambda n: ast.BinaryExpr(
        n["operator"], expression(n["left"]), expression(n["right"])
    ),
    "LogicalExpression": lambda n: ast.LogicalExpr(
        _LOGICAL[n["operator"]], expression(n["left"]), expression(n["right"])
    ),
    "ConditionalExpression": lambda n: ast.ConditionalExpr(
        expression(n["test"]), expression(n["consequent"]), expression(n["alternate"])
    ),
    "MemberExpression": lambda n: ast.MemberExpr(
        expression(n["object"]), _property_name(n["property"])
    ),
    "IndexExpression": lambda n: ast.IndexExpr(expression(n["array"]), expression(n["index"])),
    "CallExpression": _call,
    "PipeExpression": lambda n: ast.PipeExpr(expression(n["argument"]), _call(n["call"])),
    "ParenExpression": lambda n: expression(n["expression"]),
    "FunctionExpression": _function,
}


def expression(node: object) -> ast.Node:
    if not isinstance(node, dict):
        raise _bad("extern expression must be an object")
    kind = node.get("type")
    decode = _DECODERS.get(kind)
    if decode is None:
        raise _bad(f"unsupported extern expression {kind!r}")
    try:
        return decode(node)
    except FluxError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise _bad(f"invalid extern {kind}: {exc}") from None
