"""Alert pages: the history (everyone signed in; staff acknowledge and silence) and the rules
(staff)."""

from __future__ import annotations

from datetime import timedelta
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from devices.ids import is_valid_device_id

from .forms import RuleForm
from .models import Alert, Notification, Rule

SILENCE_HOURS = (1, 4, 24)


def staff_required(view):
    """Rules, acknowledging and silencing are for staff; others get the 403 page."""

    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_staff:
            raise PermissionDenied("Only staff can change alerts and rules.")
        return view(request, *args, **kwargs)

    return wrapped


@login_required
def history(request):
    alerts = Alert.objects.select_related("rule", "acknowledged_by").prefetch_related(
        Prefetch("notifications", Notification.objects.select_related("channel").order_by("pk"))
    )
    state = request.GET.get("state", "")
    severity = request.GET.get("severity", "")
    device = request.GET.get("device", "").strip()
    if state == "firing":
        alerts = alerts.filter(resolved_at__isnull=True)
    elif state == "resolved":
        alerts = alerts.filter(resolved_at__isnull=False)
    if severity in dict(Rule.SEVERITIES):
        alerts = alerts.filter(rule__severity=severity)
    if device:
        # An id no device can have (NUL, spaces, too long) matches nothing, and never reaches the
        # database (PostgreSQL refuses NUL in a string: that was a 500).
        ok = is_valid_device_id(device)
        alerts = alerts.filter(device_id=device) if ok else alerts.none()
        device = device if ok else device.replace("\x00", "")[:64]
    return render(
        request,
        "alerts/history.html",
        {
            "alerts": alerts[:200],
            "state": state,
            "severity": severity,
            "device": device,
            "severities": Rule.SEVERITIES,
        },
    )


@require_POST
@staff_required
def acknowledge(request, pk):
    alert = get_object_or_404(Alert, pk=pk)
    if alert.acknowledged_at is None:
        alert.acknowledged_at, alert.acknowledged_by = timezone.now(), request.user
        alert.save(update_fields=["acknowledged_at", "acknowledged_by"])
        messages.success(request, f"Acknowledged: {alert}.")
    back = request.POST.get("next", "")
    if back and url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(back)  # the device page or dashboard it was acknowledged from
    return redirect("alerts:history")


@require_POST
@staff_required
def silence(request, pk):
    rule = get_object_or_404(Rule, pk=pk)
    try:
        hours = int(request.POST.get("hours", ""))
    except ValueError:
        hours = 0
    if hours not in SILENCE_HOURS and hours != 0:
        hours = SILENCE_HOURS[0]
    rule.silenced_until = timezone.now() + timedelta(hours=hours) if hours else None
    rule.save(update_fields=["silenced_until"])
    if hours:
        messages.success(request, f"“{rule}” silenced for {hours} h.")
    else:
        messages.success(request, f"“{rule}” notifies again.")
    return redirect("alerts:rules" if request.POST.get("next") == "rules" else "alerts:history")


@staff_required
def rules(request):
    return render(
        request,
        "alerts/rules.html",
        {"rules": Rule.objects.all(), "now": timezone.now(), "silence_hours": SILENCE_HOURS},
    )


@staff_required
def rule_create(request):
    form = RuleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        rule = form.save()
        messages.success(request, f"Rule “{rule}” created.")
        return redirect("alerts:rules")
    return render(
        request, "alerts/rule_form.html", {"form": form}, status=400 if form.errors else 200
    )
