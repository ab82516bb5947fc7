"""Template helpers of the alert includes shown on device pages."""

from django import template

register = template.Library()


@register.filter
def firing_of(page_alerts, device_id):
    """The firing alerts of one device from a page's ``PageAlerts`` (empty if none)."""
    return page_alerts.firing.get(device_id, []) if page_alerts else []
