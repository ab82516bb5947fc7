"""Where the SQLite database lives, and keeping its file and directory private.

The database holds sessions, and a session can hold a device token nobody has picked up yet, so
neither the file nor its directory may be readable by other users of the machine. The default is
``var/db/db.sqlite3``: ``var/db`` is made 0700 and the file is created 0600 before SQLite opens it
(SQLite gives its journal and WAL files the database file's mode).

Checkouts from before ``var/db`` keep their ``db.sqlite3`` at the top: while that file exists and
``var/db/db.sqlite3`` does not, it stays in use (made 0600) and a note says how to move it;
``make run`` moves it by itself.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def default_sqlite_path(base_dir: Path) -> Path:
    """The SQLite file to use when ``DATABASE_URL`` is not set."""
    path = base_dir / "var" / "db" / "db.sqlite3"
    legacy = base_dir / "db.sqlite3"
    if legacy.exists() and not path.exists():
        _chmod(legacy, PRIVATE_FILE_MODE)
        sys.stderr.write(
            f"IoT Center: using the database at {legacy}, where checkouts before var/db kept it. "
            "Move it into the private directory with: "
            "mkdir -p -m 700 var/db && mv db.sqlite3 var/db/   (make run does this itself)\n"
        )
        return legacy
    if not path.parent.exists():
        path.parent.parent.mkdir(parents=True, exist_ok=True)
        path.parent.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)
    # The directory is the project's own: keep it private even if it was made by hand.
    _chmod(path.parent, PRIVATE_DIR_MODE)
    return path


def make_private_sqlite(name: str | os.PathLike) -> None:
    """Create a missing SQLite file 0600 (and its missing directories 0700) before SQLite does.

    Existing files are made 0600; existing directories are left as they are (they may be shared
    ones such as /tmp). In-memory databases are skipped.
    """
    name = os.fspath(name)
    if not name or name == ":memory:" or name.startswith("file:"):
        return
    path = Path(name)
    missing = []
    parent = path.parent
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    for directory in reversed(missing):
        directory.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_FILE_MODE)
    except FileExistsError:
        _chmod(path, PRIVATE_FILE_MODE)
    else:
        os.close(fd)  # an empty file is an empty SQLite database


def _chmod(path: Path, mode: int) -> None:
    with contextlib.suppress(PermissionError):  # not ours to change (another user's): leave it
        os.chmod(path, mode)
