from django.db import models


class ResetRequest(models.Model):
    """One password reset request, kept an hour for throttling (per address and per email)."""

    created_at = models.DateTimeField(db_index=True)
    ip_address = models.CharField(max_length=64)
    email = models.CharField(max_length=254)

    class Meta:
        indexes = [
            models.Index(fields=["ip_address", "created_at"]),
            models.Index(fields=["email", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"password reset request from {self.ip_address} at {self.created_at:%Y-%m-%d %H:%M}"
