"""A device's data: the CSV download of its telemetry and "Write data now" (thin views)."""

from __future__ import annotations

from datetime import UTC, datetime

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST, require_safe

from . import influx, live
from .ranges import RangeForm
from .views import staff_required

MODES = ("windowed", "raw")


def max_rows() -> int:
    """EXPORT_MAX_ROWS: rows at most per download (default 100,000)."""
    try:
        return max(1, int(getattr(settings, "EXPORT_MAX_ROWS", 100_000)))
    except (TypeError, ValueError):
        return 100_000


def _stamp(value: datetime) -> str:
    return f"{value.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def csv_filename(device_id: str, window: influx.TimeWindow, mode: str) -> str:
    """``<device>-<range>.csv``: ids may hold ":", which no file system likes; nothing else in
    an id (letters, digits, ``_ - .``) or a range needs changing."""
    name = device_id.replace(":", "_")
    span = window.range_key or f"{_stamp(window.start)}-{_stamp(window.stop)}"
    return f"{name}-{span}{'-raw' if mode == 'raw' else ''}.csv"


def _bad_request(message: str) -> HttpResponse:
    return HttpResponseBadRequest(message + "\n", content_type="text/plain; charset=utf-8")


@require_safe
@login_required
def telemetry_csv(request: HttpRequest, device_id: str):
    """The telemetry over the dashboard's range as CSV, streamed: ``?range=`` or
    ``?start=&stop=``, ``&mode=windowed|raw``."""
    mode = request.GET.get("mode", "windowed")
    if mode not in MODES:
        return _bad_request(f"Unknown mode {mode[:20]!r}: use mode=windowed or mode=raw.")
    form = RangeForm(request.GET)
    if not form.is_valid():
        errors = [e for field_errors in form.errors.values() for e in field_errors]
        return _bad_request("Bad range: " + " ".join(errors))
    key = request.GET.get("range", "")
    if key and key not in influx.RANGES and not form.custom:
        return _bad_request(f"Unknown range {key[:20]!r}: use one of {', '.join(influx.RANGES)}.")
    window = form.window()
    export = influx.telemetry_csv(device_id, window, raw=mode == "raw", max_rows=max_rows())
    # Django closes ``export`` when done (HEAD, a client gone away): InfluxDB's answer ends then.
    response = StreamingHttpResponse(export, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="{csv_filename(export.device_id, window, mode)}"'
    )
    response["X-Row-Cap"] = str(export.max_rows)
    add_never_cache_headers(response)
    return response


class WriteNowForm(forms.Form):
    what = forms.ChoiceField(choices=[("now", "One point now"), ("days", "Fill the last N days")])
    days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=influx.WRITE_NOW_MAX_DAYS,
        label="Days",
        error_messages={
            "min_value": f"Give a whole number of days from 1 to {influx.WRITE_NOW_MAX_DAYS}.",
            "max_value": f"Give a whole number of days from 1 to {influx.WRITE_NOW_MAX_DAYS}.",
            "invalid": f"Give a whole number of days from 1 to {influx.WRITE_NOW_MAX_DAYS}.",
        },
    )

    def clean(self):
        data = super().clean()
        if data.get("what") == "now":
            self.errors.pop("days", None)  # one point now: the days box does not matter
        elif data.get("what") == "days" and data.get("days") is None and "days" not in self.errors:
            self.add_error(
                "days", f"Give a whole number of days from 1 to {influx.WRITE_NOW_MAX_DAYS}."
            )
        return data

    @property
    def day_count(self) -> int:
        return self.cleaned_data["days"] if self.cleaned_data["what"] == "days" else 0


def _back(request: HttpRequest, device_id: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("devices:detail", args=[device_id])


def _report(request: HttpRequest, result) -> None:
    span = "now" if result.planned == 1 else f"{result.planned:,} minutes up to now"
    if result.complete:
        messages.success(
            request,
            f"Wrote {result.written:,} simulated point{'s' if result.written != 1 else ''} "
            f"({span}) with the device's own token.",
        )
        return
    text = f"Wrote {result.written:,} of {result.planned:,} simulated points ({span})"
    if result.error:
        text += f"; {result.failed:,} not written: {result.error}"
    if result.stopped:
        text += (
            f"; stopped at the page's time limit ({result.planned - result.written:,} not "
            "written). Try fewer days, or run "
            f"manage.py simulate {result.device_id} --backfill-days N"
        )
    messages.error(request, text + ".")


@require_POST
@staff_required
def write_now(request: HttpRequest, device_id: str):
    """Simulated points written now with the device's own token (``simulate``'s pipeline)."""
    form = WriteNowForm(request.POST)
    if not form.is_valid():
        device = influx.get_device(device_id)
        ctx = {
            "device": device,
            "form": form,
            "next": _back(request, device.device_id),
            "max_days": influx.WRITE_NOW_MAX_DAYS,
        }
        return render(request, "devices/write_now.html", ctx, status=400)
    result = influx.write_simulated(device_id, days=form.day_count)
    live.forget(result.device_id)
    _report(request, result)
    return redirect(_back(request, result.device_id))
