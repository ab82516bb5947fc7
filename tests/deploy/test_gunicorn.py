"""The production set-up: gunicorn as the README runs it, behind the README's TLS proxy.

Runs the real commands an operator runs (migrate, collectstatic, gunicorn) in subprocesses with
the README recipe's environment (DEBUG off, https settings on), against the test InfluxDB.
Requests as the TLS proxy forwards them carry ``X-Forwarded-Proto: https``.
"""

from __future__ import annotations

import gzip
import re
import socket
import time
import urllib.error
import urllib.request

import pytest

from localinflux.runner import free_port
from tests.deploy.recipe import gunicorn, production_env

HTTPS = {"X-Forwarded-Proto": "https"}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _get(url: str, headers: dict | None = None, timeout: float = 10):
    opener = urllib.request.build_opener(_NoRedirect)
    request = urllib.request.Request(url, headers=headers or {})
    try:
        return opener.open(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        return exc


@pytest.fixture
def gunicorn_app(influx, tmp_path):
    with gunicorn(production_env(influx, tmp_path), free_port()) as base:
        yield base


def test_gunicorn_serves_the_app_and_whitenoise_the_hashed_static_files(gunicorn_app):
    health = _get(f"{gunicorn_app}/healthz", HTTPS)
    assert health.status == 200
    assert b'"pass"' in health.read()

    assert _get(f"{gunicorn_app}/devices/", HTTPS).status == 302  # login required

    login = _get(f"{gunicorn_app}/accounts/login/", HTTPS)
    assert login.status == 200
    page = login.read().decode()
    css = re.search(r'href="(/static/css/site\.[0-9a-f]{12}\.css)"', page)
    assert css, "the login page links the collected, hashed stylesheet"

    plain = _get(gunicorn_app + css.group(1), HTTPS)
    assert plain.status == 200
    assert "max-age=315360000" in plain.headers["Cache-Control"]  # immutable, hashed name
    body = plain.read()

    zipped = _get(gunicorn_app + css.group(1), {**HTTPS, "Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.read()) == body


def test_behind_the_proxy_https_is_enforced_but_the_health_probe_is_answered(gunicorn_app):
    # A browser on plain http is sent to https.
    plain = _get(f"{gunicorn_app}/accounts/login/")
    assert plain.status == 301
    assert plain.headers["Location"] == gunicorn_app.replace("http:", "https:") + "/accounts/login/"
    # Over https (as the proxy says): the page, with HSTS and secure cookies.
    secure = _get(f"{gunicorn_app}/accounts/login/", HTTPS)
    assert secure.status == 200
    assert secure.headers["Strict-Transport-Security"] == (
        "max-age=31536000; includeSubDomains; preload"
    )
    assert "Secure" in secure.headers["Set-Cookie"]  # the CSRF cookie
    assert "script-src 'self'" in secure.headers["Content-Security-Policy"]
    # A load balancer's plain-http probe gets the health answer itself, not a redirect.
    probe = _get(f"{gunicorn_app}/healthz")
    assert probe.status == 200
    assert b'"pass"' in probe.read()


def _stall(port: int) -> socket.socket:
    """A client that starts a request and never finishes its headers."""
    conn = socket.create_connection(("127.0.0.1", port), timeout=5)
    conn.sendall(b"GET /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    return conn


def test_four_stalled_clients_do_not_delay_other_requests(gunicorn_app):
    port = int(gunicorn_app.rsplit(":", 1)[1])
    assert _get(f"{gunicorn_app}/healthz", HTTPS).status == 200  # both workers are up
    stalled = [_stall(port) for _ in range(4)]
    try:
        time.sleep(0.5)  # the workers have taken the stalled connections
        timings = []
        for _ in range(10):
            start = time.monotonic()
            try:
                response = _get(f"{gunicorn_app}/accounts/login/", HTTPS, timeout=5)
                assert response.status == 200
                response.read()
            except TimeoutError:  # stalled behind the slow clients
                pass
            timings.append(round(time.monotonic() - start, 3))
        assert max(timings) < 1.0, f"seconds per request while 4 clients stall: {timings}"
    finally:
        for conn in stalled:
            conn.close()
