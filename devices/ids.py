"""What a device id may be: checked before any query, form or URL sees it.

Ids come from operators (register form, ``manage.py simulate``), from URLs and from registries
other apps wrote. Only ids that pass ``validate_device_id`` reach a Flux query, a delete
predicate or a page URL.
"""

from __future__ import annotations

import re

# Letters, digits and ``_ - . :``: what the reference apps' device ids use (uuids, MAC-like ids,
# "virtual_device-1"), and nothing that means something to Flux, line protocol or a URL path.
DEVICE_ID_RE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
DEVICE_ID_RULES = "1 to 64 characters: letters, digits and _ - . :"

# Ids the regex allows but no page could be reached at: ``devices/register/`` is the register
# page, and browsers and Django resolve ``.`` and ``..`` path segments away.
RESERVED_DEVICE_IDS = frozenset({"register", ".", ".."})


def is_valid_device_id(device_id: object) -> bool:
    return (
        isinstance(device_id, str)
        and DEVICE_ID_RE.fullmatch(device_id) is not None
        and device_id not in RESERVED_DEVICE_IDS
    )


def validate_device_id(device_id: object) -> str:
    """Return the id unchanged, or raise ``ValueError`` saying what ids may contain."""
    if isinstance(device_id, str) and device_id in RESERVED_DEVICE_IDS:
        raise ValueError(
            f"device id {device_id!r} is reserved (its pages could not be opened): "
            "choose another id"
        )
    if not is_valid_device_id(device_id):
        raise ValueError(f"invalid device id {device_id!r}: use {DEVICE_ID_RULES}")
    return device_id  # type: ignore[return-value]
