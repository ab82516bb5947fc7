"""Create the first staff account, with a random password printed once."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Create a staff superuser with a random password and print the credentials, unless a "
        "user with that name exists already."
    )
    # Needs only the database: it must work before InfluxDB is configured.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin", help="default: admin")
        parser.add_argument("--email", default="", help="optional e-mail address")

    def handle(self, *args, **options):
        username = options["username"].strip()
        if not username:
            raise CommandError("Give a non-empty --username.")
        users = get_user_model()
        if users._default_manager.filter(**{users.USERNAME_FIELD: username}).exists():
            self.stdout.write(
                f"User {username!r} exists already; set a new password with: "
                f"manage.py changepassword {username}"
            )
            return
        password = secrets.token_urlsafe(15)
        users._default_manager.create_superuser(
            username=username, email=options["email"], password=password
        )
        self.stdout.write(self.style.SUCCESS(f"Created staff superuser {username!r}."))
        self.stdout.write(f"Username: {username}")
        self.stdout.write(f"Password: {password}")
        self.stdout.write("Store the password now: it is not shown again.")
