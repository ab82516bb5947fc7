"""InfluxDB line protocol parser.

``parse(text, precision, now_ns)`` returns ``(points, errors)``: a point is
``((measurement, tags), fields, time_ns)`` with ``tags`` a sorted tuple of ``(key, value)`` pairs
and ``fields`` a list of ``(key, ftype, value)``. ``errors`` holds InfluxDB's messages
(``unable to parse '<line>': <reason>``, the reason from ``lineprotocol_errors``); the HTTP layer
rejects the whole request when there is any, as InfluxDB 2.7 does.

Most lines written by real clients have no quotes and no backslashes, so they take a fast path made
of ``str.split`` calls and a cache of already-seen series keys; everything else goes through a
careful character scanner that knows the escaping rules.
"""

from __future__ import annotations

import re

from localinflux.lineprotocol_errors import bounded_int, reason
from localinflux.model import BOOLEAN, FLOAT, INTEGER, STRING, UNSIGNED
from localinflux.timefmt import MAX_NS, MIN_NS

PRECISION_NS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}

MIN_TIME_NS = MIN_NS
MAX_TIME_NS = MAX_NS
RESERVED_TAG_KEYS = frozenset({"_measurement", "_field", "time"})

_TRUE = frozenset({"t", "T", "true", "True", "TRUE"})
_FALSE = frozenset({"f", "F", "false", "False", "FALSE"})
_FLOAT_RE = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_INT_RE = re.compile(r"-?[0-9]+")
_UINT_RE = re.compile(r"[0-9]+")
_TS_RE = re.compile(r"-?[0-9]+")
_INT64_MAX = (1 << 63) - 1
_INT64_MIN = -(1 << 63)
_UINT64_MAX = (1 << 64) - 1
_FLOAT_MAX = 1.7976931348623157e308


class LineError(Exception):
    """One line cannot be parsed; the message is InfluxDB's reason text."""


def parse_value(raw: str) -> tuple[str, object]:
    """Type and value of an unquoted field value (number or boolean)."""
    if not raw:
        raise LineError("missing field value")
    last = raw[-1]
    if last == "i" and _INT_RE.fullmatch(raw, 0, len(raw) - 1):
        value = bounded_int(raw[:-1])
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise LineError(
                f'unable to parse integer {raw[:-1]}: strconv.ParseInt: parsing "{raw[:-1]}": '
                "value out of range"
            )
        return INTEGER, value
    if last == "u" and _UINT_RE.fullmatch(raw, 0, len(raw) - 1):
        value = bounded_int(raw[:-1])
        if value > _UINT64_MAX:
            raise LineError(
                f'unable to parse unsigned {raw[:-1]}: strconv.ParseUint: parsing "{raw[:-1]}": '
                "value out of range"
            )
        return UNSIGNED, value
    if raw in _TRUE:
        return BOOLEAN, True
    if raw in _FALSE:
        return BOOLEAN, False
    if _FLOAT_RE.fullmatch(raw):
        value = float(raw)
        if value in (float("inf"), float("-inf")):
            raise LineError("invalid number")
        return FLOAT, value
    first = raw[0]
    if first in "tTfF" and raw not in _TRUE and raw not in _FALSE:
        raise LineError("invalid boolean")
    return _number_error(raw)


def _number_error(raw: str):
    if raw[0] in "-.0123456789" or raw[-1] in "iu":
        raise LineError("invalid number")
    raise LineError("invalid field format")


def _parse_time(raw: str, mult: int) -> int:
    if not _TS_RE.fullmatch(raw):
        raise LineError("bad timestamp")
    ts = bounded_int(raw) * mult
    if not MIN_TIME_NS <= ts <= MAX_TIME_NS:
        raise LineError("time outside range -9223372036854775806 - 9223372036854775806")
    return ts


# ---------------------------------------------------------------------------------------------
# The careful path: a scanner over one line that follows the escaping rules.


def _unescape_measurement(s: str) -> str:
    if "\\" not in s:
        return s
    return s.replace("\\,", ",").replace("\\ ", " ")


def _unescape_tag(s: str) -> str:
    if "\\" not in s:
        return s
    return s.replace("\\,", ",").replace('\\"', '"').replace("\\ ", " ").replace("\\=", "=")


def _unescape_string(s: str) -> str:
    if "\\" not in s:
        return s
    out = []
    i = 0
    n = len(s)
    while i < n:
        c = s[i]
        if c == "\\" and i + 1 < n and s[i + 1] in '"\\':
            out.append(s[i + 1])
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _scan_until(line: str, i: int, stops: str) -> int:
    """Index of the first unescaped character of ``stops`` at or after ``i`` (or len)."""
    n = len(line)
    while i < n:
        c = line[i]
        if c == "\\" and i + 1 < n:
            i += 2
            continue
        if c in stops:
            return i
        i += 1
    return n


def _parse_key(key: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """Measurement and sorted tags from the part before the first unescaped space."""
    end = _scan_until(key, 0, ",")
    measurement = _unescape_measurement(key[:end])
    if not measurement:
        raise LineError("missing measurement")
    tags: dict[str, str] = {}
    i = end
    n = len(key)
    while i < n:
        i += 1  # skip the comma
        eq = _scan_until(key, i, ",=")
        if eq >= n or key[eq] != "=":
            raise LineError("missing tag value")
        raw_k = key[i:eq]
        if not raw_k:
            raise LineError("missing tag key")
        end = _scan_until(key, eq + 1, ",=")
        if end < n and key[end] == "=":
            raise LineError("invalid tag format")
        raw_v = key[eq + 1 : end]
        if not raw_v:
            raise LineError("missing tag value")
        k = _unescape_tag(raw_k)
        if k in tags:
            raise LineError("duplicate tags")
        if k in RESERVED_TAG_KEYS:
            raise LineError(f'cannot use reserved tag key "{k}"')
        tags[k] = _unescape_tag(raw_v)
        i = end
    return measurement, tuple(sorted(tags.items()))


def _parse_line_careful(
    line: str, mult: int, now_ns: int, keycache: dict
) -> tuple[tuple, list, int]:
    n = len(line)
    # measurement and tags end at the first unescaped space
    key_end = _scan_until(line, 0, " ")
    raw_key = line[:key_end]
    if not raw_key or raw_key[0] == ",":
        raise LineError("missing measurement")
    mt = keycache.get(raw_key)
    if mt is None:
        mt = _parse_key(raw_key)
        keycache[raw_key] = mt
    i = key_end
    while i < n and line[i] == " ":
        i += 1
    if i >= n:
        raise LineError("missing fields")
    fields: list[tuple[str, str, object]] = []
    while True:
        eq = _scan_until(line, i, "= ,")
        if eq >= n or line[eq] != "=":
            if eq == i:
                raise LineError("missing field key")
            raise LineError("missing field value")
        raw_fk = line[i:eq]
        if not raw_fk:
            raise LineError("missing field key")
        fk = _unescape_tag(raw_fk)
        j = eq + 1
        if j < n and line[j] == '"':
            # quoted string: up to the next quote not escaped by a backslash
            k = j + 1
            while k < n:
                c = line[k]
                if c == "\\" and k + 1 < n:
                    k += 2
                    continue
                if c == '"':
                    break
                k += 1
            if k >= n:
                raise LineError("unbalanced quotes")
            fields.append((fk, STRING, _unescape_string(line[j + 1 : k])))
            end = k + 1
            if end < n and line[end] not in ", ":
                raise LineError("invalid field format")
        else:
            end = j
            while end < n and line[end] not in ", ":
                if line[end] == '"':
                    raise LineError("unbalanced quotes")
                end += 1
            if end == j:
                raise LineError("missing field value")
            ftype, value = parse_value(line[j:end])
            fields.append((fk, ftype, value))
        if end >= n or line[end] == " ":
            i = end
            break
        i = end + 1  # after the comma
        if i >= n or line[i] == " ":
            raise LineError("missing field key")
    while i < n and line[i] == " ":
        i += 1
    if i >= n:
        return mt, fields, now_ns
    rest = line[i:].rstrip(" ")
    if " " in rest:
        raise LineError("bad timestamp")
    return mt, fields, _parse_time(rest, mult)


# ---------------------------------------------------------------------------------------------
# Where a line ends. InfluxDB (``scanLine`` in models/points.go) cuts the body at newlines,
# except a newline inside a quoted string field value or right after a backslash: those belong
# to the line. Only pieces holding a quote or a backslash can do that, and of those only pieces
# the careful parser refuses (a well-formed line ends closed), so ``parse`` scans just those.

_LINE_SIGNIFICANT = re.compile(r'[\\" =,]').finditer


def _open_after(piece: str, state: tuple | None) -> tuple | None:
    """The scanner's state at the end of ``piece`` if the newline after it is part of the line
    (inside quotes, or escaped by a backslash), else None. ``state`` is the state the piece
    starts in: None at the start of a line."""
    quoted, fields, equals, commas = state or (False, False, 0, 0)
    skip = -1
    for m in _LINE_SIGNIFICANT(piece):
        p = m.start()
        if p <= skip:
            continue
        c = piece[p]
        if c == "\\":
            skip = p + 1  # the next character, whatever it is, is skipped
        elif c == " ":
            fields = True
        elif fields:
            # Quotes count only after the first space, and only in a field value.
            if quoted:
                if c == '"':
                    quoted = False
            elif c == "=":
                equals += 1
            elif c == ",":
                commas += 1
            elif equals > commas:
                quoted = True
    if quoted or skip == len(piece):
        return quoted, fields, equals, commas
    return None


def _continue_line(first: str, state: tuple, pieces) -> str:
    """``first`` joined with the following pieces up to the one that ends its line."""
    parts = [first]
    for piece in pieces:
        parts.append(piece)
        state = _open_after(piece, state)
        if state is None:
            break
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------------


def parse(
    text: str, precision: str = "ns", now_ns: int = 0, keycache: dict | None = None
) -> tuple[list[tuple[tuple, list, int]], list[str]]:
    """Parse a whole request body. ``keycache`` maps raw series keys to (measurement, tags)."""
    mult = PRECISION_NS[precision]
    # Without a timestamp a point takes the server time, truncated to the request's precision.
    now_ns = now_ns - now_ns % mult
    if keycache is None:
        keycache = {}
    points: list[tuple[tuple, list, int]] = []
    errors: list[str] = []
    append = points.append
    fields_cache: dict[str, list] = {}
    true_set = _TRUE
    false_set = _FALSE
    pieces = iter(text.split("\n"))
    for line in pieces:
        if not line:
            continue
        careful = '"' in line or "\\" in line
        joined = False
        if line[0] in " \t\x00#":  # InfluxDB's whitespace: space, tab, NUL (not CR)
            if careful:
                # Before the comment check: a quote in a comment opens a string too.
                state = _open_after(line, None)
                if state is not None:
                    line = _continue_line(line, state, pieces)
                joined = True
            line = line.lstrip(" \t\x00")
            if not line or line[0] == "#":
                continue
        try:
            if careful:
                try:
                    append(_parse_line_careful(line, mult, now_ns, keycache))
                except LineError:
                    # A line the careful parser takes ends where InfluxDB's scanLine ends it;
                    # one it refuses may go on past a quoted or escaped newline.
                    state = None if joined else _open_after(line, None)
                    if state is None:
                        raise
                    line = _continue_line(line, state, pieces)
                    append(_parse_line_careful(line, mult, now_ns, keycache))
                continue
            parts = line.split(" ")
            nparts = len(parts)
            if nparts == 3 and parts[1] and parts[2]:
                raw_key, raw_fields, raw_ts = parts
                if len(raw_ts) < 20 and raw_ts.isdigit() and raw_ts.isascii():
                    ts = int(raw_ts) * mult
                    if ts > MAX_TIME_NS:
                        ts = _parse_time(raw_ts, mult)
                else:
                    ts = _parse_time(raw_ts, mult)
            elif nparts == 2:
                raw_key, raw_fields = parts
                ts = now_ns
            else:
                append(_parse_line_careful(line, mult, now_ns, keycache))
                continue
            mt = keycache.get(raw_key)
            if mt is None:
                if not raw_key or raw_key[0] == ",":
                    raise LineError("missing measurement")
                mt = _parse_key(raw_key)
                keycache[raw_key] = mt
            if not raw_fields:
                raise LineError("missing fields")
            fields = fields_cache.get(raw_fields)
            if fields is None:
                fields = []
                for item in raw_fields.split(","):
                    fk, sep, raw = item.partition("=")
                    if not fk:
                        raise LineError("missing field key")
                    if not sep or not raw:
                        raise LineError("missing field value")
                    last = raw[-1]
                    if last in "0123456789." and _FLOAT_RE.fullmatch(raw):
                        value = float(raw)
                        if not -_FLOAT_MAX <= value <= _FLOAT_MAX:
                            raise LineError("invalid number")  # overflowed to infinity
                        fields.append((fk, FLOAT, value))
                    elif raw in true_set:
                        fields.append((fk, BOOLEAN, True))
                    elif raw in false_set:
                        fields.append((fk, BOOLEAN, False))
                    else:
                        ftype, value = parse_value(raw)
                        fields.append((fk, ftype, value))
                # Repeated field sets (e.g. a constant status) are parsed once per request.
                if len(fields_cache) < 1024:
                    fields_cache[raw_fields] = fields
            if not fields:
                raise LineError("missing fields")
            append((mt, fields, ts))
        except LineError as exc:
            # This parser knows the line is bad; InfluxDB's order of checks says why.
            errors.append(f"unable to parse '{line}': {reason(line, mult) or exc}")
    return points, errors


def escape_measurement(s: str) -> str:
    return s.replace(",", "\\,").replace(" ", "\\ ")


def escape_tag(s: str) -> str:
    return s.replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def escape_string(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')
