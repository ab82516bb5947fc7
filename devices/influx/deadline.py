"""The page deadline and the read pool.

INFLUX_TIMEOUT bounds a whole page, not each request: a page making three reads against a slow
InfluxDB must not take three timeouts. The middleware opens a deadline per request; every read
then runs in a worker thread and the page stops waiting when the deadline passes. The abandoned
request ends in its thread by its own per-request (urllib3) timeout. Changes (register, rotate,
remove) are never abandoned half-way: they run with per-request timeouts only (``mutation``).

The pool never queues a read behind abandoned ones: when every worker is busy (say with reads
left over from an outage), a new worker starts, up to ``MAX_READS`` reads in flight; past that
the page answers "unavailable" at once. Idle workers end after ``IDLE_S``. Each read runs in a
copy of the caller's context, so it sees the page's deadline.
"""

from __future__ import annotations

import contextvars
import logging
import os
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from contextvars import ContextVar, Token
from time import monotonic
from typing import TypeVar

from .client import Conn, timeout_seconds
from .errors import InfluxMisconfigured, InfluxUnavailable

logger = logging.getLogger("devices.influx")
T = TypeVar("T")

_deadline: ContextVar[float | None] = ContextVar("influx_page_deadline", default=None)
_mutating: ContextVar[bool] = ContextVar("influx_mutating", default=False)
_in_read: ContextVar[bool] = ContextVar("influx_in_read", default=False)

# Reads in flight at once in this process, abandoned ones included. Each abandoned read ends
# within its own timeout, so this bounds threads during an outage without making new pages
# wait for old reads.
MAX_READS = 64
IDLE_S = 30.0


def start_page_deadline() -> Token:
    """Start this request's time budget (INFLUX_TIMEOUT from now); pass the result to
    ``end_page_deadline``. Bad settings leave no deadline: the service reports them itself."""
    try:
        timeout_s = timeout_seconds()
    except InfluxMisconfigured:
        return _deadline.set(None)
    return _deadline.set(monotonic() + timeout_s)


def end_page_deadline(token: Token) -> None:
    _deadline.reset(token)


@contextmanager
def page_deadline() -> Iterator[None]:
    """Reads inside answer within INFLUX_TIMEOUT in total, or raise ``InfluxUnavailable``."""
    token = start_page_deadline()
    try:
        yield
    finally:
        end_page_deadline(token)


def seconds_left() -> float | None:
    """Seconds left of the current page's budget (None outside a page, or within a change)."""
    deadline = _deadline.get()
    if deadline is None or _mutating.get():
        return None
    return deadline - monotonic()


@contextmanager
def mutation() -> Iterator[None]:
    """Reads inside are part of a change: they get per-request timeouts, never the deadline."""
    token = _mutating.set(True)
    try:
        yield
    finally:
        _mutating.reset(token)


class ReadPool:
    """Worker threads for reads: reuses an idle one, starts one when none is idle (never
    queues work behind busy workers), at most ``limit`` workers at once."""

    def __init__(self, limit: int = MAX_READS, idle_s: float = IDLE_S):
        self.limit = limit
        self.idle_s = idle_s
        self._lock = threading.Lock()
        self._workers = 0
        self._idle: list[queue.SimpleQueue] = []  # the inboxes of idle workers

    def busy(self) -> int:
        """Workers running a read now (abandoned reads included)."""
        with self._lock:
            return self._workers - len(self._idle)

    def submit(self, fn: Callable[[], T]) -> Future[T] | None:
        """Run ``fn`` in a copy of the caller's context; None if ``limit`` reads are busy."""
        task = (Future(), contextvars.copy_context(), fn)
        with self._lock:
            if self._idle:
                self._idle.pop().put(task)
                return task[0]
            if self._workers >= self.limit:
                return None
            self._workers += 1
        inbox: queue.SimpleQueue = queue.SimpleQueue()
        inbox.put(task)
        threading.Thread(target=self._work, args=(inbox,), name="influx-read", daemon=True).start()
        return task[0]

    def _work(self, inbox: queue.SimpleQueue) -> None:
        while True:
            try:
                future, context, fn = inbox.get(timeout=self.idle_s)
            except queue.Empty:
                with self._lock:
                    if inbox in self._idle:  # else a task was handed over meanwhile
                        self._idle.remove(inbox)
                        self._workers -= 1
                        return
                continue
            if future.set_running_or_notify_cancel():
                try:
                    result = context.run(_as_read, fn)
                except BaseException as exc:
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            del future, context, fn
            with self._lock:
                self._idle.append(inbox)


def _as_read(fn: Callable[[], T]) -> T:
    _in_read.set(True)  # this context is the read's own copy
    return fn()


_pool_lock = threading.Lock()
_pool: ReadPool | None = None
_pool_pid = 0


def read_pool() -> ReadPool:
    global _pool, _pool_pid
    pid = os.getpid()
    if _pool is None or _pool_pid != pid:
        with _pool_lock:
            # After a fork the parent's worker threads do not exist here: start a new pool.
            if _pool is None or _pool_pid != pid:
                _pool = ReadPool()
                _pool_pid = pid
    return _pool


def bounded(conn: Conn, what: str, fn: Callable[[], T]) -> T:
    """``fn()``, but given up on (``InfluxUnavailable``) when the page's deadline passes."""
    remaining = seconds_left()
    if remaining is None or _in_read.get():
        return fn()  # no page, a change, or already inside a read of this page
    if remaining > 0:
        future = read_pool().submit(fn)
        if future is None:
            err = InfluxUnavailable(
                conn.url,
                f"{read_pool().limit} earlier InfluxDB requests are still waiting for an answer "
                f"while trying to {what}",
                unclear=True,
            )
            logger.warning("InfluxDB: %s", err)
            raise err
        try:
            return future.result(timeout=remaining)
        except TimeoutError:
            future.cancel()  # not started yet: never send it
    err = InfluxUnavailable(
        conn.url,
        f"timed out after {conn.timeout_s:g} s (INFLUX_TIMEOUT, per page) while trying to {what}",
        unclear=True,
    )
    logger.warning("InfluxDB: %s", err)
    raise err
