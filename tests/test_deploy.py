"""The production set-up: gunicorn serving the app, WhiteNoise serving collected static files.

Runs the real commands an operator runs (migrate, collectstatic, gunicorn) in subprocesses with a
production environment (DEBUG off), against the test InfluxDB.
"""

from __future__ import annotations

import gzip
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from localinflux.runner import free_port

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _get(url: str, headers: dict | None = None):
    opener = urllib.request.build_opener(_NoRedirect)
    request = urllib.request.Request(url, headers=headers or {})
    try:
        return opener.open(request, timeout=10)
    except urllib.error.HTTPError as exc:
        return exc


@pytest.fixture
def gunicorn_app(influx, tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "iotcenter.settings",
        "SECRET_KEY": "deploy-test-secret-key-not-for-production-use-0123456789",
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "STATIC_ROOT": str(tmp_path / "static"),
        "INFLUX_URL": influx.url,
        "INFLUX_TOKEN": influx.token,
        "INFLUX_ORG": influx.org,
        "INFLUX_BUCKET": influx.bucket,
        "INFLUX_BUCKET_AUTH": influx.bucket_auth,
        "INFLUX_TIMEOUT": "5",
    }
    for args in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):
        subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True
        )
    port = free_port()
    proc = subprocess.Popen(
        [BIN / "gunicorn", "iotcenter.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"gunicorn exited: {proc.stdout.read().decode()}")
                time.sleep(0.1)
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)


def test_gunicorn_serves_the_app_and_whitenoise_the_hashed_static_files(gunicorn_app):
    health = _get(f"{gunicorn_app}/healthz")
    assert health.status == 200
    assert b'"pass"' in health.read()

    assert _get(f"{gunicorn_app}/devices/").status == 302  # login required

    login = _get(f"{gunicorn_app}/accounts/login/")
    assert login.status == 200
    page = login.read().decode()
    css = re.search(r'href="(/static/css/site\.[0-9a-f]{12}\.css)"', page)
    assert css, "the login page links the collected, hashed stylesheet"

    plain = _get(gunicorn_app + css.group(1))
    assert plain.status == 200
    assert "max-age=315360000" in plain.headers["Cache-Control"]  # immutable, hashed name
    body = plain.read()

    zipped = _get(gunicorn_app + css.group(1), {"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.read()) == body
