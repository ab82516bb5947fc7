"""Root URLs: the JSON API (``devices.api``: devices, keys, bootstrap, schema at /api/schema/),
the devices app (pages, health), accounts (login, password reset when mail is configured), and
Django admin."""

from django.contrib import admin
from django.urls import include, path

from devices.api.endpoints import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("accounts/", include("accounts.urls")),
    path("alerts/", include("alerts.urls")),
    path("", include("devices.urls")),
]

handler404 = "devices.views.page_not_found"
