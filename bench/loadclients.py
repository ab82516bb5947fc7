"""The HTTP side of ``python -m bench.load``: logging clients in, finding the targets' paths in
the pages, and the clients that cycle over them (keep-alive, failures counted by kind)."""

from __future__ import annotations

import html
import http.client
import re
import threading
import time
import urllib.parse
from collections import Counter

HOST = "127.0.0.1"  # the only address this command sends traffic to or listens on
DEVICES = ("load-device-1", "load-device-2", "load-device-3")
OPERATOR = "loadtest"
# What a browser asks: the pages, and what their live viewers poll every few seconds.
TARGETS = ("list", "list_data", "device", "dashboard", "dashboard_data", "overview_data", "static")
REQUEST_TIMEOUT_S = 30


def _cookies(response: http.client.HTTPResponse) -> dict[str, str]:
    out = {}
    for header in response.headers.get_all("Set-Cookie") or []:
        name, _, rest = header.partition("=")
        out[name.strip()] = rest.split(";", 1)[0]
    return out


def log_in(port: int, password: str) -> str:
    """A new session for the operator; returns its session cookie."""
    conn = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT_S)
    try:
        conn.request("GET", "/accounts/login/")
        page = conn.getresponse()
        body = page.read().decode()
        csrf_cookie = _cookies(page)["csrftoken"]
        field = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1)
        form = urllib.parse.urlencode(
            {"username": OPERATOR, "password": password, "csrfmiddlewaretoken": field}
        )
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={csrf_cookie}",
        }
        conn.request("POST", "/accounts/login/", body=form, headers=headers)
        answer = conn.getresponse()
        answer.read()
        session = _cookies(answer).get("sessionid")
        if answer.status != 302 or not session:
            raise RuntimeError(f"login answered {answer.status} without a session")
        return session
    finally:
        conn.close()


# A request that fails this way on a reused keep-alive connection, before any answer, is one the
# server closed as idle at the moment it was sent: a browser retries it once, and so do we.
STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class Client(threading.Thread):
    def __init__(self, n: int, port: int, session: str, paths: dict, stop: threading.Event):
        super().__init__(name=f"load-client-{n}", daemon=True)
        self.n, self.port, self.paths, self.stop = n, port, paths, stop
        self.headers = {"Cookie": f"sessionid={session}", "Accept-Encoding": "gzip"}
        self.samples: dict[str, list[float]] = {t: [] for t in TARGETS}
        self.errors: dict[str, Counter] = {t: Counter() for t in TARGETS}
        self.statuses: dict[str, Counter] = {t: Counter() for t in TARGETS}
        self.retries = 0
        self.conn = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT_S)

    def path(self, target: str, i: int) -> str:
        device = DEVICES[(self.n + i) % len(DEVICES)]
        return self.paths[target].format(device=device)

    def fetch(self, path: str) -> int:
        for attempt in (1, 2):
            reused = self.conn.sock is not None
            try:
                self.conn.request("GET", path, headers=self.headers)
                response = self.conn.getresponse()
                response.read()
                return response.status
            except STALE:
                self.conn.close()
                if not reused or attempt == 2:
                    raise
                self.retries += 1
        raise AssertionError("unreachable")

    def run(self) -> None:
        i = self.n  # each client starts elsewhere in the cycle: the targets interleave
        while not self.stop.is_set():
            target = TARGETS[i % len(TARGETS)]
            start = time.perf_counter()
            try:
                status = self.fetch(self.path(target, i // len(TARGETS)))
                self.statuses[target][status] += 1
                kind = None if 200 <= status < 400 else f"HTTP {status}"
            except Exception as exc:  # every failure is counted, by kind
                self.conn.close()
                kind = type(exc).__name__
            elapsed_ms = (time.perf_counter() - start) * 1000
            if kind is None:
                self.samples[target].append(elapsed_ms)
            else:
                self.errors[target][kind] += 1
            i += 1
        self.conn.close()


def _get_page(port: int, session: str, path: str) -> str:
    conn = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT_S)
    try:
        conn.request("GET", path, headers={"Cookie": f"sessionid={session}"})
        response = conn.getresponse()
        page = response.read().decode()
    finally:
        conn.close()
    if response.status != 200:
        raise RuntimeError(f"GET {path} answered {response.status}")
    return page


def live_url(page: str, path: str) -> str:
    """The JSON endpoint a live page's script polls: its ``data-live-url`` attribute."""
    found = re.search(r'data-live-url="([^"]+)"', page)
    if not found:
        raise RuntimeError(f"{path} has no data-live-url: not a live page")
    return html.unescape(found.group(1))


def discover_paths(port: int, session: str) -> dict:
    """The targets' paths, as the pages link them: the hashed stylesheet the list page links,
    the list's last-telemetry URL with its rows' devices (``static/js/devicelist.js`` adds them
    as ``?d=``), a dashboard's and the overview's ``data-live-url``."""
    page = _get_page(port, session, "/devices/")
    missing = [d for d in DEVICES if d not in page]
    if missing:
        raise RuntimeError(f"the device list does not show {missing}")
    css = re.search(r'href="(/static/[^"]+\.[0-9a-f]{12}\.css)"', page)
    if not css:
        raise RuntimeError("the device list links no hashed stylesheet")
    rows = re.findall(r'<tr[^>]* data-device="([^"]+)"', page)
    if not rows:
        raise RuntimeError("the device list has no rows with data-device for its live refresh")
    query = urllib.parse.urlencode([("d", html.unescape(d)) for d in rows])
    dashboard = "/devices/{device}/dashboard/"
    board = dashboard.format(device=DEVICES[0])
    board_data = live_url(_get_page(port, session, board), board)
    if DEVICES[0] not in board_data:
        raise RuntimeError(f"{board}'s data-live-url is not the device's: {board_data}")
    return {
        "list": "/devices/",
        "list_data": f"{live_url(page, '/devices/')}?{query}",
        "device": "/devices/{device}/",
        "dashboard": dashboard,
        "dashboard_data": board_data.replace(DEVICES[0], "{device}"),
        "overview_data": live_url(_get_page(port, session, "/"), "/"),
        "static": css.group(1),
    }
