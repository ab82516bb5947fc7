"""``manage.py api_key create|list|revoke``: the API keys of scripts and front ends."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from devices.api import keys
from devices.api.models import ApiKey


class Command(BaseCommand):
    help = "Create (shown once), list or revoke API keys of the JSON API."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a key; it is printed once")
        create.add_argument("name")
        create.add_argument("--owner", required=True, help="username whose rights the key has")
        create.add_argument("--read-only", action="store_true", help="never changes anything")
        sub.add_parser("list", help="list keys (never the keys themselves)")
        revoke = sub.add_parser("revoke", help="revoke a key by its id or prefix")
        revoke.add_argument("key", help="id or prefix (as listed)")

    def handle(self, *args, action: str, **options):
        getattr(self, f"_{action}")(**options)

    def _create(self, *, name: str, owner: str, read_only: bool, **_):
        try:
            user = get_user_model().objects.get(username=owner)
        except get_user_model().DoesNotExist:
            raise CommandError(
                f"no user {owner!r}: create it first (manage.py createsuperuser)"
            ) from None
        try:
            key, raw = keys.create_key(name=name, owner=user, read_only=read_only)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stderr.write(f"API key {key.id} {key.name!r} of {owner}; copy it now:")
        self.stdout.write(raw)

    def _list(self, **_):
        for key in ApiKey.objects.select_related("owner"):
            state = "revoked" if key.revoked_at else ("read-only" if key.read_only else "active")
            used = key.last_used_at.isoformat() if key.last_used_at else "never used"
            self.stdout.write(
                f"{key.id}\t{key.prefix}\t{key.name}\t{key.owner.username}\t{state}\t{used}"
            )

    def _revoke(self, *, key: str, **_):
        found = (
            ApiKey.objects.filter(id=int(key))
            if key.isdigit()
            else ApiKey.objects.filter(prefix=key)
        )
        if found.count() != 1:
            raise CommandError(f"no single API key {key!r}: see manage.py api_key list")
        row = found.get()
        keys.revoke(row)
        self.stdout.write(f"API key {row.id} {row.name!r} revoked.")
