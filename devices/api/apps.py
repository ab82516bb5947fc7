from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The JSON API's tables: API keys and device provisioning grants."""

    name = "devices.api"
    label = "api"
    verbose_name = "JSON API"
    default_auto_field = "django.db.models.BigAutoField"
