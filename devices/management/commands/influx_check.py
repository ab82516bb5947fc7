"""Check that IoT Center can do its job with the INFLUX_* settings."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from devices import influx


class Command(BaseCommand):
    help = (
        "Check InfluxDB: reachable, INFLUX_ORG and both buckets exist, and INFLUX_TOKEN can read "
        "and write the registry bucket, write telemetry and create device authorizations. "
        "Exits non-zero with the reason when something is missing."
    )

    def handle(self, *args, **options):
        shown = influx.masked_settings()
        for name, value in shown.items():
            self.stdout.write(f"{name} = {value}")
        checks = influx.check_access()
        for check in checks:
            mark = self.style.SUCCESS("ok  ") if check.ok else self.style.ERROR("FAIL")
            self.stdout.write(f"{mark} {check.name}: {check.detail}")
        failed = [c for c in checks if not c.ok]
        if failed:
            raise CommandError(f"{len(failed)} check(s) failed: {failed[0].detail}")
        self.stdout.write(self.style.SUCCESS("All checks passed."))
