"""Content-Security-Policy: every page carries it, and no page needs it loosened.

The policy (iotcenter/settings.py) allows scripts and styles from the site itself only, so a page
must have no inline ``<script>`` body, no ``on*=`` handler, no ``<style>`` element and no
``style=`` attribute: the browser would refuse them. tests/browser/test_csp.py checks the same
pages in Chromium.
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

POLICY = "Content-Security-Policy"


class _InlineFinder(HTMLParser):
    """Collects what a ``script-src 'self'; style-src 'self'`` policy would block."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.blocked: list[str] = []
        self._in: str | None = None  # "script" or "style" while inside one with inline text

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name, value in attrs.items():
            if name.startswith("on"):
                self.blocked.append(f"<{tag} {name}={value!r}>")
            if name == "style":
                self.blocked.append(f"<{tag} style={value!r}>")
            if name in ("href", "src", "action") and (value or "").lower().startswith(
                "javascript:"
            ):
                self.blocked.append(f"<{tag} {name}={value!r}>")
        if tag == "script":
            src = attrs.get("src") or ""
            if src.startswith(("http:", "https:", "//")):
                self.blocked.append(f"<script src={src!r}> (not this site)")
            # A JSON data block is never run, so CSP does not block it.
            data_block = (attrs.get("type") or "").lower() == "application/json"
            self._in = None if (src or data_block) else "script"
        elif tag == "style":
            self._in = "style"
        elif tag == "link" and (attrs.get("href") or "").startswith(("http:", "https:", "//")):
            self.blocked.append(f"<link href={attrs['href']!r}> (not this site)")

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._in = None

    def handle_data(self, data):
        if self._in and data.strip():
            self.blocked.append(f"inline <{self._in}>: {data.strip()[:80]!r}")


def blocked_by_policy(html: str) -> list[str]:
    finder = _InlineFinder()
    finder.feed(html)
    finder.close()
    return finder.blocked


def assert_policy(response, url: str) -> None:
    policy = response.headers.get(POLICY, "")
    assert policy, f"{url}: no {POLICY} header"
    directives = dict(
        [*part.split(" ", 1), ""][:2] for part in (p.strip() for p in policy.split(";")) if part
    )
    assert directives.get("script-src") == "'self'", (url, policy)
    assert directives.get("style-src") == "'self'", (url, policy)
    assert directives.get("object-src") == "'none'", (url, policy)
    assert directives.get("frame-ancestors") == "'none'", (url, policy)
    assert "unsafe-inline" not in policy, (url, policy)
    assert "unsafe-eval" not in policy, (url, policy)
    if "html" in response.headers.get("Content-Type", ""):
        assert blocked_by_policy(response.content.decode()) == [], url


def test_the_finder_sees_what_the_browser_would_block():
    page = (
        '<p style="color:red" onclick="x()">a</p><script>alert(1)</script>'
        '<script src="/static/js/site.js"></script><script type="application/json">{}</script>'
        '<style>p{}</style><a href="javascript:x()">b</a>'
    )
    assert len(blocked_by_policy(page)) == 5


@pytest.mark.django_db
def test_every_page_carries_the_policy_and_passes_it(client, django_user_model, influx):
    anonymous = ["/accounts/login/", "/admin/login/", "/healthz", "/no-such-page/"]
    for url in anonymous:
        assert_policy(client.get(url), url)

    admin = django_user_model.objects.create_superuser(username="root", password="root-pass-123")
    client.force_login(admin)
    registered = client.post("/devices/register/", {"device_id": "csp-1"}, follow=True)
    assert registered.redirect_chain[-1][0] == "/devices/csp-1/token/"
    assert_policy(registered, "site token page")
    admin_registered = client.post("/admin/devices/register/", {"device_id": "csp-2"}, follow=True)
    assert admin_registered.redirect_chain[-1][0] == "/admin/devices/csp-2/token/"
    assert_policy(admin_registered, "admin token page")

    pages = [
        "/devices/",
        "/devices/register/",
        "/devices/csp-1/",
        "/devices/csp-1/dashboard/",
        "/",  # the fleet overview
        "/devices/csp-1/dashboard/?start=2026-11-01T00:00&stop=2026-11-02T00:00",
        "/devices/csp-1/dashboard/?start=nonsense&stop=2026-11-02T00:00",  # form errors
        "/devices/csp-1/dashboard/data?range=1h",
        "/devices/csp-1/remove/",
        "/devices/csp-1/token/",  # shown already: the page says so
        "/api/devices",
        "/admin/",
        "/admin/devices/",
        "/admin/devices/register/",
        "/admin/devices/csp-2/",
        "/admin/devices/csp-2/rotate-token/",
        "/admin/devices/csp-2/remove/",
        "/admin/auth/user/",
        "/admin/auth/user/add/",
        f"/admin/auth/user/{admin.pk}/change/",
        "/admin/auth/group/add/",
        "/admin/password_change/",
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert_policy(response, url)


def test_the_server_error_page_passes_the_policy(client, settings):
    from django.template import loader

    assert blocked_by_policy(loader.get_template("500.html").render()) == []


@pytest.mark.django_db
def test_the_error_pages_carry_the_policy_and_pass_it(client, plain_user, offline_influx):
    client.force_login(plain_user)
    unavailable = client.get("/devices/")
    assert unavailable.status_code == 503
    assert_policy(unavailable, "503 page")
    not_allowed = client.get("/devices/register/")
    assert not_allowed.status_code == 403
    assert_policy(not_allowed, "403 page")
