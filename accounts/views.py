"""Login lockout page and the password reset pages (only when mail is configured).

Django's own views do the work; this module adds what they lack here: the reset pages exist
only when ``EMAIL_URL`` is set (without mail they could only pretend), requests are throttled per
client address and per email address, and a mail server that fails is said so, never "we've
emailed you".
"""

from __future__ import annotations

import logging
import math
from datetime import timedelta
from functools import wraps

from django.conf import settings
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import views as auth_views
from django.core import mail
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template import loader
from django.urls import reverse_lazy
from django.utils import timezone

from .client_ip import client_ip
from .models import ResetRequest

log = logging.getLogger(__name__)

RESET_WINDOW = timedelta(hours=1)


def lockout(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """What django-axes answers a locked-out username + address (AXES_LOCKOUT_CALLABLE)."""
    minutes = settings.AXES_COOLOFF_MINUTES
    message = (
        "Too many failed logins for this account from this address; "
        f"try again in {minutes} minute{'s' if minutes != 1 else ''}."
    )
    context = {"message": message, "minutes": minutes}
    response = render(request, "registration/lockout.html", context, status=429)
    response["Retry-After"] = str(minutes * 60)
    return response


def mail_required(view):
    """The reset pages are not there (404) while no mail server is configured."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs):
        if not settings.MAIL_CONFIGURED:
            raise Http404("Password reset needs mail; none is configured.")
        return view(request, *args, **kwargs)

    return wrapped


class MailFailed(Exception):
    """The reset email could not be handed to the mail server."""


class ResetForm(auth_forms.PasswordResetForm):
    """Django's form, but a send that fails raises ``MailFailed`` (Django only logs it)."""

    def send_mail(
        self,
        subject_template_name,
        email_template_name,
        context,
        from_email,
        to_email,
        html_email_template_name=None,
    ):
        subject = "".join(loader.render_to_string(subject_template_name, context).splitlines())
        body = loader.render_to_string(email_template_name, context)
        message = mail.EmailMultiAlternatives(subject, body, from_email, [to_email])
        if html_email_template_name is not None:
            html = loader.render_to_string(html_email_template_name, context)
            message.attach_alternative(html, "text/html")
        try:
            message.send()
        except Exception as exc:
            log.warning("Password reset email to user %s not sent: %s", context["user"].pk, exc)
            raise MailFailed from exc

    def save(self, **kwargs):
        # Reach the mail server first, for every request: a broken one then shows the same way
        # whether or not the address belongs to an account.
        try:
            connection = mail.get_connection(fail_silently=False)
            connection.open()
            connection.close()
        except Exception as exc:
            log.warning("Mail server unreachable for a password reset: %s", exc)
            raise MailFailed from exc
        super().save(**kwargs)


class PasswordResetView(auth_views.PasswordResetView):
    form_class = ResetForm
    success_url = reverse_lazy("password_reset_done")
    template_name = "registration/password_reset_form.html"

    def post(self, request, *args, **kwargs):
        retry = _throttled(request)
        if retry:
            return render(
                request,
                "registration/password_reset_throttled.html",
                {"minutes": retry},
                status=429,
            )
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        ResetRequest.objects.create(
            created_at=timezone.now(),
            ip_address=client_ip(self.request) or "",
            email=form.cleaned_data["email"].lower(),
        )
        try:
            return super().form_valid(form)
        except MailFailed:
            form.add_error(
                None,
                "The reset email could not be sent: the mail server failed. Nothing was sent; "
                "try again later or ask an administrator to reset your password.",
            )
            return self.render_to_response(self.get_context_data(form=form), status=503)


def _throttled(request: HttpRequest) -> int:
    """0 while the client may ask for another reset, else the minutes until it may."""
    since = timezone.now() - RESET_WINDOW
    limit = settings.PASSWORD_RESET_LIMIT
    email = (request.POST.get("email") or "").strip().lower()[:254]
    recent = ResetRequest.objects.filter(created_at__gt=since)
    ResetRequest.objects.filter(created_at__lte=since).delete()
    for same in (recent.filter(ip_address=client_ip(request) or ""), recent.filter(email=email)):
        times = list(same.order_by("-created_at").values_list("created_at", flat=True)[:limit])
        if len(times) >= limit:
            wait = times[-1] + RESET_WINDOW - timezone.now()
            return max(1, math.ceil(wait.total_seconds() / 60))
    return 0


password_reset = mail_required(PasswordResetView.as_view())
password_reset_done = mail_required(auth_views.PasswordResetDoneView.as_view())
password_reset_confirm = mail_required(
    auth_views.PasswordResetConfirmView.as_view(success_url=reverse_lazy("password_reset_complete"))
)
password_reset_complete = mail_required(auth_views.PasswordResetCompleteView.as_view())
