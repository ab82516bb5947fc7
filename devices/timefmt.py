"""RFC3339 times as the app writes and reads them (the registry's ``createdAt``, the JSON API)."""

from __future__ import annotations

from datetime import UTC, datetime


def format_rfc3339(value: datetime, *, timespec: str = "microseconds") -> str:
    """``2024-05-01T12:00:00.000000Z``: UTC, ``Z`` suffix (``timespec`` as ``isoformat``'s)."""
    return value.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def parse_rfc3339(value: object) -> datetime | None:
    """A datetime (UTC if no offset is given) from an RFC3339 string; None if empty or not
    a time. A datetime is returned unchanged."""
    if isinstance(value, datetime):
        return value
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
