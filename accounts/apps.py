from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Logging in: throttling (django-axes glue) and password reset when mail is configured."""

    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"
