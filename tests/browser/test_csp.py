"""The main pages in Chromium under the site's Content-Security-Policy: nothing is refused.

Chromium reports every refused script, style, image or font both as a ``securitypolicyviolation``
event and as a console error ("Refused to ..."); the test listens for both while it opens the
site's and the admin's pages and uses their scripts (copy button, confirm dialogs, admin widgets).
"""

from __future__ import annotations

import pytest
from django.db import connections
from playwright.sync_api import expect, sync_playwright

from tests.browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.browser]

# Runs before any page script: keeps every violation the page reports.
COLLECT_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(
    `${event.violatedDirective} blocked ${event.blockedURI || "inline"}`
      + ` at ${event.sourceFile}:${event.lineNumber}`
  );
});
"""


@pytest.fixture
def browser_page(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(accept_downloads=True)
        context.add_init_script(COLLECT_VIOLATIONS)
        page = context.new_page()
        page.set_default_timeout(15_000)
        console: list[str] = []
        page.on(
            "console",
            lambda message: (
                console.append(message.text) if "Content Security Policy" in message.text else None
            ),
        )
        try:
            yield page, console
        finally:
            # ORM calls made while Playwright's event loop ran have their own connections
            # (Django keeps one set per asyncio context): close them in that loop.
            connections.close_all()
            context.close()
            browser.close()


def violations(page) -> list[str]:
    return page.evaluate("window.__cspViolations")


@pytest.mark.django_db(transaction=True)
def test_the_main_pages_run_under_the_policy_without_a_violation(
    live_server, influx, django_user_model, browser_page
):
    page, console = browser_page
    django_user_model.objects.create_superuser(username="root", password="root-pass-123")
    base = live_server.url
    seen: dict[str, list[str]] = {}

    def visit(url: str) -> None:
        if url:
            page.goto(base + url)
        page.wait_for_load_state("load")
        seen[page.url] = violations(page)

    page.goto(f"{base}/accounts/login/")
    visit("")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill("root-pass-123")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Devices")).to_be_visible()
    visit("")

    visit("/devices/register/")
    page.get_by_label("Device id").fill("csp-browser")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("heading", name="Device registered: csp-browser")).to_be_visible()
    page.get_by_role("button", name="Copy configuration").click()  # site.js
    expect(page.locator(".copy-status")).not_to_have_text("")
    visit("")

    for url in (
        "/devices/csp-browser/",
        "/devices/csp-browser/dashboard/",
        "/devices/csp-browser/remove/",
        "/admin/",
        "/admin/devices/",
        "/admin/devices/csp-browser/",
        "/admin/devices/register/",
        "/admin/devices/csp-browser/rotate-token/",
        "/admin/auth/user/",
        "/admin/auth/user/add/",
        "/admin/auth/group/add/",  # the permissions' two-box filter widget (admin JS)
    ):
        visit(url)

    # Rotate from the device page: its confirm dialog comes from site.js.
    page.goto(f"{base}/devices/csp-browser/")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Rotate token").click()
    expect(page.get_by_role("heading", name="New device token: csp-browser")).to_be_visible()
    visit("")

    assert len(seen) >= 14
    assert {url: found for url, found in seen.items() if found} == {}
    assert console == []

    # The listener is live: an inline script added now is refused and reported.
    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.__ran = true'; document.body.append(s); }"
    )
    page.wait_for_function("window.__cspViolations.length > 0")
    assert page.evaluate("window.__ran") is None
