"""Prepare InfluxDB for IoT Center: onboard an empty instance, create missing buckets."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from devices import influx


class Command(BaseCommand):
    help = (
        "Create INFLUX_BUCKET and INFLUX_BUCKET_AUTH in INFLUX_ORG if they are missing. With "
        "--onboard, first set up an empty InfluxDB (org INFLUX_ORG, INFLUX_TOKEN as the operator "
        "token, a first user). Safe to run again: it only does what is missing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--onboard", action="store_true", help="set up an empty InfluxDB first")
        parser.add_argument("--username", help="first user's name (with --onboard)")
        parser.add_argument(
            "--password", help="first user's password, 8 to 72 characters (with --onboard)"
        )

    def handle(self, *args, **options):
        settings_shown = influx.masked_settings()
        self.stdout.write(
            f"InfluxDB {settings_shown['INFLUX_URL']}, org {settings_shown['INFLUX_ORG']!r}, "
            f"token {settings_shown['INFLUX_TOKEN']}"
        )
        try:
            if options["onboard"]:
                self.onboard(options["username"], options["password"])
            elif not influx.is_onboarded():
                raise CommandError(
                    "This InfluxDB is not set up yet: run again with "
                    "--onboard --username USER --password PASSWORD."
                )
            for name, created in influx.ensure_buckets():
                self.stdout.write(
                    f"Bucket {name!r}: " + ("created" if created else "exists already")
                )
        except influx.InfluxError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(self.style.SUCCESS("InfluxDB is ready for IoT Center."))

    def onboard(self, username: str | None, password: str | None) -> None:
        if not username or not password:
            raise CommandError("--onboard needs --username and --password.")
        if not 8 <= len(password) <= 72:
            raise CommandError("The password must be 8 to 72 characters long.")
        if influx.onboard(username=username, password=password):
            self.stdout.write(
                f"Onboarded: user {username!r}, org and operator token from INFLUX_ORG and "
                "INFLUX_TOKEN."
            )
        else:
            self.stdout.write("Already set up: onboarding skipped.")
