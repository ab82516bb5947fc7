"""The ``strings`` package: ``containsStr`` and ``toLower`` (what a case-insensitive search of
ids needs).

Each is also a plain Python function (``scalar``) so ``compiled.py`` can call it per row without
going through the interpreter. A null argument (a missing column) gives null, which ``filter``
treats as false.
"""

from __future__ import annotations

from ..interpreter import Call
from .registry import signature


def _str_arg(call: Call, name: str) -> str | None:
    return call.string(name)


def lower(v: str | None) -> str | None:
    """Go's ``strings.ToLower``: ``unicode.ToLower`` rune by rune (simple case mapping, so one
    character stays one character, unlike Python's ``str.lower`` for e.g. "İ")."""
    if v is None:
        return None
    if v.isascii():
        return v.lower()
    return "".join(low[0] if len(low := ch.lower()) != 1 else low for ch in v)


def contains(v: str | None, substr: str | None) -> bool | None:
    if v is None or substr is None:
        return None
    return substr in v


@signature("v", required="v", pipe=None)
def to_lower(call: Call) -> str | None:
    return lower(_str_arg(call, "v"))


@signature("v substr", required="v substr", pipe=None)
def contains_str(call: Call) -> bool | None:
    return contains(_str_arg(call, "v"), _str_arg(call, "substr"))


to_lower.scalar = lower  # type: ignore[attr-defined]
contains_str.scalar = contains  # type: ignore[attr-defined]
