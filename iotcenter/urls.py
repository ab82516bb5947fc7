"""Root URLs: the devices app (pages, JSON API, health), accounts (login, password reset when
mail is configured), and Django admin."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("", include("devices.urls")),
]

handler404 = "devices.views.page_not_found"
