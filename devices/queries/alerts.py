"""Alert evaluation: one query per field and window, and last seen for silence rules."""

from __future__ import annotations

import re

from .flux import (
    DEVICE_TAGS,
    TELEMETRY_MEASUREMENT,
    _columns,
    duration,
    quote,
)

# A field an alert rule may watch: letters, digits and "_" (checked again here, then quoted).
ALERT_FIELD_RE = re.compile(r"[A-Za-z0-9_]{1,64}")
# Result names of ``alert_window``.
ALERT_WINDOW_RESULTS = ("min", "max", "count", "first", "last")


def alert_field(field: str) -> str:
    """Return ``field`` if an alert rule may watch it, else raise ``ValueError``."""
    if not isinstance(field, str) or not ALERT_FIELD_RE.fullmatch(field):
        raise ValueError(f"not an alert field: {field!r}")
    return field


def alert_window(bucket: str, field: str, start: str) -> str:
    """min/max/count/first/last of one field of *every* device over ``start``..now.

    One query per (field, window) however many devices and rules share it: the evaluator
    attributes rows to devices (``clientId`` else ``device``), as the other telemetry reads do.
    """
    field = alert_field(field)
    data = (
        "data = "
        f"from(bucket: {quote(bucket)})\n"
        f"  |> range(start: {duration(start)})\n"
        f"  |> filter(fn: (r) => r._measurement == {quote(TELEMETRY_MEASUREMENT)}"
        f" and r._field == {quote(field)})\n"
    )
    with_time = f"  |> keep(columns: {_columns('_time', '_value', *DEVICE_TAGS)})\n"
    parts = [data]
    for fn in ALERT_WINDOW_RESULTS:
        keep = (
            f"  |> keep(columns: {_columns('_value', *DEVICE_TAGS)})\n"
            if fn == "count"
            else with_time
        )
        parts.append(f"data |> {fn}()\n{keep}  |> group()\n  |> yield(name: {quote(fn)})\n")
    return "\n".join(parts)


def alert_last_seen(bucket: str) -> str:
    """Newest telemetry time of every device that ever wrote (silence rules), in one table."""
    return (
        f"from(bucket: {quote(bucket)})\n"
        "  |> range(start: 0)\n"
        f"  |> filter(fn: (r) => r._measurement == {quote(TELEMETRY_MEASUREMENT)})\n"
        "  |> last()\n"
        f"  |> keep(columns: {_columns('_time', *DEVICE_TAGS)})\n"
        "  |> group()"
    )
