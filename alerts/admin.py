from django.contrib import admin

from .models import Alert, Channel, Notification, Rule


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    list_display = ["name", "describe", "severity", "enabled", "silenced_until"]
    list_filter = ["enabled", "severity", "condition"]
    search_fields = ["name", "device_id", "field"]


class NotificationInline(admin.TabularInline):
    model = Notification
    extra = 0
    can_delete = False
    readonly_fields = ["event", "channel", "status", "attempts", "passes", "next_attempt_at",
                       "last_error", "sent_at"]  # fmt: skip


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ["rule", "device_id", "started_at", "value", "resolved_at", "acknowledged_at"]
    list_filter = ["rule__severity", "rule"]
    search_fields = ["device_id", "rule__name"]
    readonly_fields = ["rule", "device_id", "started_at", "value", "detail", "resolved_at"]
    inlines = [NotificationInline]


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "target", "enabled"]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """Failures are listed here with their error (filter by status)."""

    list_display = ["alert", "event", "channel", "status", "attempts", "passes", "next_attempt_at",
                    "last_error", "sent_at"]  # fmt: skip
    list_filter = ["status", "event", "channel"]
    readonly_fields = [f.name for f in Notification._meta.fields]
