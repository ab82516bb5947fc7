"""Append-only, checksummed log that makes acknowledged changes survive a crash.

Each record is ``<length:u32><crc32:u32><kind:u8><payload>``. The server appends a record and
fsyncs it *before* it applies the change and answers, so everything a client saw acknowledged is
in the file. At start the log is replayed in order; a torn or corrupt tail (a crash in the middle
of an append) ends the replay and is cut off so later appends follow the last good record.
"""

from __future__ import annotations

import json
import os
import struct
import threading
import zlib
from collections.abc import Iterator

_HEADER = struct.Struct("<IIB")

# Record kinds.
WRITE = 1  # line-protocol body: JSON header line, then the body bytes
DELETE = 2  # JSON: bucket, start, stop, predicate
META = 3  # JSON: a registry operation (orgs, users, buckets, authorizations)
SERIES = 4  # JSON: a run of one series' points, written by compaction

LOG_NAME = "localinflux.wal"


class Wal:
    def __init__(self, data_dir: str) -> None:
        # The log holds every token: keep it readable by its owner only.
        os.makedirs(data_dir, mode=0o700, exist_ok=True)
        self.path = os.path.join(data_dir, LOG_NAME)
        self._lock = threading.Lock()
        self._file = None
        self._dir = data_dir

    def replay(self) -> Iterator[tuple[int, bytes]]:
        """Yield every intact record; truncate the file after the last intact one."""
        if not os.path.exists(self.path):
            return
        good_end = 0
        with open(self.path, "rb") as f:
            while True:
                head = f.read(_HEADER.size)
                if len(head) < _HEADER.size:
                    break
                length, crc, kind = _HEADER.unpack(head)
                payload = f.read(length)
                if len(payload) < length or zlib.crc32(payload, kind) != crc:
                    break
                good_end = f.tell()
                yield kind, payload
        if os.path.getsize(self.path) != good_end:
            with open(self.path, "r+b") as f:
                f.truncate(good_end)
                f.flush()
                os.fsync(f.fileno())

    def rewrite(self, records: Iterator[tuple[int, bytes]]) -> None:
        """Replace the whole log with ``records`` atomically (used to compact it).

        The new log is written and fsynced beside the old one, then renamed over it, so a crash
        at any moment leaves either the old log or the complete new one.
        """
        if self._file is not None:
            raise RuntimeError("rewrite the log before opening it for appends")
        tmp = self.path + ".compact"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            for kind, payload in records:
                f.write(_HEADER.pack(len(payload), zlib.crc32(payload, kind), kind) + payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        self._fsync_dir()

    def size(self) -> int:
        return os.path.getsize(self.path) if os.path.exists(self.path) else 0

    def _fsync_dir(self) -> None:
        fd = os.open(self._dir, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def open(self) -> None:
        new = not os.path.exists(self.path)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._file = os.fdopen(fd, "ab")  # kept open for the server's life
        if new:
            self._fsync_dir()  # make the new file's directory entry durable too

    def append(self, kind: int, payload: bytes) -> None:
        record = _HEADER.pack(len(payload), zlib.crc32(payload, kind), kind) + payload
        with self._lock:
            f = self._file
            f.write(record)
            f.flush()
            os.fsync(f.fileno())

    def append_json(self, kind: int, obj: dict) -> None:
        self.append(kind, json.dumps(obj, separators=(",", ":")).encode())

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def write_payload(
    bucket_id: str, precision: str, now_ns: int, body: bytes, *, min_time: int | None = None
) -> bytes:
    """A write as logged: its body, and what decides which of its points were stored."""
    meta = {"bucket": bucket_id, "precision": precision, "now": now_ns}
    if min_time is not None:
        meta["min"] = min_time  # points older than this were refused (bucket retention)
    return json.dumps(meta).encode() + b"\n" + body


def read_write_payload(payload: bytes) -> tuple[str, str, int, bytes, int | None]:
    head, _, body = payload.partition(b"\n")
    meta = json.loads(head)
    return meta["bucket"], meta["precision"], meta["now"], body, meta.get("min")
