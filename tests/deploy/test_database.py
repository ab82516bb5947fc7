"""The database: SQLite files private to their owner, PostgreSQL through DATABASE_URL.

Sessions live in the database, and a session can hold a device token nobody has picked up yet:
on a shared machine another user must not be able to read the SQLite file or list its directory.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys

import pytest

from iotcenter.dbfiles import default_sqlite_path, make_private_sqlite
from tests.deploy.recipe import ROOT

SHOW_DB = (
    "import json; from django.conf import settings as s; d = s.DATABASES['default'];"
    "print(json.dumps({'engine': d['ENGINE'], 'name': str(d['NAME'])}))"
)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    """manage.py under the usual umask 022, where files are created world-readable."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={
            "PATH": os.environ["PATH"],
            "DEBUG": "true",
            # Never contacted: migrate only needs the settings to pass their checks.
            "INFLUX_URL": "http://127.0.0.1:9",
            "INFLUX_TOKEN": "not-a-token",
            "INFLUX_ORG": "iot-center",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=lambda: os.umask(0o022),
    )


def shown(done: subprocess.CompletedProcess) -> dict:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_migrate_makes_a_sqlite_database_only_its_owner_can_read(tmp_path):
    for url_path in (tmp_path / "db.sqlite3", tmp_path / "new" / "dir" / "db.sqlite3"):
        done = manage("migrate", "--noinput", DATABASE_URL=f"sqlite:///{url_path}")
        assert done.returncode == 0, done.stderr
        assert mode(url_path) == 0o600, url_path
        with sqlite3.connect(url_path) as db:  # a real database, migrated
            assert db.execute("SELECT count(*) FROM django_session").fetchone() == (0,)
    # Directories the app had to make are private; one that existed (tmp_path) is left alone.
    assert mode(tmp_path / "new") == 0o700
    assert mode(tmp_path / "new" / "dir") == 0o700


def test_an_existing_database_file_is_made_private(tmp_path):
    path = tmp_path / "db.sqlite3"
    path.write_bytes(b"")
    path.chmod(0o644)
    make_private_sqlite(path)
    assert mode(path) == 0o600


def test_the_default_database_is_in_a_private_directory_of_the_checkout():
    if (ROOT / "db.sqlite3").exists():
        pytest.skip("this checkout still has a db.sqlite3 from before var/db")
    assert shown(manage("shell", "-c", SHOW_DB)) == {
        "engine": "django.db.backends.sqlite3",
        "name": str(ROOT / "var" / "db" / "db.sqlite3"),
    }
    assert mode(ROOT / "var" / "db") == 0o700
    assert mode(ROOT / "var" / "db" / "db.sqlite3") == 0o600


def test_the_default_path_for_a_new_checkout(tmp_path):
    path = default_sqlite_path(tmp_path)
    assert path == tmp_path / "var" / "db" / "db.sqlite3"
    assert mode(path.parent) == 0o700


def test_a_checkout_from_before_var_db_keeps_its_database_and_is_told_how_to_move_it(
    tmp_path, capsys
):
    legacy = tmp_path / "db.sqlite3"
    with sqlite3.connect(legacy) as db:
        db.execute("CREATE TABLE kept (x)")
    legacy.chmod(0o644)
    assert default_sqlite_path(tmp_path) == legacy
    assert mode(legacy) == 0o600
    assert "mv db.sqlite3 var/db/" in capsys.readouterr().err
    assert not (tmp_path / "var" / "db" / "db.sqlite3").exists()
    # Once moved, the private copy is the one used.
    (tmp_path / "var" / "db").mkdir(parents=True, mode=0o700)
    legacy.rename(tmp_path / "var" / "db" / "db.sqlite3")
    assert default_sqlite_path(tmp_path) == tmp_path / "var" / "db" / "db.sqlite3"


def test_a_postgres_database_url_uses_postgresql_through_psycopg_3():
    url = "postgres://iotcenter:secret@127.0.0.1:5432/iotcenter"
    assert shown(manage("shell", "-c", SHOW_DB, DATABASE_URL=url)) == {
        "engine": "django.db.backends.postgresql",
        "name": "iotcenter",
    }
    done = manage("shell", "-c", "import psycopg; print(psycopg.__version__)", DATABASE_URL=url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1].startswith("3.")
