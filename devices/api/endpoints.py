"""The JSON API's routes (django-ninja), in the reference apps' and iot-api-ui's shapes.

Tokens appear in one answer only: registering (``POST /api/devices``) returns the new device's
token and provisioning URL, once, as the token page does.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema, Status
from ninja.errors import AuthenticationError, HttpError, ValidationError

from devices import influx, simulator
from devices.timefmt import format_rfc3339

from . import measurements, provisioning
from .auth import AUTH, require_change_rights

API_PAGE_SIZE = 500
MAX_GENERATE_DEVICES = 20
# "Generate data" writes one point a minute since the device's last point, at most this far back.
GENERATE_BACKFILL = timedelta(hours=1)


class IoTCenterAPI(NinjaAPI):
    def get_content_type(self) -> str:
        # As Django's JsonResponse says it (and the API always did): JSON is UTF-8 anyway.
        return "application/json"


api = IoTCenterAPI(
    title="IoT Center API",
    version="1",
    description=(
        "Devices of IoT Center in the reference apps' JSON shapes. Authenticate with "
        "`Authorization: Bearer <API key>` (or the key in the path: `/api/k/<key>/...`), or "
        "a logged-in session (CSRF token required on POST)."
    ),
    auth=AUTH,
    urls_namespace="api",
    openapi_url="/schema/",
    docs_url="/docs/",
)


# ---- shapes ------------------------------------------------------------------------------------


class Error(Schema):
    code: str
    message: str


class DeviceOut(Schema):
    deviceId: str
    key: str
    createdAt: str | None
    updatedAt: str | None
    lastSeen: str | None


class ReadingOut(Schema):
    field: str
    value: float | int | str | bool
    time: str | None


class DeviceDetailOut(DeviceOut):
    readings: list[ReadingOut]


class RegisterIn(Schema):
    deviceId: str


class RegisteredOut(DeviceOut):
    token: str
    provisioningUrl: str


class GenerateIn(Schema):
    deviceIds: list[str]


class GeneratedOut(Schema):
    deviceId: str
    points: int


class GenerateOut(Schema):
    devices: list[GeneratedOut]


class MeasurementsIn(Schema):
    query: str


class DeviceEnvOut(Schema):
    id: str
    influx_url: str
    influx_org: str
    influx_token: str
    influx_bucket: str
    configuration_refresh: int
    default_lat: float
    default_lon: float
    measurement_interval: int


ERRORS = {
    400: Error,
    401: Error,
    403: Error,
    404: Error,
    503: Error,
}


def _iso(value: datetime | None) -> str | None:
    return format_rfc3339(value, timespec="auto") if value else None


def device_json(device: influx.Device) -> dict:
    return {
        "deviceId": device.device_id,
        "key": device.key,
        "createdAt": _iso(device.created_at),
        # iot-api-ui shows "Updated: <updatedAt>": the newest thing known of the device.
        "updatedAt": _iso(max(filter(None, (device.created_at, device.last_seen)), default=None)),
        "lastSeen": _iso(device.last_seen),
    }


def error(request: HttpRequest, status: int, code: str, message: str) -> HttpResponse:
    return api.create_response(request, {"code": code, "message": message}, status=status)


# ---- errors as {"code", "message"} --------------------------------------------------------------


@api.exception_handler(AuthenticationError)
def _unauthorized(request, exc):
    return error(request, 401, "unauthorized", "Send an API key (Authorization: Bearer) or log in.")


@api.exception_handler(HttpError)
def _http_error(request, exc: HttpError):
    codes = {400: "invalid", 403: "forbidden", 404: "not found", 409: "exists"}
    return error(request, exc.status_code, codes.get(exc.status_code, "error"), exc.message)


@api.exception_handler(ValidationError)
def _invalid(request, exc: ValidationError):
    where = "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'body'}: {e.get('msg', 'invalid')}"
        for e in exc.errors[:5]
    )
    return error(request, 400, "invalid", f"Invalid request: {where}")


@api.exception_handler(Http404)
def _not_found(request, exc):
    return error(request, 404, "not found", "No such API endpoint.")


@api.exception_handler(Exception)
def _anything_else(request, exc):
    raise exc  # InfluxDB errors: devices.middleware.InfluxErrorMiddleware; bugs: a JSON 500


# ---- devices -----------------------------------------------------------------------------------


def _list(request: HttpRequest, q: str = "", page: str = "1"):
    try:
        number = max(int(page), 1)
    except ValueError:
        raise HttpError(400, "page must be a number") from None
    result = influx.list_devices(search=q[:64], page=number, per_page=API_PAGE_SIZE)
    response = api.create_response(request, [device_json(d) for d in result.devices], status=200)
    # Paging metadata in headers keeps the body in the reference shape (a bare list).
    response["X-Total-Count"] = str(result.total)
    response["X-Page"] = str(result.page)
    response["X-Page-Count"] = str(result.num_pages)
    return response


@api.api_operation(
    ["GET", "HEAD"], "/devices", response={200: list[DeviceOut], **ERRORS}, summary="All devices"
)
def device_list(request: HttpRequest, q: str = "", page: str = "1"):
    """All registered devices; ``q`` filters by id, ``page`` pages through large fleets
    (``X-Total-Count``, ``X-Page``, ``X-Page-Count`` headers)."""
    return _list(request, q, page)


@api.api_operation(
    ["GET", "HEAD"], "/devices/", response={200: list[DeviceOut], **ERRORS}, include_in_schema=False
)
def device_list_slash(request: HttpRequest, q: str = "", page: str = "1"):
    return _list(request, q, page)


@api.post("/devices", response={201: RegisteredOut, 409: Error, **ERRORS}, summary="Register")
def register(request: HttpRequest, body: RegisterIn):
    """Register a device (staff; not with a read-only key). The answer holds its token and
    provisioning URL: they are not shown again."""
    require_change_rights(request)
    device_id = body.deviceId.strip()
    if not device_id:
        raise HttpError(400, "deviceId is required")
    try:
        creds = influx.register_device(device_id)
    except influx.InvalidDeviceId as exc:
        raise HttpError(400, str(exc) or "not a valid device id") from None
    except influx.DeviceExists:
        raise HttpError(409, f"A device with id {device_id!r} is already registered.") from None
    provisioning.issue(creds)
    device = influx.get_device(creds.device_id)
    body = {
        **device_json(device),
        "token": creds.token,
        "provisioningUrl": provisioning.url_for(request, creds),
    }
    return Status(201, body)


@api.post(
    "/devices/generate", response={200: GenerateOut, 409: Error, **ERRORS}, summary="Write data now"
)
def generate(request: HttpRequest, body: GenerateIn):
    """Write simulated telemetry for the devices now, each with its own token: one point a
    minute since its last point, at most an hour back (staff; not with a read-only key)."""
    require_change_rights(request)
    ids = list(dict.fromkeys(body.deviceIds))
    if not ids or len(ids) > MAX_GENERATE_DEVICES:
        raise HttpError(400, f"deviceIds must name 1 to {MAX_GENERATE_DEVICES} devices")
    all_creds = [influx.device_credentials(d) for d in ids]  # all known before any write
    now = datetime.now(UTC)
    written = []
    for creds in all_creds:
        with influx.DeviceSession(creds) as session:
            start = simulator.backfill_start(session.last_point_time(), now, GENERATE_BACKFILL)
            rng = random.Random()  # noqa: S311 - simulated sensor noise, not a secret
            try:
                count = session.write(simulator.readings(creds.device_id, start, now, rng))
            except influx.InfluxMisconfigured as exc:
                raise _type_conflict(exc) from None
        written.append({"deviceId": creds.device_id, "points": count})
    return Status(200, {"devices": written})


_CONFLICT_RE = re.compile(
    r'field \\?"(?P<field>[^"\\]+)\\?" on measurement \\?"[^"\\]*\\?" is type (?P<new>\w+), '
    r"already exists as type (?P<old>\w+)"
)


def _type_conflict(exc: influx.InfluxMisconfigured) -> Exception:
    """A write InfluxDB refused because another app wrote a field with another type (the
    tutorial's API writes integers; IoT Center floats): a 409 that says so."""
    match = _CONFLICT_RE.search(str(exc))
    if match is None:
        return exc
    return HttpError(
        409,
        f"Field type conflict: the telemetry bucket already holds {match['field']} as "
        f"{match['old']} (written by another app, such as the tutorial's API), and IoT Center "
        f"writes {match['new']}s; nothing more was written. Reading and plotting still work; "
        "to generate data here, use another telemetry bucket or delete those points.",
    )


@api.api_operation(
    ["GET", "HEAD"],
    "/devices/{device_id}",
    response={200: list[DeviceDetailOut], **ERRORS},
    summary="One device",
)
def device_detail(request: HttpRequest, device_id: str):
    """The device (with its latest reading of each field) as a one-item list; ``[]`` when no
    such device is registered, as the reference API answers."""
    try:
        view = influx.device_view(device_id)
    except influx.DeviceNotFound:
        return Status(200, [])
    body = device_json(view.device)
    body["readings"] = [
        {"field": r.field, "value": r.value, "time": _iso(r.time)} for r in view.readings
    ]
    return Status(200, [body])


CSV_RESPONSE = {
    "responses": {
        200: {
            "description": "Annotated CSV, as InfluxDB answers a query",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    }
}


@api.post(
    "/devices/{device_id}/measurements",
    response={200: None, **ERRORS},
    openapi_extra=CSV_RESPONSE,
    summary="Plot data",
)
def device_measurements(request: HttpRequest, device_id: str, body: MeasurementsIn):
    """One field of the device aggregated per window, as annotated CSV. Only iot-api-ui's plot
    query is accepted (parsed strictly and rebuilt); anything else answers 400."""
    try:
        parsed = measurements.parse(body.query, bucket=settings.INFLUX_BUCKET, device_id=device_id)
    except measurements.QueryRefused as exc:
        raise HttpError(400, str(exc)) from None  # before any request to InfluxDB
    influx.get_device(device_id)  # 404 unless registered
    csv = influx.measurements_csv(
        device_id, field=parsed.field, start=parsed.start, every=parsed.every, fn=parsed.fn
    )
    return HttpResponse(csv, content_type="text/csv; charset=utf-8")


# ---- device bootstrap (iot-center-v2's clients) -------------------------------------------------


@api.get(
    "/provision/{secret}/api/env/{device_id}",
    auth=None,
    response={200: DeviceEnvOut, 404: Error, 503: Error},
    summary="Device configuration",
)
def device_env(request: HttpRequest, secret: str, device_id: str):
    """What iot-center-v2's clients fetch from ``<IOT_CENTER_URL>/api/env/<id>``, when their
    ``IOT_CENTER_URL`` is the device's provisioning URL. 404 for anything else."""
    env = provisioning.device_env(secret, device_id)
    if env is None:
        raise HttpError(404, "No such device configuration.")
    return Status(200, env)
