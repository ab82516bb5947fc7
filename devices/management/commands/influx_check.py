"""Check that IoT Center can do its job with the INFLUX_* settings."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from devices import influx


class Command(BaseCommand):
    help = (
        "Check InfluxDB: reachable, INFLUX_ORG and both buckets exist, and INFLUX_TOKEN can read "
        "and write the registry bucket, write telemetry and create device authorizations; "
        "report device authorizations the registry does not reference (orphans). "
        "Exits non-zero with the reason when something is missing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--revoke-orphans",
            action="store_true",
            help=(
                "after the checks pass, revoke the device authorizations the registry does not "
                "reference (their tokens stop working); run it while no one registers, rotates "
                "or removes devices"
            ),
        )

    def handle(self, *args, **options):
        shown = influx.masked_settings()
        for name, value in shown.items():
            self.stdout.write(f"{name} = {value}")
        checks = influx.check_access()
        for check in checks:
            if not check.ok:
                mark = self.style.ERROR("FAIL")
            elif check.warning:
                mark = self.style.WARNING("WARN")
            else:
                mark = self.style.SUCCESS("ok  ")
            self.stdout.write(f"{mark} {check.name}: {check.detail}")
        failed = [c for c in checks if not c.ok]
        if failed:
            raise CommandError(f"{len(failed)} check(s) failed: {failed[0].detail}")
        warnings = [c for c in checks if c.warning]
        if options["revoke_orphans"]:
            revoked = influx.revoke_orphan_authorizations()
            for orphan in revoked:
                self.stdout.write(f"revoked authorization {orphan.key} ({orphan.device_id})")
            self.stdout.write(f"Revoked {len(revoked)} orphan authorization(s).")
            warnings = [c for c in warnings if c.name != "orphan authorizations"]
        if warnings:
            self.stdout.write(
                self.style.WARNING(f"All checks passed, with {len(warnings)} warning(s).")
            )
        else:
            self.stdout.write(self.style.SUCCESS("All checks passed."))
