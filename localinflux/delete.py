"""The delete predicate language of ``POST /api/v2/delete``.

Only ``key = value`` and ``key != value`` comparisons joined by ``AND`` (with parentheses) are
allowed, as in InfluxDB 2.7. ``compile_predicate`` returns a function of (measurement, tags) or
raises ``PredicateError`` carrying the HTTP status and InfluxDB's message.
"""

from __future__ import annotations

import re
from collections.abc import Callable

Matcher = Callable[[str, dict[str, str]], bool]

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<op>!=|=~|!~|<=|>=|==|=|<>|<|>)
  | (?P<dq>"(?:[^"\\]|\\.)*")
  | (?P<sq>'(?:[^'\\]|\\.)*')
  | (?P<number>-?[0-9]+(?:\.[0-9]+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_.\-]*)
    """,
    re.VERBOSE,
)


class PredicateError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _invalid(message: str) -> PredicateError:
    return PredicateError(400, "invalid", message)


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise _invalid(f"invalid predicate: unexpected {text[pos]!r} at position {pos}")
        kind = m.lastgroup
        if kind != "ws":
            value = m.group()
            if kind == "ident" and value.upper() in ("AND", "OR"):
                kind = value.upper()
            out.append((kind, value, pos))
        pos = m.end()
    return out


def _unquote(token: str) -> str:
    return re.sub(r"\\(.)", r"\1", token[1:-1])


class _Parser:
    def __init__(self, tokens: list[tuple[str, str, int]], length: int) -> None:
        self.tokens = tokens
        self.i = 0
        self.length = length

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str, int]:
        tok = self.peek()
        if tok is None:
            raise _invalid(f"invalid predicate: unexpected end at position {self.length}")
        self.i += 1
        return tok

    def expression(self) -> Matcher:
        parts = [self.term()]
        while True:
            tok = self.peek()
            if tok is None or tok[0] == "rparen":
                break
            if tok[0] == "OR":
                raise _invalid(f"the logical operator OR is not supported yet at position {tok[2]}")
            if tok[0] != "AND":
                raise _invalid(f"invalid predicate: unexpected {tok[1]} at position {tok[2]}")
            self.take()
            parts.append(self.term())
        if len(parts) == 1:
            return parts[0]
        return lambda m, tags: all(p(m, tags) for p in parts)

    def term(self) -> Matcher:
        tok = self.take()
        if tok[0] == "lparen":
            inner = self.expression()
            close = self.take()
            if close[0] != "rparen":
                raise _invalid(f"invalid predicate: expected ) at position {close[2]}")
            return inner
        if tok[0] == "dq":
            key = _unquote(tok[1])
        elif tok[0] == "ident":
            key = tok[1]
        else:
            raise _invalid(f"invalid predicate: bad tag key {tok[1]} at position {tok[2]}")
        op = self.take()
        if op[0] != "op":
            raise _invalid(f"invalid predicate: expected operator at position {op[2]}")
        if op[1] in ("=~", "!~"):
            raise _invalid(f'operator: "{op[1]}" at position: {op[2]} is not supported yet')
        if op[1] not in ("=", "!="):
            raise _invalid(f'invalid operator "{op[1]}" at position {op[2]}')
        val = self.take()
        if val[0] == "dq":
            value = _unquote(val[1])
        elif val[0] in ("ident", "number"):
            value = val[1]
        else:
            raise _invalid(f"invalid predicate: bad tag value {val[1]} at position {val[2]}")
        if key == "_field":
            raise PredicateError(501, "not implemented", "delete by field is not supported")
        if key in ("_time", "_value"):
            raise _invalid(f"invalid predicate: {key} cannot be used in a delete predicate")
        equal = op[1] == "="
        if key == "_measurement":
            return (lambda m, tags: m == value) if equal else (lambda m, tags: m != value)
        if equal:
            return lambda m, tags: tags.get(key, "") == value
        return lambda m, tags: tags.get(key, "") != value


def compile_predicate(text: str | None) -> Matcher | None:
    """The matcher for ``text``; None when empty (the delete then covers every series)."""
    if not text or not text.strip():
        return None
    parser = _Parser(_tokens(text), len(text))
    matcher = parser.expression()
    extra = parser.peek()
    if extra is not None:
        raise _invalid(f"invalid predicate: unexpected {extra[1]} at position {extra[2]}")
    return matcher
