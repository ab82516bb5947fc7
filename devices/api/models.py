"""API keys and device provisioning grants: only hashes of their secrets are stored."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ApiKey(models.Model):
    """A named key a script or a trusted front end sends as ``Authorization: Bearer <key>``.

    The key acts with its owner's rights (staff may register devices, others only read);
    ``read_only`` keys never change anything whoever owns them. The key itself is shown once,
    when created: only its SHA-256 is kept (keys are 256 random bits, so a fast hash is enough).
    """

    name = models.CharField(max_length=100)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    prefix = models.CharField(
        max_length=12, help_text="The key's first characters, to tell keys apart."
    )
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    read_only = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def active(self) -> bool:
        return self.revoked_at is None and self.owner.is_active


class ProvisioningGrant(models.Model):
    """A device's bootstrap URL: ``<site>/api/provision/<secret>``, which iot-center-v2's
    clients take as their ``IOT_CENTER_URL`` and ask ``/api/env/<id>`` of.

    The secret is derived from the device's token and this grant's salt (``provisioning``), so
    it is shown on the token page beside the token, once, and never stored: only its hash is.
    A new token (rotate) replaces the grant; deleting the grant revokes the URL.
    """

    device_id = models.CharField(max_length=64, unique=True)
    salt = models.CharField(max_length=64, editable=False)
    secret_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "device provisioning URL"
        ordering = ["device_id"]

    def __str__(self) -> str:
        return f"provisioning URL of {self.device_id}"
