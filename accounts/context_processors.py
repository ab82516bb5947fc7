from django.conf import settings


def mail(request):
    """``mail_configured``: whether pages may offer what needs mail (password reset)."""
    return {"mail_configured": settings.MAIL_CONFIGURED}
