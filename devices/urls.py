from django.urls import path

from . import data_views, views

app_name = "devices"

urlpatterns = [
    path("", views.index, name="index"),
    path("overview/data", views.overview_data, name="overview-data"),
    path("devices/", views.device_list, name="list"),
    path("devices/register/", views.register, name="register"),
    # No trailing slash: never the page of a device called "last-telemetry".
    path("devices/last-telemetry", views.device_list_live, name="live-list"),
    # Ids are checked by the service; a bad one becomes a 404 through the middleware.
    path("devices/<str:device_id>/", views.detail, name="detail"),
    path("devices/<str:device_id>/dashboard/", views.dashboard, name="dashboard"),
    path("devices/<str:device_id>/dashboard/data", views.dashboard_data, name="dashboard-data"),
    path("devices/<str:device_id>/telemetry.csv", data_views.telemetry_csv, name="telemetry-csv"),
    path("devices/<str:device_id>/write-now/", data_views.write_now, name="write-now"),
    path("devices/<str:device_id>/remove/", views.remove, name="remove"),
    path("devices/<str:device_id>/rotate-token/", views.rotate, name="rotate"),
    path("devices/<str:device_id>/token/", views.token, name="token"),
    path("healthz", views.healthz, name="healthz"),
]
