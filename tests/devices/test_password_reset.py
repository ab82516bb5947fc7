"""Password reset: offered only when mail is configured (EMAIL_URL), truthful when sending
fails, throttled per client address and per email address."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from localinflux.runner import free_port

RESET_URLS = [
    "/accounts/password_reset/",
    "/accounts/password_reset/done/",
    "/accounts/reset/MQ/set-password/",
    "/accounts/reset/done/",
]


@pytest.fixture
def mail_on(settings):
    settings.MAIL_CONFIGURED = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return settings


@pytest.fixture
def broken_mail(settings):
    """Mail configured, but nothing listens where the server should be."""
    settings.MAIL_CONFIGURED = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()
    settings.EMAIL_TIMEOUT = 2
    return settings


@pytest.fixture
def user_with_email(staff_user):
    staff_user.email = "operator@example.com"
    staff_user.save()
    return staff_user


def test_mail_is_off_unless_email_url_is_set(settings):
    assert settings.MAIL_CONFIGURED is False


@pytest.mark.django_db
def test_without_mail_the_login_page_offers_no_reset(client, settings):
    settings.MAIL_CONFIGURED = False
    page = client.get("/accounts/login/").content.decode()
    assert "password_reset" not in page
    assert "Forgotten your password" not in page


@pytest.mark.django_db
@pytest.mark.parametrize("url", RESET_URLS)
def test_without_mail_the_reset_pages_are_not_there(client, settings, user_with_email, url):
    settings.MAIL_CONFIGURED = False
    assert client.get(url).status_code == 404
    assert client.post(url, {"email": "operator@example.com"}).status_code == 404
    assert mail.outbox == []


@pytest.mark.django_db
def test_with_mail_a_reset_link_arrives_and_sets_the_password(client, mail_on, user_with_email):
    assert "/accounts/password_reset/" in client.get("/accounts/login/").content.decode()
    response = client.post("/accounts/password_reset/", {"email": "operator@example.com"})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password_reset/done/"
    assert "Reset link sent" in client.get(response["Location"]).content.decode()
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", mail.outbox[0].body).group(1)
    form = client.get(link, follow=True)
    assert "Set a new password" in form.content.decode()
    new = {"new_password1": "a-brand-new-pass-42", "new_password2": "a-brand-new-pass-42"}
    done = client.post(form.redirect_chain[-1][0], new, follow=True)
    assert "Your new password is set" in done.content.decode()
    login = client.post(
        "/accounts/login/", {"username": "operator", "password": "a-brand-new-pass-42"}
    )
    assert login.status_code == 302


@pytest.mark.django_db
@pytest.mark.parametrize("email", ["operator@example.com", "nobody@example.com"])
def test_a_failing_mail_server_is_told_not_we_ve_emailed_you(
    client, broken_mail, user_with_email, email
):
    response = client.post("/accounts/password_reset/", {"email": email})
    assert response.status_code == 503
    text = response.content.decode()
    assert "could not be sent" in text
    assert "Reset link sent" not in text
    assert "on its way" not in text


@pytest.mark.django_db
def test_reset_requests_are_throttled(client, mail_on, user_with_email):
    for n in range(mail_on.PASSWORD_RESET_LIMIT):
        response = client.post("/accounts/password_reset/", {"email": f"x{n}@example.com"})
        assert response.status_code == 302
    response = client.post("/accounts/password_reset/", {"email": "operator@example.com"})
    assert response.status_code == 429
    assert "Too many password reset requests" in response.content.decode()
    assert "try again in 60 minutes" in response.content.decode()
    assert mail.outbox == []  # the throttled request sent nothing


@pytest.mark.django_db
def test_one_address_cannot_be_flooded_from_many_clients(client, mail_on, user_with_email):
    for n in range(mail_on.PASSWORD_RESET_LIMIT):
        client.post(
            "/accounts/password_reset/",
            {"email": "operator@example.com"},
            REMOTE_ADDR=f"198.51.100.{n}",
        )
    assert len(mail.outbox) == mail_on.PASSWORD_RESET_LIMIT
    response = client.post(
        "/accounts/password_reset/", {"email": "operator@example.com"}, REMOTE_ADDR="192.0.2.1"
    )
    assert response.status_code == 429
    assert len(mail.outbox) == mail_on.PASSWORD_RESET_LIMIT
