"""Fault injection and request counters (bounded), for tests of how the app copes with a bad
InfluxDB and for the operator's ``/api/v2/localinflux/stats``."""

from __future__ import annotations

import re
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass

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


# The request log keeps this many of the latest requests; the counters count every request.
LOG_MAX = 10_000
# Distinct (method, path) keys the per-path counter keeps; later new paths count as "other".
_PATHS_MAX = 2_048
_ID_SEGMENT = re.compile(r"/[0-9a-f]{16}(?=/|$)")


def _path_key(path: str) -> str:
    """A path with its 16-hex id segments as ``{id}``, so counters do not grow per resource."""
    return _ID_SEGMENT.sub("/{id}", path)


class Stats:
    """Counters of answered requests, and a bounded log of the latest ones.

    A long-running server answers requests forever: ``log`` holds the last ``log_max`` of them
    (for tests and the stats endpoint), while the totals are running counts that stay exact.
    """

    def __init__(self, log_max: int = LOG_MAX) -> None:
        self._lock = threading.Lock()
        self.log: deque[RequestRecord] = deque(maxlen=log_max)
        self._total = 0
        self._rows = 0
        self._points = 0
        self._by_path: Counter[tuple[str, str]] = Counter()
        # Requests being handled right now (a delayed fault can outlive the test that set it).
        self._in_flight = 0
        self._idle = threading.Condition()

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
        key = (rec.method, _path_key(rec.path))
        with self._lock:
            self.log.append(rec)
            self._total += 1
            self._rows += rec.rows
            self._points += rec.points
            if key in self._by_path or len(self._by_path) < _PATHS_MAX:
                self._by_path[key] += 1
            else:
                self._by_path[(rec.method, "other")] += 1

    def reset(self) -> None:
        with self._lock:
            self.log.clear()
            self._total = self._rows = self._points = 0
            self._by_path.clear()

    def requests(self, path: str | None = None, method: str | None = None) -> int:
        """How many requests were answered whose path starts with ``path`` (and method matches)."""
        prefix = _path_key(path) if path is not None else None
        want = method.upper() if method is not None else None
        with self._lock:
            if prefix is None and want is None:
                return self._total
            return sum(
                n
                for (m, p), n in self._by_path.items()
                if (prefix is None or p.startswith(prefix)) and (want is None or m == want)
            )

    @property
    def queries(self) -> int:
        return self.requests("/api/v2/query", "POST")

    @property
    def rows_returned(self) -> int:
        with self._lock:
            return self._rows

    @property
    def points_written(self) -> int:
        with self._lock:
            return self._points

    def to_json(self) -> dict:
        with self._lock:
            log = [r.to_json() for r in self.log]
            queries = sum(n for (_, p), n in self._by_path.items() if p == "/api/v2/query")
            return {
                "requests": self._total,
                "queries": queries,
                "rowsReturned": self._rows,
                "pointsWritten": self._points,
                "log": log,
                "logMax": self.log.maxlen,
            }
