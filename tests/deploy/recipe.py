"""The README's deploy recipe, read from README.md, and gunicorn started the way it says.

Tests run the recipe as written: its ``export`` variables, and its gunicorn command line. Only
the placeholders (``...``) are filled in, and the database, hosts and InfluxDB are pointed at the
test's own.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

# What the recipe's "..." placeholders stand for when a test runs it.
PLACEHOLDERS = {
    "SECRET_KEY": "deploy-test-secret-key-not-for-production-use-0123456789-abcdefghij",
    "DATABASE_URL": "postgres://iotcenter:not-a-password@127.0.0.1:5432/iotcenter",
    "INFLUX_URL": "http://127.0.0.1:8086",
    "INFLUX_TOKEN": "not-a-token",
    "INFLUX_ORG": "iot-center",
}


def _recipe_block() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Deploying with gunicorn", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block, "the README's deploy section has a sh block"
    return block.group(1).replace("\\\n", " ")


def recipe_env() -> dict[str, str]:
    """The variables the recipe exports, placeholders filled in."""
    exported: dict[str, str] = {}
    for line in _recipe_block().splitlines():
        words = shlex.split(line, comments=True)
        if words[:1] != ["export"]:
            continue
        for word in words[1:]:
            name, _, value = word.partition("=")
            if "..." in value:
                assert name in PLACEHOLDERS, f"a test value for the README's {name}=..."
                value = PLACEHOLDERS[name]
            exported[name] = value
    assert exported, "the README's deploy recipe exports its settings"
    return exported


def recipe_command(program: str) -> list[str]:
    """The recipe's command line that runs ``program`` (e.g. gunicorn), as words."""
    for line in _recipe_block().splitlines():
        words = shlex.split(line, comments=True)
        if words and Path(words[0]).name == program:
            return [str(BIN / program), *words[1:]]
    raise AssertionError(f"the README's deploy recipe runs {program}")


def production_env(influx, tmp_path: Path, **overrides: str) -> dict[str, str]:
    """The recipe's environment, on the test's SQLite file, static dir and InfluxDB."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "DJANGO_SETTINGS_MODULE": "iotcenter.settings",
        **recipe_env(),
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db' / 'db.sqlite3'}",
        "STATIC_ROOT": str(tmp_path / "static"),
        "INFLUX_URL": influx.url,
        "INFLUX_TOKEN": influx.token,
        "INFLUX_ORG": influx.org,
        "INFLUX_BUCKET": influx.bucket,
        "INFLUX_BUCKET_AUTH": influx.bucket_auth,
        **overrides,
    }


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@contextmanager
def gunicorn(env: dict[str, str], port: int):
    """gunicorn as the README runs it, on 127.0.0.1:port; yields its base URL."""
    for args in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):
        done = manage(env, *args)
        assert done.returncode == 0, done.stderr
    # The recipe's command line; only the address it listens on is the test's.
    command = [*recipe_command("gunicorn"), "--bind", f"127.0.0.1:{port}"]
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        # Until it listens: a minute at most (its workers import Django; a busy machine is slow).
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if proc.poll() is not None:
                    raise AssertionError(
                        f"gunicorn exited: {proc.stdout.read().decode()}"
                    ) from None
                assert time.monotonic() < deadline, "gunicorn did not listen within 60 s"
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
