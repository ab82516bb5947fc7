"""Staff manage API keys and provisioning URLs here: create (the key is shown once), revoke."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils import timezone

from . import keys
from .models import ApiKey, ProvisioningGrant


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "owner", "read_only", "created_at", "last_used_at", "active")
    list_filter = ("read_only", "revoked_at")
    search_fields = ("name", "prefix", "owner__username")
    fields = ("name", "owner", "read_only", "prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke"]

    @admin.display(boolean=True)
    def active(self, obj: ApiKey) -> bool:
        return obj.active

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:  # a key's owner and rights are fixed: make a new key instead
            return (*self.readonly_fields, "owner", "read_only")
        return self.readonly_fields

    def save_model(self, request, obj: ApiKey, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        created, raw = keys.create_key(name=obj.name, owner=obj.owner, read_only=obj.read_only)
        obj.pk = created.pk
        obj.__dict__.update(created.__dict__)
        messages.warning(
            request,
            f"API key {created.name!r}: {raw} (copy it now: it is not shown again).",
        )

    @admin.action(description="Revoke the selected API keys")
    def revoke(self, request, queryset) -> None:
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        messages.success(request, f"{count} API key(s) revoked.")


@admin.register(ProvisioningGrant)
class ProvisioningGrantAdmin(admin.ModelAdmin):
    """Deleting a grant revokes the device's provisioning URL (its token stays valid)."""

    list_display = ("device_id", "created_at", "expires_at", "last_used_at")
    search_fields = ("device_id",)
    readonly_fields = ("device_id", "created_at", "expires_at", "last_used_at")

    def has_add_permission(self, request) -> bool:
        return False  # issued with a new token (register, rotate) only
