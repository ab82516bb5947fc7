"""Django admin for IoT Center: users and groups, plus admin-style device pages for staff.

Devices live in InfluxDB, not in the database, so they have no model and no ModelAdmin. The
site adds its own device views instead (``devices.admin_views``, under ``/admin/devices/``),
each behind ``admin_view`` (staff only, CSRF, never cached), and lists them in the admin's app
list as if they were a model. ``devices.apps.IoTCenterAdminConfig`` makes this the default site.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.urls import path, reverse

ADMIN_APP_LABEL = "devices"
# Lookups a change list's URL may not use: a pattern the database cannot compile (``?username
# __regex=(``) is a database error, i.e. a 500, and an expensive pattern costs the database.
REFUSED_LOOKUPS = frozenset({"regex", "iregex"})


class RefuseRegexLookups:
    """Mixed into every ModelAdmin of the site: ``?field__regex=`` answers 400, not 500.

    Django allows any lookup on a model's own fields in a change list's query string; refusing
    one raises ``DisallowedModelAdminLookup``, which Django answers with 400.
    """

    def lookup_allowed(self, lookup, value, request=None):
        if lookup.rsplit("__", 1)[-1] in REFUSED_LOOKUPS:
            return False
        return super().lookup_allowed(lookup, value, request)


class IoTCenterAdminSite(admin.AdminSite):
    site_header = "IoT Center administration"
    site_title = "IoT Center admin"
    index_title = "Users, groups and devices"
    site_url = "/devices/"

    def register(self, model_or_iterable, admin_class=None, **options):
        """Every model's admin (users, groups, axes' logs...) refuses regex lookups."""
        base = admin_class or admin.ModelAdmin
        safe = type(base.__name__, (RefuseRegexLookups, base), {"__module__": base.__module__})
        super().register(model_or_iterable, safe, **options)

    def get_urls(self):
        from .admin_views import DeviceAdminViews

        views = DeviceAdminViews(self)
        wrap = self.admin_view

        device_urls = [
            path("devices/", wrap(views.device_list), name="devices_list"),
            path("devices/register/", wrap(views.register), name="devices_register"),
            # Ids are checked by the service; a bad one becomes a 404 through the middleware.
            path("devices/<str:device_id>/", wrap(views.detail), name="devices_detail"),
            path(
                "devices/<str:device_id>/rotate-token/",
                wrap(views.rotate),
                name="devices_rotate",
            ),
            path("devices/<str:device_id>/remove/", wrap(views.remove), name="devices_remove"),
            path("devices/<str:device_id>/token/", wrap(views.token), name="devices_token"),
        ]
        # First: the default URLs end with a catch-all that would answer these with a 404.
        return device_urls + super().get_urls()

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict]:
        """The models' apps, and the devices first as if they were one: the index and the
        navigation sidebar of every admin page then link to the device pages."""
        app_list = super().get_app_list(request, app_label)
        if app_label in (None, ADMIN_APP_LABEL) and self.has_permission(request):
            app_list.insert(0, self._devices_app())
        return app_list

    def _devices_app(self) -> dict:
        # Shaped like the entries ``_build_app_dict`` makes, for admin/app_list.html.
        list_url = reverse("admin:devices_list", current_app=self.name)
        return {
            "name": "Devices (InfluxDB)",
            "app_label": ADMIN_APP_LABEL,
            "app_url": list_url,
            "has_module_perms": True,
            "models": [
                {
                    "model": None,
                    "name": "Devices",
                    "object_name": "Device",
                    # Every staff member may change devices, as on the site's pages.
                    "perms": {"add": True, "change": True, "delete": True, "view": True},
                    "admin_url": list_url,
                    "add_url": reverse("admin:devices_register", current_app=self.name),
                    "view_only": False,
                }
            ],
        }
