"""Read-only JSON API in the reference apps' shapes, without ever a token.

``GET /api/devices`` -> ``[{"deviceId", "key", "createdAt", "lastSeen"}, ...]``
``GET /api/devices/<id>`` -> one of those plus ``"readings"`` (latest value per field).
"""

from __future__ import annotations

from datetime import datetime
from functools import wraps

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_safe

from . import influx

API_PAGE_SIZE = 500


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def device_json(device: influx.Device) -> dict:
    return {
        "deviceId": device.device_id,
        "key": device.key,
        "createdAt": _iso(device.created_at),
        "lastSeen": _iso(device.last_seen),
    }


def api_login_required(view):
    """A script gets 401 JSON instead of the HTML login redirect pages use."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return JsonResponse(
                {"code": "unauthorized", "message": "Log in first (session required)."},
                status=401,
            )
        return view(request, *args, **kwargs)

    return wrapped


@require_safe
@api_login_required
def device_list(request: HttpRequest):
    """All registered devices; ``?q=`` filters by id, ``?page=`` pages through large fleets."""
    try:
        page = max(int(request.GET.get("page", "1")), 1)
    except ValueError:
        return JsonResponse({"code": "invalid", "message": "page must be a number"}, status=400)
    result = influx.list_devices(
        search=request.GET.get("q", "")[:64], page=page, per_page=API_PAGE_SIZE
    )
    response = JsonResponse([device_json(d) for d in result.devices], safe=False)
    # Paging metadata in headers keeps the body in the reference shape (a bare list).
    response["X-Total-Count"] = str(result.total)
    response["X-Page"] = str(result.page)
    response["X-Page-Count"] = str(result.num_pages)
    return response


@require_safe
@api_login_required
def device_detail(request: HttpRequest, device_id: str):
    view = influx.device_view(device_id)  # one request: the device and its readings
    body = device_json(view.device)
    body["readings"] = [
        {"field": r.field, "value": r.value, "time": _iso(r.time)} for r in view.readings
    ]
    return JsonResponse(body)
