from django.apps import AppConfig


class StashConfig(AppConfig):
    """The table behind ``devices.token_stash``: new credentials waiting for one display."""

    name = "devices.stash"
    label = "token_stash"
    default_auto_field = "django.db.models.BigAutoField"
