from django.apps import AppConfig

# Imported as a module, not the class: a second AppConfig subclass named in this module would
# make Django unsure which one is the devices app's default.
from django.contrib.admin import apps as admin_apps


class DevicesConfig(AppConfig):
    name = "devices"
    verbose_name = "IoT devices"
    default = True

    def ready(self):
        # Registers the INFLUX_* system checks and the client reset on settings changes.
        from . import checks, influx  # noqa: F401


class IoTCenterAdminConfig(admin_apps.AdminConfig):
    """Django admin with the device pages (``devices.admin.IoTCenterAdminSite``) as its site;
    named in INSTALLED_APPS instead of ``django.contrib.admin``."""

    default = False  # for the admin app only, never picked for "devices"
    default_site = "devices.admin.IoTCenterAdminSite"
