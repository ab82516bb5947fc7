"""``{% provisioning_url creds as url %}``: a new token's provisioning URL, for the token page."""

from django import template

from devices.api import provisioning

register = template.Library()


@register.simple_tag(takes_context=True)
def provisioning_url(context, creds) -> str:
    request = context.get("request")
    if request is None or creds is None:
        return ""
    return provisioning.url_for(request, creds)
