"""Check that IoT Center can do its job with the INFLUX_* settings."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from devices import influx


class Command(BaseCommand):
    help = (
        "Check InfluxDB: reachable, INFLUX_ORG and both buckets exist, and INFLUX_TOKEN can read "
        "and write the registry bucket, write telemetry and create device authorizations; "
        "report device authorizations the registry does not reference (orphans). "
        "Exits non-zero with the reason when something is missing or orphans exist."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--revoke-orphans",
            action="store_true",
            help=(
                "after the other checks pass, revoke the device authorizations the registry "
                "does not reference (their tokens stop working), device by device under the "
                "device's change lock; exits non-zero if any is left"
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
        orphans = [c for c in failed if c.name == influx.ORPHANS_CHECK]
        others = [c for c in failed if c.name != influx.ORPHANS_CHECK]
        if others or (orphans and not options["revoke_orphans"]):
            first = (others or orphans)[0]
            raise CommandError(f"{len(failed)} check(s) failed: {first.detail}")
        warnings = [c for c in checks if c.warning]
        if options["revoke_orphans"]:
            revoked = influx.revoke_orphan_authorizations()
            for orphan in revoked:
                self.stdout.write(f"revoked authorization {orphan.key} ({orphan.device_id})")
            self.stdout.write(f"Revoked {len(revoked)} orphan authorization(s).")
            left = influx.orphan_authorizations()
            if left:
                shown = ", ".join(f"{o.key} ({o.device_id})" for o in left[:10])
                raise CommandError(
                    f"{len(left)} orphan authorization(s) could not be revoked and still work: "
                    f"{shown}; run manage.py influx_check --revoke-orphans again"
                )
        if warnings:
            self.stdout.write(
                self.style.WARNING(f"All checks passed, with {len(warnings)} warning(s).")
            )
        else:
            self.stdout.write(self.style.SUCCESS("All checks passed."))
