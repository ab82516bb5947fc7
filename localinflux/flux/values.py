"""Runtime values of the Flux subset: times, durations, regexes, functions, type names.

Plain Python values stand in where they can: ``int`` (Flux int), ``float``, ``str``, ``bool``,
``None`` (null), ``list`` (array), ``dict`` (record). Times and durations get their own types so
``r._time > 2024-01-01T00:00:00Z`` and ``now() - 1h`` mean what Flux means.
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass
from functools import lru_cache

from localinflux.timefmt import NS_PER_S, format_rfc3339

_EPOCH_ORDINAL = _dt.date(1970, 1, 1).toordinal()

UNIT_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": NS_PER_S,
    "m": 60 * NS_PER_S,
    "h": 3600 * NS_PER_S,
    "d": 86400 * NS_PER_S,
    "w": 7 * 86400 * NS_PER_S,
}
UNIT_MONTHS = {"mo": 1, "y": 12}


class Time(int):
    """A point in time as Unix nanoseconds; an ``int`` so table cells compare without wrapping."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Time({format_rfc3339(self)})"


@dataclass(frozen=True)
class Duration:
    """Flux durations mix calendar months with exact nanoseconds (``1mo2d``)."""

    months: int = 0
    ns: int = 0

    def __neg__(self) -> Duration:
        return Duration(-self.months, -self.ns)

    def __bool__(self) -> bool:
        return bool(self.months or self.ns)


def duration_from_parts(parts: list[tuple[int, str]]) -> Duration:
    months = 0
    ns = 0
    for magnitude, unit in parts:
        if unit in UNIT_MONTHS:
            months += magnitude * UNIT_MONTHS[unit]
        else:
            ns += magnitude * UNIT_NS[unit]
    return Duration(months, ns)


def add_duration(t: int, d: Duration) -> Time:
    """``t + d``; months move the calendar date, clamping the day to the month's length."""
    if d.months:
        secs, frac = divmod(int(t), NS_PER_S)
        days, rem = divmod(secs, 86400)
        date = _dt.date.fromordinal(_EPOCH_ORDINAL + days)
        month_index = date.year * 12 + (date.month - 1) + d.months
        year, month0 = divmod(month_index, 12)
        month = month0 + 1
        next_first = _dt.date(year + (month == 12), month % 12 + 1, 1)
        last_day = (next_first - _dt.timedelta(days=1)).day
        new_date = _dt.date(year, month, min(date.day, last_day))
        t = ((new_date.toordinal() - _EPOCH_ORDINAL) * 86400 + rem) * NS_PER_S + frac
    return Time(int(t) + d.ns)


def format_float(value: float) -> str:
    """Go's ``strconv.FormatFloat(v, 'f', -1, 64)``: shortest digits, never an exponent."""
    if value != value:
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = repr(value)
    if "e" in text or "E" in text:
        mantissa, exp = text.split("e")
        exponent = int(exp)
        negative = mantissa.startswith("-")
        digits = mantissa.lstrip("-").replace(".", "")
        point = mantissa.lstrip("-").find(".")
        if point < 0:
            point = len(mantissa.lstrip("-"))
        point += exponent
        if point <= 0:
            text = "0." + "0" * (-point) + digits
        elif point >= len(digits):
            text = digits + "0" * (point - len(digits))
        else:
            text = digits[:point] + "." + digits[point:]
        text = text.rstrip("0").rstrip(".") if "." in text else text
        return ("-" if negative else "") + text
    if text.endswith(".0"):
        text = text[:-2]
    return "0" if text == "-0" else text


@dataclass(frozen=True)
class Regex:
    """A compiled RE2 regular expression (Flux uses Go's RE2 syntax, unanchored)."""

    pattern: str
    compiled: object

    def search(self, text: str) -> bool:
        return self.compiled.search(text) is not None  # type: ignore[attr-defined]


@lru_cache(maxsize=256)
def compile_regex(pattern: str) -> Regex:
    """Compile with RE2 (Go's regexp syntax); ValueError with RE2's reason if invalid."""
    import re2

    options = re2.Options()
    options.log_errors = False  # RE2 would otherwise print every bad pattern to stderr
    try:
        return Regex(pattern, re2.compile(pattern, options))
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise ValueError(str(reason)) from None


class Function:
    """Base for anything callable from Flux."""


@dataclass
class Builtin(Function):
    """A function implemented in Python: ``impl(interp, args, loc) -> value``.

    ``pipe`` names the argument the piped-in value binds to (``tables`` for transformations).
    """

    name: str
    impl: object
    pipe: str | None = None


@dataclass
class Closure(Function):
    """A Flux arrow function with the scope it was defined in."""

    node: object  # ast.FunctionExpr
    scope: object  # interpreter.Scope
    name: str = "<function>"


def type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, Time):
        return "time"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Duration):
        return "duration"
    if isinstance(value, Regex):
        return "regexp"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "record"
    if isinstance(value, Function):
        return "function"
    return "stream"
