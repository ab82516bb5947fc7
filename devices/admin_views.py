"""Admin-style device pages for staff: the site's device operations inside Django admin.

Thin views, like ``devices.views``: the service (``devices.influx``) does the work, the site's
forms check the input, ``pages`` handles each change as the site does, and a new token is
shown once through the shared session stash (``token_stash``). The admin
site (``devices.admin.IoTCenterAdminSite``) wraps every view in ``admin_view``, so only active
staff get here; InfluxDB errors become the 503/404 pages in ``InfluxErrorMiddleware``.
"""

from __future__ import annotations

from django.contrib import admin
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_http_methods, require_safe

from . import influx, pages, token_stash
from .forms import RegisterForm, RemoveForm, SearchForm

get_only = method_decorator(require_safe)  # GET and HEAD
get_or_post = method_decorator(require_http_methods(["GET", "HEAD", "POST"]))


class DeviceAdminViews:
    """The views of one admin site (its name, header and sidebar go into every page)."""

    def __init__(self, site: admin.AdminSite):
        self.site = site

    def _render(
        self, request: HttpRequest, template: str, title: str, context: dict
    ) -> HttpResponse:
        request.current_app = self.site.name
        ctx = {**self.site.each_context(request), "title": title, "subtitle": None, **context}
        return render(request, template, ctx)

    @staticmethod
    def _to_token_page(creds: influx.DeviceCredentials) -> HttpResponse:
        # The site's stash: whichever token page shows them first takes them out.
        return redirect("admin:devices_token", device_id=creds.device_id)

    @get_only
    def device_list(self, request: HttpRequest) -> HttpResponse:
        form = SearchForm(request.GET)
        search, page = form.search_and_page()
        result = influx.list_devices(search=search, page=page, per_page=pages.PER_PAGE)
        # Page numbers as the admin's change lists show them: 1 2 … 7 8 9 … 40 41. A range
        # stands in for the devices (only its length is used), which the service already paged.
        page_numbers = []
        if result.num_pages > 1:
            page_numbers = Paginator(range(result.total), result.per_page).get_elided_page_range(
                result.page, on_each_side=2, on_ends=1
            )
        context = {
            "page": result,
            "q": search,
            "page_numbers": page_numbers,
            "ellipsis": Paginator.ELLIPSIS,
            "bucket_warning": pages.shared_bucket_warning(request),
        }
        return self._render(request, "admin/devices/list.html", "Devices", context)

    @get_or_post
    def register(self, request: HttpRequest) -> HttpResponse:
        form = RegisterForm(request.POST if request.method == "POST" else None)
        creds = pages.register(request, form)
        if creds is not None:
            return self._to_token_page(creds)
        context = {"form": form}
        response = self._render(
            request, "admin/devices/register.html", "Register a device", context
        )
        if form.field_missing:
            response.status_code = 400
        return response

    @get_only
    def detail(self, request: HttpRequest, device_id: str) -> HttpResponse:
        view = influx.device_view(device_id)
        device = view.device
        context = {
            "device": device,
            "readings": sorted(view.readings, key=lambda r: pages.field_rank(r.field)),
            "settings_rows": influx.device_connection(device.device_id),
        }
        return self._render(
            request, "admin/devices/detail.html", f"Device {device.device_id}", context
        )

    @get_or_post
    def rotate(self, request: HttpRequest, device_id: str) -> HttpResponse:
        """GET asks first (the device is cut off until reconfigured); POST rotates."""
        if request.method == "POST":
            return self._to_token_page(pages.rotate(request, device_id))
        device = influx.get_device(device_id)
        context = {"device": device}
        return self._render(
            request, "admin/devices/rotate.html", f"Rotate the token of {device.device_id}", context
        )

    @get_or_post
    def remove(self, request: HttpRequest, device_id: str) -> HttpResponse:
        device = influx.get_device(device_id)
        form = RemoveForm(request.POST if request.method == "POST" else None)
        if pages.remove_if_confirmed(request, device, form):
            return redirect("admin:devices_list")
        context = {"device": device, "form": form}
        return self._render(
            request, "admin/devices/remove.html", f"Remove device {device.device_id}", context
        )

    @get_only
    def token(self, request: HttpRequest, device_id: str) -> HttpResponse:
        """The admin's one page that shows a token: never cached or stored, shown once (the
        entry leaves the session as it is shown, here or on the site's token page)."""
        if request.method == "HEAD":
            return token_stash.head(device_id)
        title, context = token_stash.take(request, device_id)
        return token_stash.never_store(
            self._render(request, "admin/devices/credentials.html", title, context)
        )
