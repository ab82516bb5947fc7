"""The API key store: create (the key is returned once), look up by key, revoke."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from .models import ApiKey

KEY_PREFIX = "iotc_"
# What a key looks like: the prefix and 43 URL-safe base64 characters (256 random bits). Only
# such strings are looked up, so anything else in a path segment is refused at once.
KEY_RE = re.compile(r"iotc_[A-Za-z0-9_-]{43}")
# ``last_used_at`` is written at most this often per key (not one write per request).
LAST_USED_PRECISION = timedelta(minutes=1)


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create_key(
    *, name: str, owner: AbstractBaseUser, read_only: bool = False
) -> tuple[ApiKey, str]:
    """A new key for ``owner``: ``(stored row, the key)``. The key cannot be shown again."""
    name = name.strip()
    if not name:
        raise ValueError("an API key needs a name")
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        name=name,
        owner=owner,
        prefix=raw[:12],
        key_hash=hash_key(raw),
        read_only=read_only,
    )
    return key, raw


def authenticate(raw: str) -> ApiKey | None:
    """The active key ``raw`` is, its last-used time updated; None for anything else."""
    if not isinstance(raw, str) or not KEY_RE.fullmatch(raw):
        return None
    key = (
        ApiKey.objects.select_related("owner")
        .filter(key_hash=hash_key(raw), revoked_at__isnull=True)
        .first()
    )
    if key is None or not key.owner.is_active:
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_PRECISION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key


def revoke(key: ApiKey) -> None:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
