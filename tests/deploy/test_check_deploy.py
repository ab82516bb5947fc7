"""`manage.py check --deploy` with the README's production environment, and the https settings.

The variables come from the README's deploy recipe itself (tests/deploy/recipe.py), so the test
breaks when the README and the settings drift apart.
"""

from __future__ import annotations

import json
import os

from tests.deploy.recipe import manage, recipe_env

SHOW = (
    "from django.conf import settings as s; import json; print(json.dumps({"
    "'proxy': s.SECURE_PROXY_SSL_HEADER, 'redirect': s.SECURE_SSL_REDIRECT,"
    "'exempt': s.SECURE_REDIRECT_EXEMPT, 'hsts': s.SECURE_HSTS_SECONDS,"
    "'subdomains': s.SECURE_HSTS_INCLUDE_SUBDOMAINS, 'preload': s.SECURE_HSTS_PRELOAD}))"
)


def _env(**variables: str) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "iotcenter.settings",
        **variables,
    }


def test_check_deploy_is_clean_with_the_readme_recipe():
    done = manage(_env(**recipe_env()), "check", "--deploy", "--fail-level", "WARNING")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "System check identified no issues (0 silenced).", done.stderr
    assert "WARNINGS" not in done.stderr


def test_the_recipe_turns_on_https_settings_from_the_environment():
    done = manage(_env(**recipe_env()), "shell", "-c", SHOW)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "proxy": ["HTTP_X_FORWARDED_PROTO", "https"],
        "redirect": True,
        "exempt": ["^healthz$"],
        "hsts": 31536000,
        "subdomains": True,
        "preload": True,
    }


def test_without_them_the_app_stays_on_plain_http_for_local_use():
    done = manage(_env(DEBUG="true", DATABASE_URL="sqlite://:memory:"), "shell", "-c", SHOW)
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout.strip().splitlines()[-1])
    assert shown["proxy"] is None
    assert shown["redirect"] is False
    assert shown["hsts"] == 0


def test_a_malformed_proxy_header_setting_says_what_to_write():
    done = manage(
        _env(DEBUG="true", DATABASE_URL="sqlite://:memory:", SECURE_PROXY_SSL_HEADER="https"),
        "check",
    )
    assert done.returncode != 0
    assert "SECURE_PROXY_SSL_HEADER is a header and a value" in done.stderr
    assert "HTTP_X_FORWARDED_PROTO,https" in done.stderr
