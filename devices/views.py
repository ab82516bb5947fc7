"""Device pages: thin function views over ``devices.influx`` (no Flux, no client here)."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from alerts.panel import device_panel as alerts_panel
from alerts.services import page_alerts

from . import influx, live, pages, token_stash
from .forms import RegisterForm, RemoveForm, SearchForm
from .middleware import wants_json
from .ranges import RangeForm
from .templatetags.iot import ago, clock, freshness_of, utc

# The overview's numbers refresh less often than a dashboard: each refresh counts the fleet.
OVERVIEW_REFRESH_SECONDS = 15


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


def _to_token_page(creds: influx.DeviceCredentials):
    # POST-redirect-GET: reloading the token page (or going back) never changes anything again.
    return redirect("devices:token", device_id=creds.device_id)


@require_safe
@staff_required
def token(request: HttpRequest, device_id: str):
    """The one page that shows a token: never cached, never stored, shown once."""
    if request.method == "HEAD":
        return token_stash.head(device_id)
    title, ctx = token_stash.take(request, device_id)
    page = render(request, "devices/credentials.html", {"title": title, **ctx})
    return token_stash.never_store(page)


@require_safe
@login_required
def index(request: HttpRequest):
    """The fleet overview: what the fleet is doing now (two queries and rows bounded by the
    devices shown, whatever its size)."""
    overview = influx.fleet_overview(online_minutes=live.online_minutes())
    ctx = {
        "fleet": overview,
        "refresh_seconds": OVERVIEW_REFRESH_SECONDS,
        "page_alerts": page_alerts(),
    }
    return render(request, "devices/overview.html", ctx)


@require_safe
@login_required
def overview_data(request: HttpRequest):
    """The overview's numbers as JSON, what ``static/js/overview.js`` refreshes the tiles with
    (one query, a few rows, whatever the fleet size)."""
    fleet = influx.fleet_overview(online_minutes=live.online_minutes(), details=False)
    response = JsonResponse(
        {
            "refresh": OVERVIEW_REFRESH_SECONDS,
            "generated": utc(fleet.generated),
            "stats": {
                "registered": fleet.registered,
                "online": fleet.online,
                "silent": fleet.silent,
                "never": fleet.never_seen,
                "points": fleet.points_last_hour,
            },
        }
    )
    add_never_cache_headers(response)
    return response


@require_safe
@login_required
def device_list(request: HttpRequest):
    form = SearchForm(request.GET)
    search, page = form.search_and_page()
    result = influx.list_devices(search=search, page=page, per_page=pages.PER_PAGE)
    ctx = {
        "page": result,
        "q": search,
        "bucket_warning": pages.shared_bucket_warning(request),
        "refresh_seconds": live.REFRESH_SECONDS,
        "page_alerts": page_alerts([d.device_id for d in result.devices]),
    }
    return render(request, "devices/list.html", ctx)


@require_safe
@login_required
def device_list_live(request: HttpRequest):
    """Last telemetry of a list page's devices (``?d=<id>`` each) as JSON, what
    ``static/js/devicelist.js`` refreshes the page with: one query for at most a page."""
    ids = request.GET.getlist("d")
    if not ids or len(ids) > pages.PER_PAGE:
        return JsonResponse({"error": f"give 1 to {pages.PER_PAGE} device ids as ?d="}, status=400)
    seen = influx.last_telemetry(ids)
    devices = {}
    now = clock()  # one reading: "(just now)" and "<5 min" never side by side
    for device_id in ids:
        at = seen.get(device_id)
        label, css = freshness_of(at, now)
        devices[device_id] = {
            "last_seen": at.isoformat() if at else None,
            "utc": utc(at) if at else "",
            "ago": ago(at, now),
            "freshness": label,
            "class": css,
        }
    response = JsonResponse({"refresh": live.REFRESH_SECONDS, "devices": devices})
    add_never_cache_headers(response)
    return response


@require_http_methods(["GET", "HEAD", "POST"])
@staff_required
def register(request: HttpRequest):
    form = RegisterForm(request.POST if request.method == "POST" else None)
    creds = pages.register(request, form)
    if creds is not None:
        return _to_token_page(creds)
    status = 400 if form.field_missing else 200
    return render(request, "devices/register.html", {"form": form}, status=status)


@require_safe
@login_required
def detail(request: HttpRequest, device_id: str):
    range_key = range_from(request)
    view = influx.device_view(device_id, range_key=range_key, stats=True)
    device = view.device
    ctx = {
        "device": device,
        "settings_rows": influx.device_connection(device.device_id),
        "readings": view.readings,
        "stats": view.stats,
        "range_key": range_key,
        "ranges": list(influx.RANGES),
        "page_alerts": page_alerts([device.device_id]),
    }
    return render(request, "devices/detail.html", ctx)


@require_safe
@login_required
def dashboard(request: HttpRequest, device_id: str):
    form = RangeForm(request.GET)
    window = form.window()
    shared = live.shared_render(device_id, window)
    board = shared.board
    alerts, panel = _dashboard_alerts(request, board.device.device_id, window)
    ctx = {"board": board, "device": board.device, "form": form, "page_alerts": alerts}
    ctx["alerts_panel"] = panel["html"]
    extra = {"alerts": {"key": panel["key"]}}  # the data block's: the markup is on the page
    ctx.update(live.page_context(shared, alerts.threshold_values(), extra))
    return render(request, "devices/dashboard.html", ctx)


def _dashboard_alerts(request: HttpRequest, device_id: str, window) -> tuple:
    """The device's alerts (firing, threshold rules: two database queries) and their panel as
    this viewer sees it, its Acknowledge forms coming back to the dashboard page (with its
    range), also when rendered for the data endpoint."""
    alerts = page_alerts([device_id], thresholds_for=device_id)
    url = reverse("devices:dashboard", args=[device_id])
    query = urlencode({"range": window.range_key}) if window.live else request.GET.urlencode()
    return alerts, alerts_panel(request, device_id, alerts, f"{url}?{query}" if query else url)


@require_safe
@login_required
def dashboard_data(request: HttpRequest, device_id: str):
    """The dashboard's data as JSON, what ``static/js/charts.js`` refreshes live ranges from."""
    form = RangeForm(request.GET)
    window = form.window()
    shared = live.shared_render(device_id, window)
    # Added to the shared data per request: the alert rules' threshold lines and the alerts
    # panel (the viewer's: Acknowledge forms for staff, a CSRF token), two database queries.
    alerts, panel = _dashboard_alerts(request, shared.data["device"], window)
    body = shared.json(alerts.threshold_values(), {"alerts": panel})
    response = HttpResponse(body, content_type="application/json")
    add_never_cache_headers(response)
    return response


@require_http_methods(["GET", "HEAD", "POST"])
@staff_required
def remove(request: HttpRequest, device_id: str):
    device = influx.get_device(device_id)
    form = RemoveForm(request.POST if request.method == "POST" else None)
    if pages.remove_if_confirmed(request, device, form):
        return redirect("devices:list")
    return render(request, "devices/remove.html", {"device": device, "form": form})


@require_POST
@staff_required
def rotate(request: HttpRequest, device_id: str):
    return _to_token_page(pages.rotate(request, device_id))


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
        influxdb["url"] = status["url"]
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
