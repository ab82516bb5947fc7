"""What the site's device pages (``views``) and the admin's (``admin_views``) share.

The handling of each change — register, rotate, remove — is written here once: the service call,
the form errors it can end in, the message the user sees and the show-once stash of a new token.
Each page module only renders its own templates and redirects to its own token page.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest

from . import influx, live, token_stash
from .api import provisioning
from .forms import RegisterForm, RemoveForm

PER_PAGE = 25
# Dashboards show the environment first, in the reference apps' order, then anything else
# (position, fields other apps write) alphabetically.
FIELD_ORDER = ("Temperature", "Humidity", "Pressure", "CO2", "TVOC")


def field_rank(field: str) -> tuple[int, str]:
    return (FIELD_ORDER.index(field) if field in FIELD_ORDER else len(FIELD_ORDER), field)


def shared_bucket_warning(request: HttpRequest) -> str:
    """Staff should know when device tokens sit beside telemetry (both buckets are one): the
    warning to show them, or "" when there is none."""
    if request.user.is_staff and influx.registry_shares_telemetry_bucket():
        return influx.SHARED_BUCKET_WARNING
    return ""


def register(request: HttpRequest, form: RegisterForm) -> influx.DeviceCredentials | None:
    """On a valid POST of the register form: register the device and stash its credentials for
    the token page. None when there is nothing to register or the form now carries the error."""
    if request.method != "POST" or not form.is_valid():
        return None
    device_id = form.cleaned_data["device_id"] or None
    try:
        creds = influx.register_device(device_id)
    except influx.DeviceExists:
        form.add_error("device_id", f"A device with id {device_id!r} is already registered.")
        return None
    except influx.InvalidDeviceId as exc:
        form.add_error("device_id", str(exc) or "This device id is not allowed.")
        return None
    messages.success(request, f"Device {creds.device_id} registered.")
    token_stash.stash(request, creds, title="Device registered")
    provisioning.issue(creds)
    return creds


def rotate(request: HttpRequest, device_id: str) -> influx.DeviceCredentials:
    """Replace the device's token (the old one is revoked) and stash the new one."""
    creds = influx.rotate_token(device_id)
    if creds.warning:
        # The new token works and is shown once; the old one may too: say so, and what to do.
        messages.warning(request, creds.warning)
    else:
        messages.success(request, f"Token of {creds.device_id} replaced; the old token is revoked.")
    token_stash.stash(request, creds, title="New device token")
    provisioning.issue(creds)
    return creds


def remove_if_confirmed(request: HttpRequest, device: influx.Device, form: RemoveForm) -> bool:
    """On a valid POST of the remove form: remove the device, say what happened, return True."""
    if request.method != "POST" or not form.is_valid():
        return False
    delete_telemetry = form.cleaned_data["delete_telemetry"]
    all_deleted = influx.remove_device(device.device_id, delete_telemetry=delete_telemetry)
    live.forget(device.device_id)
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
