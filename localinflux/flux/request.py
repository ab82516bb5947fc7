"""Decoding of ``POST /api/v2/query`` bodies, including the ``extern`` File AST."""

from __future__ import annotations

import json
from dataclasses import dataclass

from localinflux.timefmt import parse_rfc3339

from . import ast
from .csvout import ANNOTATIONS, Dialect
from .errors import FluxError, NotSupported
from .values import Time


def _bad(detail: str) -> FluxError:
    return FluxError(f"failed to decode request body: {detail}")


@dataclass
class QueryRequest:
    query: str
    dialect: Dialect
    extern: ast.File | None = None
    now_ns: int | None = None


def decode_request(body: bytes, content_type: str) -> QueryRequest:
    mime = (content_type or "").split(";", 1)[0].strip().lower()
    if mime == "application/vnd.flux":
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise _bad("query is not valid UTF-8") from None
        return QueryRequest(text, Dialect(annotations=[]))
    try:
        payload = json.loads(body or b"")
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad(str(exc)) from None
    if not isinstance(payload, dict):
        raise _bad("expected a JSON object")
    qtype = payload.get("type") or "flux"
    if qtype != "flux":
        raise _bad(f'unknown query type "{qtype}"')
    query = payload.get("query") or ""
    if not isinstance(query, str):
        raise _bad("query must be a string")
    if not query.strip():
        if payload.get("ast"):
            raise NotSupported("a query sent as an AST")
        raise _bad("query must not be empty")
    request = QueryRequest(query, _dialect(payload.get("dialect")))
    if payload.get("now"):
        try:
            request.now_ns = Time(parse_rfc3339(str(payload["now"]), allow_date=True))
        except ValueError:
            raise _bad(f'invalid "now" time {payload["now"]!r}') from None
    extern = payload.get("extern")
    if extern:
        request.extern = extern_file(extern)
    return request


def _dialect(raw: object) -> Dialect:
    if raw is None:
        return Dialect(annotations=[])
    if not isinstance(raw, dict):
        raise _bad("dialect must be an object")
    header = raw.get("header", True)
    delimiter = raw.get("delimiter") or ","
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise _bad("invalid dialect delimiter: must be exactly one character")
    annotations = raw.get("annotations") or []
    if not isinstance(annotations, list):
        raise _bad("dialect annotations must be an array")
    for annotation in annotations:
        if annotation not in ANNOTATIONS:
            raise _bad(f"unknown annotation type {annotation!r}")
    time_format = raw.get("dateTimeFormat") or "RFC3339"
    if time_format not in ("RFC3339", "RFC3339Nano"):
        raise _bad(f"invalid dialect dateTimeFormat {time_format!r}")
    return Dialect(header=header is not False, delimiter=delimiter, annotations=list(annotations))


# -- extern: the JSON form of a Flux File, as influxdb-client sends ``params=`` ------------------
def extern_file(raw: object) -> ast.File:
    if not isinstance(raw, dict):
        raise _bad("extern must be a File AST object")
    imports = []
    for imp in raw.get("imports") or []:
        path = (imp.get("path") or {}).get("value")
        alias = (imp.get("as") or {}).get("name")
        imports.append(ast.ImportDecl(path, alias))
    body = [_extern_statement(stmt) for stmt in raw.get("body") or []]
    return ast.File(imports, body)


def _extern_statement(stmt: dict) -> ast.Node:
    kind = stmt.get("type")
    if kind == "OptionStatement":
        assignment = stmt.get("assignment") or {}
        if assignment.get("type") == "VariableAssignment":
            name = assignment["id"]["name"]
            return ast.OptionStmt(name, _extern_expr(assignment.get("init")))
        if assignment.get("type") == "MemberAssignment":
            member = assignment.get("member") or {}
            pkg = (member.get("object") or {}).get("name")
            prop = member.get("property") or {}
            name = prop.get("name") or prop.get("value")
            return ast.OptionStmt(name, _extern_expr(assignment.get("init")), member_of=pkg)
    if kind == "VariableAssignment":
        return ast.VarAssign(stmt["id"]["name"], _extern_expr(stmt.get("init")))
    raise _bad(f"unsupported extern statement {kind!r}")


def _extern_expr(node: object) -> ast.Node:
    if not isinstance(node, dict):
        raise _bad("extern expression must be an object")
    kind = node.get("type")
    value = node.get("value")
    try:
        if kind == "StringLiteral":
            return ast.StringLit(str(value))
        if kind == "IntegerLiteral":
            return ast.IntLit(int(value))
        if kind == "UnsignedIntegerLiteral":
            return ast.IntLit(int(value))
        if kind == "FloatLiteral":
            return ast.FloatLit(float(value))
        if kind == "BooleanLiteral":
            return ast.BoolLit(bool(value))
        if kind == "DateTimeLiteral":
            return ast.DateTimeLit(parse_rfc3339(str(value), allow_date=True))
        if kind == "DurationLiteral":
            parts = [(int(d["magnitude"]), d["unit"]) for d in node.get("values") or []]
            return ast.DurationLit(parts)
        if kind == "RegexpLiteral":
            return ast.RegexLit(str(value))
        if kind == "UnaryExpression":
            return ast.UnaryExpr(node.get("operator", "-"), _extern_expr(node.get("argument")))
        if kind == "ArrayExpression":
            return ast.ArrayExpr([_extern_expr(e) for e in node.get("elements") or []])
        if kind == "Identifier":
            return ast.Identifier(node["name"])
        if kind == "ObjectExpression":
            props = []
            for prop in node.get("properties") or []:
                key = prop.get("key") or {}
                props.append((key.get("name") or key.get("value"), _extern_expr(prop["value"])))
            return ast.RecordExpr(props)
    except (KeyError, TypeError, ValueError) as exc:
        raise _bad(f"invalid extern {kind}: {exc}") from None
    raise _bad(f"unsupported extern expression {kind!r}")
