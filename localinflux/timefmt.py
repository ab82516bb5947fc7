"""The one place that reads and writes times as InfluxDB does: RFC3339 (nano) text <-> int ns.

Everything in localinflux that parses a time from a request (delete bounds, Flux literals,
``range()`` arguments, ``extern`` parameters) or prints one (JSON ``createdAt``, annotated CSV
``_time``) goes through here, so every part agrees on the layout Go's ``time`` package uses.
"""

from __future__ import annotations

import datetime as _dt
import re
from functools import lru_cache

NS_PER_S = 1_000_000_000
# InfluxDB's storage refuses times outside these (models.MinNanoTime / MaxNanoTime).
MIN_NS = -9223372036854775806
MAX_NS = 9223372036854775806

_EPOCH_ORDINAL = _dt.date(1970, 1, 1).toordinal()
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2}))?"
)


def parse_rfc3339(text: str, *, allow_date: bool = False, bounded: bool = False) -> int:
    """Nanoseconds since the epoch for an RFC3339 (nano) timestamp; ValueError if malformed.

    ``allow_date`` also takes a bare ``YYYY-MM-DD`` (midnight UTC), as Flux date literals do;
    ``bounded`` refuses times outside what InfluxDB's storage can hold, as its delete API does.
    """
    m = _RFC3339.fullmatch(text or "")
    if m is None or (m[4] is None and not allow_date):
        raise ValueError(f"invalid time {text!r}")
    try:
        days = _dt.date(int(m[1]), int(m[2]), int(m[3])).toordinal() - _EPOCH_ORDINAL
    except ValueError:
        raise ValueError(f"invalid time {text!r}") from None
    secs = days * 86400
    frac = 0
    if m[4] is not None:
        hour, minute, second = int(m[4]), int(m[5]), int(m[6])
        if hour > 23 or minute > 59 or second > 60:
            raise ValueError(f"invalid time {text!r}")
        secs += hour * 3600 + minute * 60 + second
        if m[7]:
            frac = int(m[7].ljust(9, "0"))
        zone = m[8]
        if zone not in ("Z", "z"):
            sign = 1 if zone[0] == "+" else -1
            secs -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    ns = secs * NS_PER_S + frac
    if bounded and not MIN_NS <= ns <= MAX_NS:
        raise ValueError(f"time {text!r} is out of range")
    return ns


@lru_cache(maxsize=4096)
def _day_text(days: int) -> str:
    return _dt.date.fromordinal(_EPOCH_ORDINAL + days).isoformat()


def format_rfc3339(ns: int) -> str:
    """RFC3339Nano in UTC with trailing fractional zeros trimmed, as Go prints a time."""
    secs, frac = divmod(int(ns), NS_PER_S)
    days, rem = divmod(secs, 86400)
    hour, rem = divmod(rem, 3600)
    minute, second = divmod(rem, 60)
    text = f"{_day_text(days)}T{hour:02d}:{minute:02d}:{second:02d}"
    if frac:
        text += "." + f"{frac:09d}".rstrip("0")
    return text + "Z"


def format_duration(seconds: float) -> str:
    """Go's ``time.Duration.String()`` for a number of seconds (``/ready``'s ``up`` field)."""
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    out = ""
    if h:
        out += f"{int(h)}h"
    if h or m:
        out += f"{int(m)}m"
    return out + f"{s:.9f}".rstrip("0").rstrip(".") + "s"
