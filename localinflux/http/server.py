"""The socket side: ``http.server`` with HTTP/1.1 keep-alive, InfluxDB's headers, faults, counters.

``Handler`` reads one request, applies an injected fault if one matches, routes it, authenticates
it, calls the handler and sends the answer (headers and body in one write). Every answered
request is counted in the engine's ``Stats`` (control requests excepted).
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import socket
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from localinflux.faults import FAULT_MESSAGES, RequestRecord
from localinflux.http.app import App
from localinflux.http.routes import authenticate, route
from localinflux.http.wire import (
    BASE_HEADERS,
    HttpError,
    Request,
    Response,
    code_for_status,
    error_response,
)

CONTROL_PREFIX = "/api/v2/localinflux/"
# A request body, or a gzip body once decoded, beyond this is refused with a 413 (InfluxDB's
# text for a batch over its configured maximum): a gzip bomb cannot take the memory.
MAX_BODY_BYTES = 64 << 20
TOO_LARGE = "unable to read data: points batch is too large"
DRAIN_BYTES = 1 << 30  # a refused body up to this size is read (and dropped) before the 413


class BodyTooLarge(Exception):
    pass


def gunzip_bounded(data: bytes, limit: int | None = None) -> bytes:
    """``gzip.decompress`` that stops (``BodyTooLarge``) once the output passes ``limit``."""
    limit = MAX_BODY_BYTES if limit is None else limit
    out = []
    total = 0
    while data:
        member = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        chunk = member.decompress(data, limit - total + 1)
        total += len(chunk)
        if total > limit:
            raise BodyTooLarge
        if not member.eof:
            raise EOFError("Compressed file ended before the end-of-stream marker was reached")
        out.append(chunk)
        data = member.unused_data.lstrip(b"\0")  # another member may follow; zeros may pad
    return b"".join(out)


log = logging.getLogger("localinflux.http")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "localinflux"
    sys_version = ""

    # BaseHTTPRequestHandler logs through log_message; the server logs its own line instead.
    def log_message(self, format, *args):
        pass

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PATCH(self):
        self._dispatch("PATCH")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_HEAD(self):
        self._dispatch("HEAD")

    def do_OPTIONS(self):
        self._dispatch("OPTIONS")

    def _read_body(self) -> bytes:
        """The body; ``BodyTooLarge`` past ``MAX_BODY_BYTES``, after reading and dropping the
        rest (up to ``DRAIN_BYTES``) so the client, still sending, gets to read the 413."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            parts = []
            total = 0
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                total += size
                if total > DRAIN_BYTES:
                    raise BodyTooLarge
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                if total > MAX_BODY_BYTES:
                    parts = []
                    self._discard(size)
                else:
                    parts.append(self.rfile.read(size))
                self.rfile.readline(65537)
            if total > MAX_BODY_BYTES:
                raise BodyTooLarge
            return b"".join(parts)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            if length <= DRAIN_BYTES:
                self._discard(length)
            raise BodyTooLarge
        return self.rfile.read(length) if length > 0 else b""

    def _discard(self, n: int) -> None:
        while n > 0:
            chunk = self.rfile.read(min(n, 1 << 16))
            if not chunk:
                return
            n -= len(chunk)

    def setup(self):
        super().setup()
        # Small responses must not wait for a delayed ACK (Nagle): that costs ~40 ms a request.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _send(self, resp: Response, *, gzip_ok: bool = False) -> None:
        body = resp.body
        self.send_response(resp.status)
        for name, value in BASE_HEADERS:
            self.send_header(name, value)
        for name, value in resp.headers:
            self.send_header(name, value)
        if resp.status != 204 and resp.status != 304:
            if body and gzip_ok:
                body = gzip.compress(body, compresslevel=5)
                self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Type", resp.content_type)
            self.send_header("Content-Length", str(len(body)))
        self.send_header("Date", self.date_time_string())
        if self.close_connection:
            self.send_header("Connection", "close")
        # Headers and body leave in one write.
        self._headers_buffer.append(b"\r\n")
        if body and self.command != "HEAD" and resp.status != 204:
            self._headers_buffer.append(body)
        self.wfile.write(b"".join(self._headers_buffer))
        self._headers_buffer = []

    def send_response(self, code, message=None):
        # Like send_response but without the Server header InfluxDB does not send.
        self.send_response_only(code, message)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _dispatch(self, method: str) -> None:
        stats = self.server.app.engine.stats  # type: ignore[attr-defined]
        stats.enter()
        try:
            self._handle(method)
        finally:
            stats.leave()

    def _fault_response(self, method: str, path: str, record, started) -> bool:
        """Apply an injected fault to this request; True when it answered (or dropped) it."""
        srv: LocalInfluxHTTPServer = self.server  # type: ignore[assignment]
        engine = srv.app.engine
        fault = engine.faults.take(method, path)
        if fault is None:
            return False
        if fault.delay:
            time.sleep(fault.delay)
        if fault.drop:
            record.status = 0
            engine.stats.record(record)
            srv.log(method, path, 0, started)
            self._drop()
            return True
        if fault.status is None:
            return False
        code, message = FAULT_MESSAGES.get(
            fault.status, (code_for_status(fault.status), "injected fault")
        )
        resp = error_response(fault.status, code, message)
        if fault.retry_after is not None:
            resp.headers.append(("Retry-After", str(fault.retry_after)))
        self._finish(resp, record, started, control=False, gzip_ok=False)
        return True

    def _handle(self, method: str) -> None:
        srv: LocalInfluxHTTPServer = self.server  # type: ignore[assignment]
        app = srv.app
        started = time.perf_counter()
        split = urlsplit(self.path)
        path = split.path
        params = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        control = path.startswith(CONTROL_PREFIX)
        record = RequestRecord(method=method, path=path, query=split.query, status=0)
        try:
            body = self._read_body()
        except BodyTooLarge:
            self.close_connection = True  # the rest of the body is never read
            resp = error_response(413, "request too large", TOO_LARGE)
            self._finish(resp, record, started, control, gzip_ok=False)
            return
        except (ValueError, OSError):
            self._drop()  # a malformed chunked body or a client that went away
            return
        if not control and self._fault_response(method, path, record, started):
            return
        gzip_ok = False
        try:
            r, path_args = route(method, path)
            encoding = (self.headers.get("Content-Encoding") or "").lower()
            if encoding in ("gzip", "x-gzip") and body:
                try:
                    body = gunzip_bounded(body)
                except BodyTooLarge:
                    raise HttpError("request too large", TOO_LARGE) from None
                except (OSError, EOFError, zlib.error) as exc:
                    raise HttpError("invalid", f"unable to decode gzip body: {exc}") from exc
            req = Request(method, path, split.query, params, self.headers, body, record=record)
            if r.auth:
                req.auth = authenticate(app.reg, self.headers)
            if r.gzip:
                gzip_ok = "gzip" in (self.headers.get("Accept-Encoding") or "").lower()
            resp = r.handler(app, req, **path_args)
        except HttpError as exc:
            resp = error_response(exc.status, exc.code, exc.message, indent=exc.indent)
        except Exception as exc:  # a bug: answer 500, and log where it happened
            log.exception("internal error on %s %s", method, path)
            resp = error_response(500, "internal error", f"internal error: {exc}")
        self._finish(resp, record, started, control, gzip_ok=gzip_ok and resp.status == 200)

    def _finish(self, resp, record, started, control, *, gzip_ok) -> None:
        srv: LocalInfluxHTTPServer = self.server  # type: ignore[assignment]
        record.status = resp.status
        record.ms = (time.perf_counter() - started) * 1000
        if not control:
            srv.app.engine.stats.record(record)
        srv.log(record.method, record.path, resp.status, started)
        self._send(resp, gzip_ok=gzip_ok)


class LocalInfluxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address, app: App, *, log_requests: bool = False) -> None:
        self.app = app
        self.log_requests = log_requests
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        self.stopping = False
        super().__init__(address, Handler)

    def log(self, method: str, path: str, status: int, started: float) -> None:
        if self.log_requests:
            ms = (time.perf_counter() - started) * 1000
            sys.stderr.write(f"{method} {path} {status} {ms:.1f}ms\n")

    def process_request(self, request, client_address):
        with self._conn_lock:
            if self.stopping:
                self.shutdown_request(request)
                return
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self._conn_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address):
        # Clients that hang up mid-request are normal here (timeouts, dropped faults).
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError | OSError):
            return
        log.exception("error serving %s", client_address)

    def close_all_connections(self) -> None:
        """Cut open keep-alive connections so a stopped server answers nothing more."""
        with self._conn_lock:
            self.stopping = True
            conns = list(self._connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
