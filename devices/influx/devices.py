"""Reads of the registry (selectors): the device list, one device, a device's page, the
credentials a virtual device writes with."""

from __future__ import annotations

import math
from datetime import datetime

from devices import queries
from devices.ids import is_valid_device_id

from .client import Conn, get
from .lowlevel import (
    active_registration,
    check_id,
    decode_registry,
    query,
    registry_all,
    registry_query,
    require_registered,
    telemetry_query,
)
from .telemetry import last_seen, note_seen, readings_from, series_from, stats_from, time_range
from .types import (
    DEFAULT_RANGE,
    Device,
    DeviceCredentials,
    DevicePage,
    DeviceView,
    Registration,
    mask_token,
)


def credentials(
    conn: Conn, device_id: str, key: str, token: str, *, warning: str = ""
) -> DeviceCredentials:
    return DeviceCredentials(
        device_id=device_id,
        key=key,
        token=token,
        url=conn.url,
        org=conn.org,
        bucket=conn.bucket,
        warning=warning,
    )


def _registry_page(conn: Conn, needle: str, per_page: int, page: int) -> tuple[int, list[str]]:
    """(how many ids match, the ids of the page): one query, ``per_page + 1`` rows at most."""
    rows = registry_query(
        conn,
        queries.registry_page(
            conn.bucket_auth, search=needle, limit=per_page, offset=(page - 1) * per_page
        ),
        "list devices",
    )
    total, ids = 0, []
    for row in rows:
        if row.get("result") == queries.REGISTRY_TOTAL_RESULT:
            total += int(row.get("_value") or 0)
        elif d := row.get("_value"):
            ids.append(d)
    return total, ids


def _page_details(
    conn: Conn, device_ids: list[str]
) -> tuple[dict[str, Registration], dict[str, datetime]]:
    """(device id -> registry entry, device id -> last telemetry time) for one page, in one
    query. Ids other apps wrote that break our rules get their registry details but no
    last-seen time, as ``get_device`` cannot look them up either."""
    ids = [d for d in device_ids if is_valid_device_id(d)]
    foreign = [d for d in device_ids if not is_valid_device_id(d)]
    if not ids and not foreign:
        return {}, {}
    rows = telemetry_query(
        conn,
        queries.list_page(conn.bucket_auth, conn.bucket, ids, foreign),
        "read the devices of this page",
        # The registry was readable a moment ago (the id list): a bucket missing now is
        # most likely the telemetry bucket.
    )
    seen: dict[str, datetime] = {}
    wanted = set(ids)
    registry_rows = []
    for row in rows:
        if row.get("result") == queries.PAGE_TELEMETRY_RESULT:
            note_seen(seen, row, wanted)
        else:
            registry_rows.append(row)
    return decode_registry(registry_rows), seen


def list_devices(*, search: str = "", page: int = 1, per_page: int = 50) -> DevicePage:
    """Registered (not soft-deleted) devices, id contains ``search`` (case-insensitive),
    sorted by id, with last telemetry time. InfluxDB counts, searches, sorts and slices
    (``registry_page``), then one query reads the page's details (``list_page``): two
    queries and about three rows per device of the page, whatever the number of devices. A
    page number past the end costs one more query (the last page)."""
    conn = get()
    per_page = max(1, int(per_page))
    needle = (search or "").strip()
    page = max(1, int(page))
    total, page_ids = _registry_page(conn, needle, per_page, page)
    num_pages = max(1, math.ceil(total / per_page))
    if page > num_pages:
        page = num_pages
        total, page_ids = _registry_page(conn, needle, per_page, page)
        num_pages = max(1, math.ceil(total / per_page))
    details, seen = _page_details(conn, page_ids)
    devices = []
    for d in page_ids:
        reg = details.get(d)
        devices.append(
            Device(
                device_id=d,
                key=reg.key if reg else "",
                created_at=reg.created_at if reg else None,
                last_seen=seen.get(d),
            )
        )
    return DevicePage(
        devices=devices, total=total, page=page, per_page=per_page, num_pages=num_pages
    )


def last_telemetry(device_ids: list[str]) -> dict[str, datetime]:
    """device id -> newest telemetry time of the given ids (a list page's devices, for its
    live refresh): one query (``list_page``: registry entries and times) for the valid ids,
    none when there are none. Only registered, not removed devices get a time: the ids come
    from the browser, and the answer tells no more than the list shows (not whether a removed
    or never registered id has telemetry). Ids that break our rules (other apps') have no
    time, as on the page itself."""
    ids = [d for d in dict.fromkeys(device_ids) if is_valid_device_id(d)]
    if not ids:
        return {}
    registry, seen = _page_details(get(), ids)
    return {d: at for d, at in seen.items() if (reg := registry.get(d)) and reg.key}


def registered_device_ids() -> list[str]:
    """Ids of all registered devices, sorted."""
    return sorted(registry_all(get()))


def get_device(device_id: str) -> Device:
    """Raises InvalidDeviceId, DeviceNotFound."""
    device_id = check_id(device_id)
    conn = get()
    reg = active_registration(conn, device_id)
    seen = last_seen(conn, [device_id])
    return Device(
        device_id=device_id,
        key=reg.key,
        created_at=reg.created_at,
        last_seen=seen.get(device_id),
        token_hint=mask_token(reg.token),
        rotated_at=reg.rotated_at,
    )


def device_credentials(device_id: str) -> DeviceCredentials:
    """The stored credentials of a registered device (for the virtual device; never for pages)."""
    device_id = check_id(device_id)
    conn = get()
    reg = active_registration(conn, device_id)
    return credentials(conn, device_id, reg.key, reg.token)


def read_view(conn: Conn, device_id: str, flux: str) -> tuple[Device, list, dict[str, list]]:
    """Run a query built on ``queries.device_view`` (it may add results of its own): the
    registered device, its latest readings, and every result's rows by name. Raises
    DeviceNotFound."""
    rows = query(
        conn,
        flux,
        f"read device {device_id!r}",
        # Most likely to be missing when the registry could be read before: the telemetry one.
        bucket=conn.bucket,
        setting="INFLUX_BUCKET",
    )
    by_result: dict[str, list[dict]] = {}
    for row in rows:
        by_result.setdefault(row.get("result"), []).append(row)
    registry = decode_registry(by_result.get(queries.VIEW_REGISTRY_RESULT, []))
    reg = require_registered(registry.get(device_id), device_id)
    readings = readings_from(by_result.get(queries.VIEW_LATEST_RESULT, []), device_id)
    device = Device(
        device_id=device_id,
        key=reg.key,
        created_at=reg.created_at,
        # Every field's newest point is among the readings: the newest of them is last-seen.
        last_seen=max((r.time for r in readings), default=None),
        token_hint=mask_token(reg.token),
        rotated_at=reg.rotated_at,
    )
    return device, readings, by_result


def device_view(
    device_id: str,
    *,
    range_key: str = DEFAULT_RANGE,
    stats: bool = False,
    series: bool = False,
) -> DeviceView:
    """The device, its latest readings and optionally its statistics and chart series over
    the range, in ONE query (the detail page, the dashboard and the API each wait for one
    round trip). Raises InvalidDeviceId, DeviceNotFound."""
    device_id = check_id(device_id)
    start, every = time_range(range_key)
    conn = get()
    flux = queries.device_view(
        conn.bucket_auth,
        conn.bucket,
        device_id,
        stats_start=start if stats else None,
        series=(start, every) if series else None,
    )
    device, readings, by_result = read_view(conn, device_id, flux)
    stats_rows = [
        row for name in ("count", "min", "max", "last") for row in by_result.get(name, [])
    ]
    return DeviceView(
        device=device,
        readings=readings,
        stats=stats_from(stats_rows, device_id) if stats else [],
        series=(
            series_from(by_result.get(queries.VIEW_SERIES_RESULT, []), device_id) if series else {}
        ),
    )
