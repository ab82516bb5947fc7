"""The fleet overview at ``/``: every device's newest values and its points of the last hour."""

from __future__ import annotations

from .flux import DEVICE_TAGS, TELEMETRY_MEASUREMENT, _columns, quote

# Result names of ``fleet_overview``.
FLEET_LATEST_RESULT = "latest"
FLEET_HOUR_RESULT = "hour"


def fleet_overview(bucket: str) -> str:
    """Every device's newest value of each field, and per device and field the number of
    points of the last hour: what the overview shows, in one query whatever the fleet size.

    No ``group()`` over values: fields of different types cannot share a table.
    """
    return (
        f"from(bucket: {quote(bucket)})\n"
        "  |> range(start: 0)\n"
        f"  |> filter(fn: (r) => r._measurement == {quote(TELEMETRY_MEASUREMENT)})\n"
        "  |> last()\n"
        f"  |> keep(columns: {_columns('_time', '_value', '_field', *DEVICE_TAGS)})\n"
        f"  |> yield(name: {quote(FLEET_LATEST_RESULT)})\n\n"
        f"from(bucket: {quote(bucket)})\n"
        "  |> range(start: -1h)\n"
        f"  |> filter(fn: (r) => r._measurement == {quote(TELEMETRY_MEASUREMENT)})\n"
        "  |> count()\n"
        f"  |> keep(columns: {_columns('_value', '_field', *DEVICE_TAGS)})\n"
        "  |> group()\n"
        f"  |> yield(name: {quote(FLEET_HOUR_RESULT)})"
    )
