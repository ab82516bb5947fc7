"""Setting InfluxDB up and checking it: onboarding, buckets, health, ``influx_check``'s checks,
the settings as operators may see them."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from influxdb_client.domain.onboarding_request import OnboardingRequest
from influxdb_client.service.ping_service import PingService
from influxdb_client.service.setup_service import SetupService
from influxdb_client.service.write_service import WriteService

from devices import queries

from .authorizations import create_authorization, delete_authorization, find_orphans
from .client import Conn, get, new_conn, reset_client, settings_snapshot
from .deadline import bounded
from .errors import InfluxError, InfluxMisconfigured, bucket_missing, clean, guard
from .lowlevel import (
    REGISTRY_SETTING,
    TELEMETRY_SETTING,
    bucket_id,
    find_bucket,
    org_id,
    registry_all,
    registry_query,
    telemetry_bucket_id,
    telemetry_query,
)
from .types import Check, mask_token

logger = logging.getLogger("devices.influx")

ORPHANS_CHECK = "orphan authorizations"


def health() -> dict:
    """``{"status": "pass"|"fail", "url": ..., "message": ...}`` within the timeout.

    Never raises.
    """
    url = (getattr(settings, "INFLUX_URL", "") or "").rstrip("/")
    try:
        conn = get()

        def check() -> None:
            with guard(conn, "ping"):
                PingService(conn.client.api_client).get_ping()
            # Ping needs no token; a tiny query on each bucket (at most one row of the last
            # minute) proves the org, the buckets, the token and that queries really run: the
            # pages are queries, so health fails when they would.
            telemetry_query(conn, queries.probe(conn.bucket), "query the telemetry bucket")
            registry_query(conn, queries.probe(conn.bucket_auth), "query the registry bucket")

        # All of it within the request's deadline: a load balancer waits INFLUX_TIMEOUT at most.
        bounded(conn, "check InfluxDB", check)
    except InfluxError as exc:
        return {"status": "fail", "url": url, "message": str(exc)}
    except Exception as exc:  # a health check reports, it never raises
        logger.exception("health check failed")
        return {"status": "fail", "url": url, "message": type(exc).__name__}
    return {"status": "pass", "url": url, "message": "ready for queries and writes"}


def _setup_conn(*, patient: bool) -> Conn:
    """A connection of its own that sends no token (setup needs none), so the shared one stays
    untouched."""
    return new_conn(**settings_snapshot(), patient=patient, send_token=False)


def onboard(*, username: str, password: str) -> bool:
    """Set up an empty InfluxDB with org INFLUX_ORG, bucket INFLUX_BUCKET and INFLUX_TOKEN as
    the operator token. False if it was already set up."""
    with _setup_conn(patient=True) as conn:
        service = SetupService(conn.client.api_client)
        with guard(conn, "check whether InfluxDB is set up"):
            if not service.get_setup().allowed:
                return False
        request = OnboardingRequest(
            username=username, password=password, org=conn.org, bucket=conn.bucket, token=conn.token
        )
        with guard(conn, "onboard InfluxDB"):
            service.post_setup(onboarding_request=request)
    reset_client()
    return True


def is_onboarded() -> bool:
    with _setup_conn(patient=False) as conn, guard(conn, "check whether InfluxDB is set up"):
        return not SetupService(conn.client.api_client).get_setup().allowed


def ensure_buckets() -> list[tuple[str, bool]]:
    """Create INFLUX_BUCKET and INFLUX_BUCKET_AUTH if missing: [(name, created), ...]."""
    conn = get()
    org = org_id(conn)
    done: list[tuple[str, bool]] = []
    for name in dict.fromkeys([conn.bucket, conn.bucket_auth]):
        if find_bucket(conn, name) is not None:
            done.append((name, False))
            continue
        with guard(conn, f"create bucket {name!r}"):
            created = conn.client.buckets_api().create_bucket(
                bucket_name=name,
                org=org,
                description="IoT Center device registry (holds device tokens)"
                if name == conn.bucket_auth
                else "IoT Center telemetry",
            )
        conn.ids[f"bucket:{name}"] = created.id
        done.append((name, True))
    return done


def _empty_write(conn: Conn, bucket: str) -> None:
    """An empty write: InfluxDB checks the write permission, then stores nothing."""
    WriteService(conn.client.api_client).post_write(
        org=conn.org, bucket=bucket, body=b"", precision="ns"
    )


def _run_step(checks: list[Check], conn: Conn, name: str, fn: Callable[[], object]) -> bool:
    """Run one check step; record what it found. False if it failed."""
    try:
        result = fn()  # a detail, or a whole Check (a warning)
    except InfluxError as exc:
        checks.append(Check(name, False, str(exc)))
        return False
    except Exception as exc:
        # Not an InfluxDB answer (those are InfluxError by now): a bug. Keep its traceback.
        logger.exception("influx_check: step %r failed unexpectedly", name)
        detail = clean(f"{type(exc).__name__}: {exc} (traceback in the log)", conn.token)
        checks.append(Check(name, False, detail))
        return False
    if isinstance(result, Check):
        checks.append(result)
    else:
        checks.append(Check(name, True, result or "ok"))
    return True


def check_access() -> list[Check]:
    """What ``manage.py influx_check`` reports: can this app do its job with these settings?

    Stops at the first failing step that later steps depend on.
    """
    checks: list[Check] = []
    try:
        conn = get()
    except InfluxMisconfigured as exc:
        return [Check("settings", False, str(exc))]

    def step(name: str, fn) -> bool:
        return _run_step(checks, conn, name, fn)

    def ping():
        with guard(conn, "reach InfluxDB"):
            PingService(conn.client.api_client).get_ping()
        return f"{conn.url} answers"

    def set_up():
        if not is_onboarded():
            raise InfluxMisconfigured(
                "this InfluxDB has not been set up yet: run manage.py influx_setup --onboard "
                "--username USER --password PASSWORD"
            )
        return "onboarded"

    def org():
        return f"{conn.org!r} has id {org_id(conn)}"

    def bucket(name: str, setting: str):
        return lambda: f"{name!r} has id {bucket_id(conn, name, setting)}"

    def read_registry():
        registry_query(conn, queries.probe(conn.bucket_auth), "read the registry bucket")
        return "token can read INFLUX_BUCKET_AUTH"

    def write(name: str, setting: str):
        def run():
            with guard(conn, f"write to {name!r}", not_found=bucket_missing(name, setting)):
                _empty_write(conn, name)
            return f"token can write {setting}"

        return run

    def authorizations():
        auth = create_authorization(conn, "influx-check")
        delete_authorization(conn, auth.id)
        return "token can create and delete device authorizations"

    def orphans():
        found = find_orphans(conn, telemetry_bucket_id(conn), registry_all(conn))
        if not found:
            return "every device authorization is the registry's"
        shown = ", ".join(f"{o.key} ({o.device_id})" for o in found[:10])
        more = f" and {len(found) - 10} more" if len(found) > 10 else ""
        # A failure: a token nobody is told about still works (influx_check exits non-zero).
        return Check(
            ORPHANS_CHECK,
            False,
            f"{len(found)} device authorization(s) on {conn.bucket!r} that the registry "
            f"does not reference, whose tokens still work: {shown}{more}; revoke them with "
            "manage.py influx_check --revoke-orphans",
        )

    if not step("reachable", ping) or not step("set up", set_up) or not step("organization", org):
        return checks
    ok_t = step("telemetry bucket", bucket(conn.bucket, TELEMETRY_SETTING))
    ok_a = step("registry bucket", bucket(conn.bucket_auth, REGISTRY_SETTING))
    if ok_a:
        step("read registry", read_registry)
        step("write registry", write(conn.bucket_auth, REGISTRY_SETTING))
    if ok_t:
        step("write telemetry", write(conn.bucket, TELEMETRY_SETTING))
        authorized = step("create authorizations", authorizations)
        if ok_a and authorized:
            step(ORPHANS_CHECK, orphans)
    return checks


def device_connection(device_id: str) -> list[tuple[str, str]]:
    """What a device needs to write telemetry, minus its token (shown only once)."""
    return [
        ("InfluxDB URL", settings.INFLUX_URL),
        ("Organization", settings.INFLUX_ORG),
        ("Bucket", settings.INFLUX_BUCKET),
        ("Device id", device_id),
    ]


# Said to staff on the device lists and by `manage.py check` (devices.W001).
SHARED_BUCKET_WARNING = (
    "The telemetry bucket and the device registry bucket are the same bucket, so device tokens "
    "are stored beside telemetry. Use separate buckets (INFLUX_BUCKET_AUTH) when you can."
)


def registry_shares_telemetry_bucket() -> bool:
    """True when device tokens are stored in the telemetry bucket (one bucket for both)."""
    return settings.INFLUX_BUCKET == settings.INFLUX_BUCKET_AUTH


def masked_settings() -> dict[str, str]:
    """INFLUX_* settings for display, the token masked."""
    return {
        "INFLUX_URL": settings.INFLUX_URL,
        "INFLUX_ORG": settings.INFLUX_ORG,
        "INFLUX_TOKEN": mask_token(settings.INFLUX_TOKEN or "") or "(not set)",
        "INFLUX_BUCKET": settings.INFLUX_BUCKET,
        "INFLUX_BUCKET_AUTH": settings.INFLUX_BUCKET_AUTH,
        "INFLUX_TIMEOUT": str(settings.INFLUX_TIMEOUT),
    }
