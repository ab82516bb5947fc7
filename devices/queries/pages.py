"""Queries that read the registry and the telemetry bucket in one round trip: a page of the
device list, and a device with its latest readings (and optionally statistics and series)."""

from __future__ import annotations

from collections.abc import Sequence

from devices.ids import validate_device_id

from .flux import REGISTRY_MEASUREMENT, _any_of, _device_ids, _device_match, quote
from .registry import registry_device
from .telemetry import field_stats, last_seen, latest_readings, telemetry_series

# Result names of ``list_page``.
PAGE_REGISTRY_RESULT = "registry"
PAGE_TELEMETRY_RESULT = "telemetry"


def list_page(
    bucket_auth: str, bucket: str, device_ids: Sequence[str], foreign_ids: Sequence[str] = ()
) -> str:
    """``key``/``createdAt`` and the last telemetry times of one page of devices, in one query.

    Two named results: ``registry`` (rows as ``registry_list`` gives them, for these devices
    only) and ``telemetry`` (as ``last_seen``). Together with ``registry_page`` a list page costs
    two queries however many devices there are.

    ``foreign_ids`` are ids other apps wrote that break our rules: they come from the registry
    itself (never from a user), are matched as quoted string literals in the registry part, and
    are left out of the telemetry part, as ``last_seen`` leaves them out.
    """
    ids = _device_ids(device_ids)
    others = list(foreign_ids)
    if not ids and not others:
        raise ValueError("list_page needs at least one device id")
    matches = []
    if ids:
        matches.append(_device_match("deviceId", ids))
    if others:
        matches.append(_any_of("deviceId", others))
    query = (
        f"from(bucket: {quote(bucket_auth)})\n"
        "  |> range(start: 0)\n"
        f"  |> filter(fn: (r) => r._measurement == {quote(REGISTRY_MEASUREMENT)}"
        ' and (r._field == "key" or r._field == "createdAt")'
        f" and ({' or '.join(matches)}))\n"
        "  |> last()\n"
        '  |> keep(columns: ["_time", "_value", "_field", "deviceId"])\n'
        "  |> group()\n"
        f"  |> yield(name: {quote(PAGE_REGISTRY_RESULT)})\n"
    )
    if ids:
        query += (
            "\n" + last_seen(bucket, ids) + f"\n  |> yield(name: {quote(PAGE_TELEMETRY_RESULT)})"
        )
    return query


# Result names of ``device_view`` (``field_stats`` adds its own: count, min, max, last).
VIEW_REGISTRY_RESULT = "registry"
VIEW_LATEST_RESULT = "latest"
VIEW_SERIES_RESULT = "series"


def device_view(
    bucket_auth: str,
    bucket: str,
    device_id: str,
    *,
    stats_start: str | None = None,
    series: tuple[str, str] | None = None,
) -> str:
    """What one device's page shows, in one request: a page waits for one round trip, not four.

    Named results: ``registry`` (as ``registry_device``), ``latest`` (as ``latest_readings``),
    with ``stats_start`` the four results of ``field_stats``, with ``series=(start, every)``
    ``series`` (as ``telemetry_series``). The newest ``latest`` time is the device's last-seen
    time, so no separate query is needed for it.
    """
    device_id = validate_device_id(device_id)
    parts = [
        registry_device(bucket_auth, device_id)
        + f"\n  |> yield(name: {quote(VIEW_REGISTRY_RESULT)})",
        latest_readings(bucket, device_id) + f"\n  |> yield(name: {quote(VIEW_LATEST_RESULT)})",
    ]
    if stats_start is not None:
        parts.append(field_stats(bucket, device_id, stats_start))
    if series is not None:
        start, every = series
        parts.append(
            telemetry_series(bucket, device_id, start, every)
            + f"\n  |> yield(name: {quote(VIEW_SERIES_RESULT)})"
        )
    return "\n\n".join(parts)
