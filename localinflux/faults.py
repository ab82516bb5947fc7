"""Fault injection and request counters, for tests of how the app copes with a bad InfluxDB."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

FAULT_MESSAGES = {
    429: ("too many requests", "too many requests"),
    500: ("internal error", "internal error"),
    503: ("unavailable", "unavailable"),
}


@dataclass
class Fault:
    status: int | None = None
    retry_after: int | str | None = None
    delay: float = 0.0
    drop: bool = False
    count: int | None = 1  # None: unlimited (bounded by ``until``)
    until: float | None = None  # time.monotonic() deadline when given a duration
    path: str | None = None
    method: str | None = None

    def alive(self, now: float) -> bool:
        if self.until is not None and now >= self.until:
            return False
        return self.count is None or self.count > 0

    def matches(self, method: str, path: str, now: float) -> bool:
        if not self.alive(now):
            return False
        if self.path is not None and not path.startswith(self.path):
            return False
        return self.method is None or self.method.upper() == method


class Faults:
    """Rules matched in the order added; the first live rule that matches a request applies."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[Fault] = []

    def add(
        self,
        *,
        status: int | None = None,
        retry_after: int | str | None = None,
        delay: float = 0.0,
        drop: bool = False,
        count: int | None = 1,
        duration: float | None = None,
        path: str | None = None,
        method: str | None = None,
    ) -> Fault:
        """The next ``count`` matching requests (or all of them for ``duration`` seconds) fail."""
        if status is not None and not 400 <= int(status) <= 599:
            raise ValueError("status must be an HTTP error status (400-599)")
        rule = Fault(
            status=int(status) if status is not None else None,
            retry_after=retry_after,
            delay=float(delay),
            drop=bool(drop),
            count=None if duration is not None else int(count),
            until=time.monotonic() + float(duration) if duration is not None else None,
            path=path,
            method=method,
        )
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """The rule for this request, using one of its ``count`` if it has one."""
        now = time.monotonic()
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path, now):
                    if rule.count is not None:
                        rule.count -= 1
                    return rule
            # Forget spent rules so a long test session does not scan a growing list.
            self._rules = [r for r in self._rules if r.alive(now)]
        return None

    def active(self) -> int:
        now = time.monotonic()
        with self._lock:
            return sum(1 for r in self._rules if r.alive(now))


@dataclass
class RequestRecord:
    method: str
    path: str
    query: str  # the URL query string
    status: int
    rows: int = 0  # rows a query returned
    points: int = 0  # points a write stored
    flux: str = ""  # the Flux text of a query request
    ms: float = 0.0

    def to_json(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Stats:
    log: list[RequestRecord] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # Requests being handled right now (a delayed fault can outlive the test that set it).
    _in_flight: int = 0
    _idle: threading.Condition = field(default_factory=threading.Condition, repr=False)

    def enter(self) -> None:
        with self._idle:
            self._in_flight += 1

    def leave(self) -> None:
        with self._idle:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.notify_all()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no request is being handled; False if ``timeout`` passed first."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout=timeout)

    def record(self, rec: RequestRecord) -> None:
        with self._lock:
            self.log.append(rec)

    def reset(self) -> None:
        with self._lock:
            self.log = []

    def requests(self, path: str | None = None, method: str | None = None) -> int:
        """How many requests were answered whose path starts with ``path`` (and method matches)."""
        with self._lock:
            log = list(self.log)
        return sum(
            1
            for r in log
            if (path is None or r.path.startswith(path))
            and (method is None or r.method == method.upper())
        )

    @property
    def queries(self) -> int:
        return self.requests("/api/v2/query", "POST")

    @property
    def rows_returned(self) -> int:
        with self._lock:
            return sum(r.rows for r in self.log)

    @property
    def points_written(self) -> int:
        with self._lock:
            return sum(r.points for r in self.log)

    def to_json(self) -> dict:
        with self._lock:
            log = [r.to_json() for r in self.log]
        return {
            "requests": len(log),
            "queries": sum(1 for r in log if r["path"] == "/api/v2/query"),
            "rowsReturned": sum(r["rows"] for r in log),
            "pointsWritten": sum(r["points"] for r in log),
            "log": log,
        }
