"""Decoding of ``POST /api/v2/query`` bodies (the ``extern`` File AST: ``extern.py``)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from localinflux.timefmt import parse_rfc3339

from . import ast
from .csvout import ANNOTATIONS, Dialect
from .errors import FluxError, NotSupported
from .extern import extern_file
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
