"""A Chromium page for a test: the system browser, CSP violations collected, and the database
connections that ORM calls opened under Playwright's event loop closed afterwards; logging in
through the site's login form."""

from __future__ import annotations

from contextlib import contextmanager
from urllib.parse import quote

from django.db import connections
from playwright.sync_api import sync_playwright

from tests.browser import CHROMIUM, CHROMIUM_ARGS
from tests.browser.test_csp import COLLECT_VIOLATIONS


@contextmanager
def open_page(monkeypatch, *, timeout_ms: int = 20_000, **context_options):
    # Playwright's sync API keeps an event loop around; Django's ORM is used from this thread
    # only by fixtures, before and after the browser runs.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(**context_options)
        context.add_init_script(COLLECT_VIOLATIONS)
        page = context.new_page()
        page.set_default_timeout(timeout_ms)
        try:
            yield page
        finally:
            # ORM calls made while Playwright's event loop ran have their own connections
            # (Django keeps one set per asyncio context): close them in that loop.
            connections.close_all()
            context.close()
            browser.close()


def submit_login(
    page,
    username: str = "operator",
    password: str = "operator-pass-123",  # noqa: S107 - the staff_user fixture's
) -> None:
    """Fill in and send the login form the page shows (the ``staff_user`` fixture's account
    unless told)."""
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def log_in(page, base: str, next_path: str = "", **account: str) -> None:
    """Open the login page of the site at ``base`` and log in, to go on to ``next_path``."""
    query = f"?next={quote(next_path, safe='/:')}" if next_path else ""
    page.goto(f"{base}/accounts/login/{query}")
    submit_login(page, **account)
