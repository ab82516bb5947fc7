"""Login throttling (django-axes): after AXES_FAILURE_LIMIT failures for one username from one
address, that pair is locked out for AXES_COOLOFF_MINUTES, the right password included, on the
site's login and on /admin/login/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.utils import timezone

LOGINS = ["/accounts/login/", "/admin/login/"]
RIGHT = "operator-pass-123"


def attempt(client: Client, url: str, password: str, **extra):
    return client.post(url, {"username": "operator", "password": password}, **extra)


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def fail_until_locked(client: Client, url: str, settings, **extra) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = attempt(client, url, "wrong-guess", **extra)
        assert response.status_code in (200, 429)


def test_the_defaults_are_five_failures_and_fifteen_minutes(settings):
    assert settings.AXES_FAILURE_LIMIT == 5
    assert settings.AXES_COOLOFF_MINUTES == 15
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]
    assert settings.AXES_HANDLER == "axes.handlers.database.AxesDatabaseHandler"


@pytest.mark.django_db
@pytest.mark.parametrize("url", LOGINS)
def test_a_few_wrong_passwords_still_let_the_right_one_in(client, staff_user, settings, url):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert attempt(client, url, "wrong-guess").status_code == 200
    assert attempt(client, url, RIGHT).status_code == 302
    assert logged_in(client)


@pytest.mark.django_db
@pytest.mark.parametrize("url", LOGINS)
def test_after_the_limit_the_right_password_does_not_log_in(client, staff_user, settings, url):
    fail_until_locked(client, url, settings)
    response = attempt(client, url, RIGHT)
    assert response.status_code == 429
    text = response.content.decode()
    assert (
        "Too many failed logins for this account from this address; try again in 15 minutes."
        in text
    )
    assert response["Retry-After"] == "900"
    assert not logged_in(client)
    assert client.get("/devices/").status_code == 302  # still sent to the login page


@pytest.mark.django_db
def test_a_lockout_on_the_site_holds_on_the_admin_login_too(client, staff_user, settings):
    fail_until_locked(client, "/accounts/login/", settings)
    assert attempt(client, "/admin/login/", RIGHT).status_code == 429
    assert not logged_in(client)


@pytest.mark.django_db
def test_the_lockout_is_kept_in_the_database_shared_by_every_worker(client, staff_user, settings):
    fail_until_locked(client, "/accounts/login/", settings)
    assert AccessAttempt.objects.filter(username="operator").exists()
    # Another client (another worker's process reads the same table) is locked out as well.
    assert attempt(Client(), "/accounts/login/", RIGHT).status_code == 429


@pytest.mark.django_db
def test_the_lock_is_for_that_address_only(client, staff_user, settings):
    fail_until_locked(client, "/accounts/login/", settings, REMOTE_ADDR="203.0.113.7")
    other = Client()
    assert attempt(other, "/accounts/login/", RIGHT, REMOTE_ADDR="198.51.100.2").status_code == 302
    assert logged_in(other)


@pytest.mark.django_db
def test_after_the_cool_off_the_right_password_logs_in(client, staff_user, settings):
    fail_until_locked(client, "/accounts/login/", settings)
    past = timezone.now() - timedelta(minutes=settings.AXES_COOLOFF_MINUTES, seconds=1)
    AccessAttempt.objects.update(attempt_time=past)
    assert attempt(client, "/accounts/login/", RIGHT).status_code == 302
    assert logged_in(client)


@pytest.mark.django_db
def test_x_forwarded_for_is_ignored_unless_proxies_are_trusted(client, staff_user, settings):
    # A client cannot dodge the lock by inventing a new address for every guess.
    for n in range(settings.AXES_FAILURE_LIMIT):
        attempt(client, "/accounts/login/", "wrong-guess", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}")
    response = attempt(client, "/accounts/login/", RIGHT, HTTP_X_FORWARDED_FOR="10.0.0.99")
    assert response.status_code == 429


@pytest.mark.django_db
def test_behind_a_trusted_proxy_the_forwarded_address_counts(client, staff_user, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = {"REMOTE_ADDR": "127.0.0.1"}
    for _ in range(settings.AXES_FAILURE_LIMIT):
        # What the client wrote itself (the first entry) is not believed, the proxy's entry is.
        attempt(client, "/accounts/login/", "wrong", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7")
    locked = attempt(client, "/accounts/login/", RIGHT, HTTP_X_FORWARDED_FOR="203.0.113.7", **proxy)
    assert locked.status_code == 429
    other = Client()
    ok = attempt(other, "/accounts/login/", RIGHT, HTTP_X_FORWARDED_FOR="198.51.100.2", **proxy)
    assert ok.status_code == 302


@pytest.mark.parametrize(
    ("count", "meta", "expected"),
    [
        (0, {"REMOTE_ADDR": "192.0.2.1", "HTTP_X_FORWARDED_FOR": "203.0.113.7"}, "192.0.2.1"),
        (1, {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.7"}, "203.0.113.7"),
        (1, {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "1.1.1.1, 2.2.2.2"}, "2.2.2.2"),
        (2, {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "1.1.1.1, 2.2.2.2"}, "1.1.1.1"),
        # Fewer entries than proxies: not through all of them, the header is not believed.
        (2, {"REMOTE_ADDR": "192.0.2.1", "HTTP_X_FORWARDED_FOR": "1.1.1.1"}, "192.0.2.1"),
        # Not an address (a client's invention the proxy passed on): the connection's.
        (1, {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "'; drop"}, "127.0.0.1"),
        (0, {"REMOTE_ADDR": ""}, None),  # a unix socket
    ],
)
def test_the_client_address_trusts_only_the_configured_proxies(settings, count, meta, expected):
    from django.test import RequestFactory

    from accounts.client_ip import client_ip

    settings.TRUSTED_PROXY_COUNT = count
    request = RequestFactory().get("/", **meta)
    request.META.update(meta)
    assert client_ip(request) == expected
