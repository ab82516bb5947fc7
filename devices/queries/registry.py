"""The registry bucket: the device list, its pages, one device."""

from __future__ import annotations

from devices.ids import validate_device_id

from .flux import (
    REGISTRY_MEASUREMENT,
    quote,
)


def registry_list(bucket: str) -> str:
    """Latest ``key`` and ``createdAt`` of every registered device (tokens are not read).

    ``range(start: 0)``: registrations of any age, unlike the reference apps' ``-30d`` window.
    """
    return (
        f"from(bucket: {quote(bucket)})\n"
        "  |> range(start: 0)\n"
        f"  |> filter(fn: (r) => r._measurement == {quote(REGISTRY_MEASUREMENT)}"
        ' and (r._field == "key" or r._field == "createdAt"))\n'
        "  |> last()\n"
        '  |> keep(columns: ["_time", "_value", "_field", "deviceId"])\n'
        # One table instead of one per device: far less to send and parse at 10,000 devices.
        "  |> group()"
    )


# Result names of ``registry_page``.
REGISTRY_TOTAL_RESULT = "total"
REGISTRY_PAGE_RESULT = "page"


def _live_ids(bucket: str) -> str:
    """One table of the registered, not removed ids: one row of one column (``deviceId``) each.

    Only the ``key`` field is read (never the token); removed devices (``key=""``) are dropped
    by InfluxDB. ``last()`` here is pushed down to storage (one point per series); the filter and
    ``keep`` then see one row per device. Shared by the list (``registry_page``) and the fleet
    overview, which count and slice it in InfluxDB.
    """
    return (
        f"from(bucket: {quote(bucket)})\n"
        "  |> range(start: 0)\n"
        f"  |> filter(fn: (r) => r._measurement == {quote(REGISTRY_MEASUREMENT)}"
        ' and r._field == "key")\n'
        "  |> last()\n"
        '  |> filter(fn: (r) => r._value != "")\n'
        '  |> keep(columns: ["deviceId"])\n'
        "  |> group()"
    )


def registry_page(bucket: str, *, search: str = "", limit: int, offset: int = 0) -> str:
    """One page of registered ids and how many ids match, counted and sliced by InfluxDB.

    Two named results: ``total`` (one row, ``_value`` = how many distinct ids match) and
    ``page`` (at most ``limit`` rows, ``_value`` = an id, sorted by id, from ``offset``). A
    list page therefore gets ``limit + 1`` rows back whatever the number of devices.
    ``search`` matches a case-insensitive substring of the id: both sides lowercased as Go's
    ``strings.ToLower`` does, the text quoted with ``quote``. ``distinct`` counts an id once
    even if other apps wrote it in several series (extra tags).
    """
    limit, offset = int(limit), int(offset)
    if limit < 1 or offset < 0:
        raise ValueError("registry_page needs limit >= 1 and offset >= 0")
    # Go's strings.ToLower maps rune by rune ("İ" -> "i"), Python's lower() may not.
    needle = "".join(ch.lower()[:1] or ch for ch in search)
    head = 'import "strings"\n\n' if needle else ""
    ids = _live_ids(bucket)
    if needle:
        ids += (
            "\n  |> filter(fn: (r) => strings.containsStr("
            f"v: strings.toLower(v: r.deviceId), substr: {quote(needle)}))"
        )
    ids += '\n  |> distinct(column: "deviceId")'
    return (
        f"{head}ids = {ids}\n\n"
        f"ids |> count() |> yield(name: {quote(REGISTRY_TOTAL_RESULT)})\n"
        f"ids |> sort() |> limit(n: {limit}, offset: {offset})"
        f" |> yield(name: {quote(REGISTRY_PAGE_RESULT)})"
    )


def registry_device(bucket: str, device_id: str) -> str:
    """Latest ``key``, ``token``, ``createdAt`` and ``rotatedAt`` of one device."""
    device_id = validate_device_id(device_id)
    return (
        f"from(bucket: {quote(bucket)})\n"
        "  |> range(start: 0)\n"
        f"  |> filter(fn: (r) => r._measurement == {quote(REGISTRY_MEASUREMENT)}"
        f" and r.deviceId == {quote(device_id)})\n"
        "  |> last()\n"
        '  |> keep(columns: ["_time", "_value", "_field", "deviceId"])'
    )
