"""Why InfluxDB 2.7 refuses a line of line protocol, in its words.

``lineprotocol.parse`` is built for speed and decides *whether* a line is good; when it is not,
``reason(line, mult)`` says *why*, by walking the line in the order InfluxDB's parser does
(``models/points.go``: key, tags, reserved and duplicate tag keys, fields, timestamp) and
returning the first message that parser would return. Only bad lines come here, so this module
favours being easy to compare with InfluxDB's parser over speed.
"""

from __future__ import annotations

from localinflux.timefmt import MAX_NS, MIN_NS

MAX_KEY_LENGTH = 65535
_RESERVED_TAG_KEYS = ("\xff", "\x00", "_field", "_measurement", "time")
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_UINT64_MAX = (1 << 64) - 1
# Numbers this long may be out of range, so InfluxDB parses them while scanning.
_MAX_INT64_DIGITS, _MAX_UINT64_DIGITS, _MAX_FLOAT64_DIGITS = 19, 20, 25


class _Refused(Exception):
    """The line is bad; the message is InfluxDB's."""


def _skip_whitespace(s: str, i: int) -> int:
    while i < len(s) and s[i] in " \t\x00":
        i += 1
    return i


def _key_end(s: str, i: int, stop: str) -> int:
    """Index of the first ``stop`` not preceded by a backslash, from ``i`` (or len)."""
    while i < len(s):
        if s[i] == stop and (i == 0 or s[i - 1] != "\\"):
            return i
        i += 1
    return i


def bounded_int(text: str) -> int:
    """``int(text)`` of a decimal literal, except that one with more than 20 significant digits
    (outside every range here) gives +-2**65 without being converted: Python refuses to convert
    very long literals (over 4300 digits), and a line may hold any number of digits."""
    if len(text) <= 21:
        return int(text)
    sign = "-" if text.startswith("-") else ""
    digits = text.lstrip("+-").lstrip("0")
    if len(digits) > 20:
        return -(1 << 65) if sign else 1 << 65
    return int(sign + (digits or "0"))


def _go_parse_int(text: str, bits_unsigned: bool = False) -> int:
    """Go's ``strconv.ParseInt``/``ParseUint`` in base 10, with its error text."""
    func = "ParseUint" if bits_unsigned else "ParseInt"
    body = text[1:] if text[:1] in "+-" and not bits_unsigned else text
    if not body or not body.isascii() or not body.isdigit():
        raise _Refused(f'strconv.{func}: parsing "{text}": invalid syntax')
    value = bounded_int(text)
    low, high = (0, _UINT64_MAX) if bits_unsigned else (_INT64_MIN, _INT64_MAX)
    if not low <= value <= high:
        raise _Refused(f'strconv.{func}: parsing "{text}": value out of range')
    return value


# -- the key: measurement and tags ------------------------------------------------------------


def _scan_key(s: str) -> int:
    """End of the series key; raises with InfluxDB's reason for a bad one."""
    if not s or s[0] == ",":
        raise _Refused("missing measurement")
    i = 0
    while True:
        i += 1
        if i >= len(s):
            raise _Refused("missing fields")
        if s[i - 1] == "\\":
            continue
        if s[i] == ",":
            i += 1
            break
        if s[i] == " ":
            return i  # no tags
    keys = []
    while True:  # one tag per turn: key, "=", value
        if i >= len(s) or s[i] in " ,=":
            raise _Refused("missing tag key")
        start = i
        while True:
            i += 1
            if i >= len(s) or (s[i] in " ," and s[i - 1] != "\\"):
                raise _Refused("missing tag value")
            if s[i] == "=" and s[i - 1] != "\\":
                break
        keys.append(s[start:i])
        i += 1
        if i >= len(s) or s[i] in ", ":
            raise _Refused("missing tag value")
        while True:
            i += 1
            if i >= len(s):
                raise _Refused("missing fields")
            if s[i] == "=" and s[i - 1] != "\\":
                raise _Refused("invalid tag format")
            if s[i] == "," and s[i - 1] != "\\":
                i += 1
                break
            if s[i] == " " and s[i - 1] != "\\":
                _check_tag_keys(keys)
                return i


def _check_tag_keys(keys: list[str]) -> None:
    for key in keys:
        if key in _RESERVED_TAG_KEYS:
            raise _Refused(f'cannot use reserved tag key "{key}"')
    if len(set(keys)) != len(keys):
        raise _Refused("duplicate tags")


# -- the fields -------------------------------------------------------------------------------


def _scan_number(s: str, i: int) -> int:
    start = i
    is_int = is_uint = decimal = scientific = False
    if i < len(s) and s[i] == "-":
        i += 1
        if i == len(s):
            raise _Refused("invalid number")
    while i < len(s) and s[i] not in ", ":
        c = s[i]
        if c in "iu" and i > start and not (is_int or is_uint):
            is_int, is_uint = c == "i", c == "u"
            i += 1
            continue
        if c == ".":
            if decimal:
                raise _Refused("invalid number")
            decimal = True
        if i > start and c in "eE":
            scientific = True
            i += 1
            continue
        if c in "+-" and s[i - 1] in "eE":
            i += 1
            continue
        if not (c.isascii() and (c.isdigit() or c == ".")):
            raise _Refused("invalid number")  # NaN and Inf included
        i += 1
    if (is_int or is_uint) and (decimal or scientific):
        raise _Refused("invalid number")
    digits = i - start - is_int - decimal - (s[start] == "-")
    if digits == 0:
        raise _Refused("invalid number")
    text = s[start:i]
    if is_int:
        if s[i - 1] != "i":
            raise _Refused("invalid number")
        if len(text) - 1 >= _MAX_INT64_DIGITS:
            try:
                _go_parse_int(text[:-1])
            except _Refused as exc:
                raise _Refused(f"unable to parse integer {text[:-1]}: {exc}") from None
    elif is_uint:
        if s[i - 1] != "u" or s[start] == "-":
            raise _Refused("invalid number")
        if len(text) - 1 >= _MAX_UINT64_DIGITS:
            try:
                _go_parse_int(text[:-1], bits_unsigned=True)
            except _Refused as exc:
                raise _Refused(f"unable to parse unsigned {text[:-1]}: {exc}") from None
    elif scientific or len(text) >= _MAX_FLOAT64_DIGITS:
        try:
            value = float(text)
        except ValueError:
            raise _Refused("invalid float") from None
        if value in (float("inf"), float("-inf")):
            raise _Refused("invalid float")  # Go's ParseFloat: value out of range
    return i


def _scan_boolean(s: str, i: int) -> int:
    start = i
    if i < len(s) and s[i] not in "tfTF":
        raise _Refused("invalid boolean")
    i += 1
    while i < len(s) and s[i] not in ", ":
        i += 1
    if i - start > 1 and s[start:i] not in ("true", "True", "TRUE", "false", "False", "FALSE"):
        raise _Refused("invalid boolean")
    return i


def _scan_fields(s: str, i: int) -> tuple[int, str]:
    start = i = _skip_whitespace(s, i)
    quoted = False
    equals = commas = 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            i += 2
            continue
        if c == '"' and equals > commas:
            quoted = not quoted
            i += 1
            continue
        if c == "=" and not quoted:
            equals += 1
            before, before2 = s[i - 1], s[i - 2] if i >= 2 else ""
            if before in " ," and before2 != "\\":
                raise _Refused("missing field key")
            if i + 1 >= len(s) or s[i + 1] in ", ":
                raise _Refused("missing field value")
            nxt = s[i + 1]
            if (nxt.isascii() and nxt.isdigit()) or nxt in ".-Nn":
                i = _scan_number(s, i + 1)
                continue
            if nxt != '"':
                i = _scan_boolean(s, i + 1)
                continue
        if c == "," and not quoted:
            commas += 1
        if c == " " and not quoted:
            break
        i += 1
    if quoted:
        raise _Refused("unbalanced quotes")
    if equals == 0 or commas != equals - 1:
        raise _Refused("invalid field format")
    return i, s[start:i]


def _field_keys(fields: str) -> list[str]:
    """The raw field keys, as InfluxDB walks them to check the series key length."""
    keys = []
    rest = fields
    while rest:
        eq = _key_end(rest, 0, "=")
        if eq > len(rest) - 2:
            raise _Refused(f"invalid value: field-key={rest[:eq]}")
        keys.append(rest[:eq])
        i, quoted = eq + 1, False
        while i < len(rest):  # the value, up to a comma outside quotes
            c = rest[i]
            if c == "\\" and i + 1 < len(rest) and rest[i + 1] in '"\\':
                i += 2
                continue
            if c == '"':
                quoted = not quoted
            elif c == "," and not quoted:
                break
            i += 1
        rest = rest[i + 1 :]
    return keys


# -- the timestamp ----------------------------------------------------------------------------


def _check_time(s: str, i: int, mult: int) -> None:
    start = i = _skip_whitespace(s, i)
    while i < len(s) and s[i] not in "\n ":
        if not (i == start and s[i] == "-") and not ("0" <= s[i] <= "9"):
            raise _Refused("bad timestamp")
        i += 1
    if i == start:
        return  # no timestamp: the server's time
    ts = _go_parse_int(s[start:i])
    if not MIN_NS <= ts * mult <= MAX_NS:
        raise _Refused(f"time outside range {MIN_NS} - {MAX_NS}")
    if s[i:].strip(" "):
        raise _Refused("point is invalid")


def reason(line: str, mult: int = 1) -> str | None:
    """InfluxDB's reason for refusing ``line`` (leading whitespace already gone), or None if
    InfluxDB's parser would take it. ``mult`` is the precision's nanoseconds per unit."""
    try:
        key_end = _scan_key(line)
        key = line[:key_end]
        if len(key.encode()) > MAX_KEY_LENGTH:
            raise _Refused(f"max key length exceeded: {len(key.encode())} > {MAX_KEY_LENGTH}")
        pos, fields = _scan_fields(line, key_end)
        if not fields:
            raise _Refused("missing fields")
        for field in _field_keys(fields):
            size = len(key.encode()) + len(field.encode()) + 4  # the "#!~#" separator
            if size > MAX_KEY_LENGTH:
                raise _Refused(f"max key length exceeded: {size} > {MAX_KEY_LENGTH}")
        _check_time(line, pos, mult)
    except _Refused as exc:
        return str(exc)
    return None
