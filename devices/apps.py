from django.apps import AppConfig


class DevicesConfig(AppConfig):
    name = "devices"
    verbose_name = "IoT devices"

    def ready(self):
        # Registers the INFLUX_* system checks and the client reset on settings changes.
        from . import checks, influx  # noqa: F401
