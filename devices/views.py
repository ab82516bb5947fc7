"""Device pages: thin function views over ``devices.influx`` (no Flux, no client here)."""

from __future__ import annotations

import json
import time
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers, patch_cache_control
from django.views.decorators.http import (
    require_GET,
    require_http_methods,
    require_POST,
    require_safe,
)

from . import influx
from .forms import RegisterForm, RemoveForm, SearchForm
from .middleware import wants_json

PER_PAGE = 25
# Dashboards show the environment first, in the reference apps' order, then anything else
# (position, fields other apps write) alphabetically.
FIELD_ORDER = ("Temperature", "Humidity", "Pressure", "CO2", "TVOC")


def field_rank(field: str) -> tuple[int, str]:
    return (FIELD_ORDER.index(field) if field in FIELD_ORDER else len(FIELD_ORDER), field)


def staff_required(view):
    """Changes to devices are for staff; others get the 403 page (anonymous: the login page)."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs):
        if not request.user.is_staff:
            raise PermissionDenied("Only staff can change devices.")
        return view(request, *args, **kwargs)

    return wrapped


def range_from(request: HttpRequest) -> str:
    """The ``?range=`` key if it is one of ``influx.RANGES``, else the default."""
    value = request.GET.get("range", "")
    return value if value in influx.RANGES else influx.DEFAULT_RANGE


def device_settings(device_id: str) -> list[tuple[str, str]]:
    """What a device needs to write telemetry, minus the token (shown only once)."""
    return [
        ("InfluxDB URL", settings.INFLUX_URL),
        ("Organization", settings.INFLUX_ORG),
        ("Bucket", settings.INFLUX_BUCKET),
        ("Device id", device_id),
    ]


# Session key of credentials waiting to be shown once: {device id: {"title", "key", "token", ...}}.
# Sessions live in the database, server-side; the entry is removed when the token page shows it.
PENDING_CREDENTIALS = "devices:pending-credentials"
# A token not picked up within this many seconds (the redirect was never followed) is dropped,
# so that it does not wait in the session table, and its backups, until the session expires.
PENDING_CREDENTIALS_TTL = 300


def _clock() -> float:
    return time.time()


def _pending(request: HttpRequest) -> dict:
    """The session's credentials waiting to be shown, without those older than the TTL."""
    pending = request.session.get(PENDING_CREDENTIALS, {})
    fresh_after = _clock() - PENDING_CREDENTIALS_TTL
    fresh = {k: v for k, v in pending.items() if v.get("stashed", 0) >= fresh_after}
    if len(fresh) != len(pending):
        request.session[PENDING_CREDENTIALS] = fresh
    return fresh


def stash_credentials(request: HttpRequest, creds: influx.DeviceCredentials, *, title: str):
    """Keep new credentials in the (server-side) session for ONE display on a token page."""
    pending = _pending(request)
    pending[creds.device_id] = {
        "stashed": _clock(),
        "title": title,
        "key": creds.key,
        "token": creds.token,
        "url": creds.url,
        "org": creds.org,
        "bucket": creds.bucket,
    }
    request.session[PENDING_CREDENTIALS] = pending


def credentials_context(request: HttpRequest, device_id: str) -> tuple[str, dict]:
    """Take the stashed credentials out of the session: ``(title, context)`` for the token page,
    with ``creds`` None once they were shown (here, or on the other token page)."""
    pending = _pending(request)
    entry = pending.pop(device_id, None)
    if entry is None:
        return "Token already shown", {"device_id": device_id, "creds": None}
    request.session[PENDING_CREDENTIALS] = pending
    entry.pop("stashed")
    title = entry.pop("title")
    creds = influx.DeviceCredentials(device_id=device_id, **entry)
    config = creds.config()
    return title, {
        "device_id": device_id,
        "creds": creds,
        "config": config,
        "config_json": json.dumps(config, indent=2),
    }


def never_store(response: HttpResponse) -> HttpResponse:
    """A page with a token: no cache, no history copy."""
    add_never_cache_headers(response)
    patch_cache_control(response, no_store=True, private=True)
    return response


def show_credentials(request: HttpRequest, creds: influx.DeviceCredentials, *, title: str):
    """POST-redirect-GET: keep the new credentials for ONE display and redirect to the token
    page, so that reloading it (or going back) never registers or rotates again."""
    stash_credentials(request, creds, title=title)
    return redirect("devices:token", device_id=creds.device_id)


@require_GET
@staff_required
def token(request: HttpRequest, device_id: str):
    """The one page that shows a token: never cached, never stored, shown once."""
    title, ctx = credentials_context(request, device_id)
    return never_store(render(request, "devices/credentials.html", {"title": title, **ctx}))


@require_GET
def index(request: HttpRequest):
    return redirect("devices:list")


@require_GET
@login_required
def device_list(request: HttpRequest):
    form = SearchForm(request.GET)
    search, page = form.search_and_page()
    result = influx.list_devices(search=search, page=page, per_page=PER_PAGE)
    ctx = {"page": result, "q": search, "bucket_warning": _shared_bucket_warning(request)}
    return render(request, "devices/list.html", ctx)


def _shared_bucket_warning(request: HttpRequest) -> bool:
    # Tokens sit beside telemetry when both buckets are one; staff should know.
    return request.user.is_staff and settings.INFLUX_BUCKET == settings.INFLUX_BUCKET_AUTH


@require_http_methods(["GET", "POST"])
@staff_required
def register(request: HttpRequest):
    form = RegisterForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        device_id = form.cleaned_data["device_id"] or None
        try:
            creds = influx.register_device(device_id)
        except influx.DeviceExists:
            form.add_error("device_id", f"A device with id {device_id!r} is already registered.")
        except influx.InvalidDeviceId as exc:
            form.add_error("device_id", str(exc) or "This device id is not allowed.")
        else:
            messages.success(request, f"Device {creds.device_id} registered.")
            return show_credentials(request, creds, title="Device registered")
    return render(request, "devices/register.html", {"form": form})


@require_GET
@login_required
def detail(request: HttpRequest, device_id: str):
    range_key = range_from(request)
    view = influx.device_view(device_id, range_key=range_key, stats=True)
    device = view.device
    ctx = {
        "device": device,
        "settings_rows": device_settings(device.device_id),
        "readings": view.readings,
        "stats": view.stats,
        "range_key": range_key,
        "ranges": list(influx.RANGES),
    }
    return render(request, "devices/detail.html", ctx)


@require_GET
@login_required
def dashboard(request: HttpRequest, device_id: str):
    range_key = range_from(request)
    view = influx.device_view(device_id, range_key=range_key, series=True)
    device = view.device
    ctx = {
        "device": device,
        "readings": sorted(view.readings, key=lambda r: field_rank(r.field)),
        "series": sorted(view.series.items(), key=lambda item: field_rank(item[0])),
        "range_key": range_key,
        "range_value": influx.RANGES[range_key][0],
        "ranges": list(influx.RANGES),
    }
    return render(request, "devices/dashboard.html", ctx)


@require_http_methods(["GET", "POST"])
@staff_required
def remove(request: HttpRequest, device_id: str):
    device = influx.get_device(device_id)
    form = RemoveForm(request.POST if request.method == "POST" else None)
    if remove_if_confirmed(request, device, form):
        return redirect("devices:list")
    return render(request, "devices/remove.html", {"device": device, "form": form})


def remove_if_confirmed(request: HttpRequest, device: influx.Device, form: RemoveForm) -> bool:
    """On a valid POST of the remove form: remove the device, say what happened, return True."""
    if request.method != "POST" or not form.is_valid():
        return False
    delete_telemetry = form.cleaned_data["delete_telemetry"]
    all_deleted = influx.remove_device(device.device_id, delete_telemetry=delete_telemetry)
    if not delete_telemetry:
        extra = "; its telemetry is kept"
    elif all_deleted:
        extra = " and its telemetry deleted"
    else:
        extra = (
            f" and its telemetry tagged clientId={device.device_id} deleted; points tagged "
            f"device={device.device_id} were kept, as other devices' telemetry carries that tag"
        )
    messages.success(request, f"Device {device.device_id} removed{extra}.")
    return True


@require_POST
@staff_required
def rotate(request: HttpRequest, device_id: str):
    creds = influx.rotate_token(device_id)
    messages.success(request, f"Token of {creds.device_id} replaced; the old token is revoked.")
    return show_credentials(request, creds, title="New device token")


@require_safe  # GET, and HEAD for load balancers that only look at the status
def healthz(request: HttpRequest) -> HttpResponse:
    """For load balancers and operators: no login, no secrets, 503 while InfluxDB fails.

    Anonymous callers (load balancers) get the statuses only; where InfluxDB is and what it
    said are for logged-in users, as on the 503 page.
    """
    status = influx.health()
    ok = status.get("status") == "pass"
    influxdb = {"status": status.get("status", "fail")}
    if request.user.is_authenticated:
        influxdb["url"] = status.get("url", settings.INFLUX_URL)
        influxdb["message"] = status.get("message", "")
    body = {"status": "pass" if ok else "fail", "app": "pass", "influxdb": influxdb}
    response = JsonResponse(body, status=200 if ok else 503)
    add_never_cache_headers(response)
    return response


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404 for unknown URLs: JSON under /api/ (scripts parse it), the site's page elsewhere."""
    if wants_json(request):
        return JsonResponse({"code": "not found", "message": "No such API endpoint."}, status=404)
    return render(request, "404.html", status=404)
