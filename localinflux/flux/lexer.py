"""Tokenizer for the Flux subset, tracking line and column for error positions."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import CompileError

KEYWORDS = {"and", "or", "not", "import", "package", "option", "return", "if", "then", "else"}
KEYWORDS |= {"exists", "builtin", "testcase"}

# Longest first so ``|>`` wins over ``|`` and ``<=`` over ``<``.
OPERATORS = [
    "|>", "<-", "=>", "==", "!=", "<=", ">=", "=~", "!~",
    "+", "-", "*", "/", "%", "^", "<", ">", "=", "(", ")", "[", "]", "{", "}",
    ",", ":", ".", "?",
]  # fmt: skip

_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}))?")
_DURATION = re.compile(r"(?:\d+(?:mo|ms|us|µs|ns|y|w|d|h|m|s))+")
_DURATION_PART = re.compile(r"(\d+)(mo|ms|us|µs|ns|y|w|d|h|m|s)")
_FLOAT = re.compile(r"\d+\.\d*|\.\d+")
_INT = re.compile(r"\d+")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SPACE = re.compile(r"[ \t\r\n]+|//[^\n]*")

# The operators by length, for one lookup each (the two-character ones are tried first).
_OPERATORS_2 = frozenset(op for op in OPERATORS if len(op) == 2)
_OPERATORS_1 = frozenset(op for op in OPERATORS if len(op) == 1)

# After these tokens a ``/`` divides; elsewhere it opens a regex literal.
_OPERAND_END = {"IDENT", "INT", "FLOAT", "STRING", "DURATION", "TIME", "REGEX", ")", "]", "}"}

# Every common token in one match, after the space and comments before it (possessive, so a
# long run of spaces before something unmatched is not retried). Alternatives in order of how
# common they are where their first characters overlap: a word, a string without escapes,
# ``$`` or line breaks, an operator (a ``.`` only after a float failed), a time, a duration
# (atomic: one followed by a letter is no duration), a float, an int. What it does not match
# (other strings, regex literals, bad input) goes through ``_next``.
_SPACE_RUN = re.compile(r"(?:[ \t\r\n]|//[^\n]*)*+")
_MASTER = re.compile(
    _SPACE_RUN.pattern + rf"(?:(?P<word>{_IDENT.pattern})"
    r'|(?P<string>"[^"\\$\n]*")'
    r"|(?P<op>\|>|<-|=>|==|!=|<=|>=|=~|!~|[-+*/%^<>=()\[\]{},:?])"
    rf"|(?P<time>{_DATETIME.pattern})"
    rf"|(?P<duration>(?>{_DURATION.pattern})(?![A-Za-z_]))"
    rf"|(?P<float>{_FLOAT.pattern})"
    rf"|(?P<int>{_INT.pattern})"
    r"|(?P<dot>\.))"
)


@dataclass(slots=True)
class Token:
    kind: str  # IDENT, INT, FLOAT, STRING, DURATION, TIME, REGEX, EOF, a keyword or an operator
    value: object
    line: int
    col: int
    end_line: int
    end_col: int

    @property
    def loc(self) -> tuple[int, int, int, int]:
        return (self.line, self.col, self.end_line, self.end_col)


_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"', "$": "$"}


class Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.line_start = 0

    def _col(self, pos: int) -> int:
        return pos - self.line_start + 1

    def _advance_to(self, end: int) -> None:
        chunk = self.text[self.pos : end]
        newlines = chunk.count("\n")
        if newlines:
            self.line += newlines
            self.line_start = self.pos + chunk.rfind("\n") + 1
        self.pos = end

    def _error(self, message: str, start: int) -> CompileError:
        col = self._col(start)
        return CompileError(message, (self.line, col, self.line, col + 1))

    def tokens(self) -> list[Token]:
        out: list[Token] = []
        append = out.append
        text = self.text
        n = len(text)
        match = _MASTER.match
        pos, line, line_start = self.pos, self.line, self.line_start
        prev_kind = None
        while pos < n:
            m = match(text, pos)
            group = m.lastgroup if m is not None else None
            if group is not None:
                value = m[group]
                end = m.end()
                start = end - len(value)
                if group == "op" and value == "/" and prev_kind not in _OPERAND_END:
                    group = None  # a regex literal
            if group is None:
                space_end = _SPACE_RUN.match(text, pos).end()
                newlines = text.count("\n", pos, space_end)
                if newlines:
                    line += newlines
                    line_start = text.rfind("\n", pos, space_end) + 1
                pos = space_end
                if pos >= n:
                    break
                self.pos, self.line, self.line_start = pos, line, line_start
                token = self._next(prev_kind)
                pos, line, line_start = self.pos, self.line, self.line_start
                append(token)
                prev_kind = token.kind
                continue
            if start != pos:
                newlines = text.count("\n", pos, start)
                if newlines:
                    line += newlines
                    line_start = text.rfind("\n", pos, start) + 1
            if group == "word":
                kind = value if value in KEYWORDS else "IDENT"
            elif group == "op" or group == "dot":
                kind = value
            elif group == "string":
                kind, value = "STRING", value[1:-1]
            elif group == "int":
                kind, value = "INT", int(value)
            elif group == "float":
                kind, value = "FLOAT", float(value)
            elif group == "time":
                kind = "TIME"
            else:
                kind = "DURATION"
                value = [(int(d), u) for d, u in _DURATION_PART.findall(value)]
            append(Token(kind, value, line, start - line_start + 1, line, end - line_start + 1))
            prev_kind = kind
            pos = end
        self.pos, self.line, self.line_start = pos, line, line_start
        col = self._col(pos)
        append(Token("EOF", None, line, col, line, col))
        return out

    def _token(self, kind: str, value: object, start: int, end: int) -> Token:
        line, col = self.line, self._col(start)
        self._advance_to(end)
        return Token(kind, value, line, col, self.line, self._col(end))

    def _next(self, prev_kind: str | None) -> Token:
        text, start = self.text, self.pos
        ch = text[start]
        if ch == '"':
            return self._string(start)
        if ch.isdigit():
            m = _DATETIME.match(text, start)
            if m:
                return self._token("TIME", m.group(), start, m.end())
            m = _DURATION.match(text, start)
            if m and not _IDENT.match(text, m.end()):
                parts = [(int(n), u) for n, u in _DURATION_PART.findall(m.group())]
                return self._token("DURATION", parts, start, m.end())
            m = _FLOAT.match(text, start)
            if m:
                return self._token("FLOAT", float(m.group()), start, m.end())
            m = _INT.match(text, start)
            return self._token("INT", int(m.group()), start, m.end())
        if ch == "." and start + 1 < len(text) and text[start + 1].isdigit():
            m = _FLOAT.match(text, start)
            return self._token("FLOAT", float(m.group()), start, m.end())
        m = _IDENT.match(text, start)
        if m:
            word = m.group()
            kind = word if word in KEYWORDS else "IDENT"
            return self._token(kind, word, start, m.end())
        if ch == "/" and prev_kind not in _OPERAND_END:
            return self._regex(start)
        op = text[start : start + 2]
        if op in _OPERATORS_2:
            return self._token(op, op, start, start + 2)
        if ch in _OPERATORS_1:
            return self._token(ch, ch, start, start + 1)
        raise self._error(f"invalid token {ch!r}", start)

    def _string(self, start: int) -> Token:
        text = self.text
        i = start + 1
        chars: list[str] = []
        while i < len(text):
            c = text[i]
            if c == '"':
                return self._token("STRING", "".join(chars), start, i + 1)
            if c == "\\":
                if i + 1 >= len(text):
                    break
                esc = text[i + 1]
                if esc in _ESCAPES:
                    chars.append(_ESCAPES[esc])
                    i += 2
                    continue
                if esc == "x" and re.fullmatch(r"[0-9a-fA-F]{2}", text[i + 2 : i + 4]):
                    # \xNN escapes are bytes; runs of them spell UTF-8 sequences.
                    raw = bytearray()
                    while text.startswith("\\x", i) and re.fullmatch(
                        r"[0-9a-fA-F]{2}", text[i + 2 : i + 4]
                    ):
                        raw.append(int(text[i + 2 : i + 4], 16))
                        i += 4
                    chars.append(raw.decode("utf-8", "replace"))
                    continue
                raise self._error(f"invalid escape sequence \\{esc}", i)
            if c == "$" and text.startswith("${", i):
                raise self._error("string interpolation is not supported by this server", i)
            chars.append(c)
            i += 1
        raise self._error("unterminated string literal", start)

    def _regex(self, start: int) -> Token:
        text = self.text
        i = start + 1
        chars: list[str] = []
        while i < len(text):
            c = text[i]
            if c == "\n":
                break
            if c == "/":
                return self._token("REGEX", "".join(chars), start, i + 1)
            if c == "\\" and i + 1 < len(text) and text[i + 1] == "/":
                chars.append("/")
                i += 2
                continue
            if c == "\\" and i + 1 < len(text):
                chars.append(text[i : i + 2])
                i += 2
                continue
            chars.append(c)
            i += 1
        raise self._error("unterminated regular expression", start)


def tokenize(text: str) -> list[Token]:
    return Lexer(text).tokens()
