"""``python -m bench.load``: a very short real run, Ctrl-C, and how failures are counted."""

from __future__ import annotations

import http.server
import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from bench import load

REPO = Path(__file__).resolve().parents[2]


def _leftover_dirs() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("iotcenter-load-*")}


def _nothing_listens(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_a_short_run_reports_every_target_and_leaves_nothing_behind():
    before = _leftover_dirs()
    done = subprocess.run(
        [sys.executable, "-m", "bench.load", "--clients", "3", "--seconds", "2", "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode in (0, 1), done.stderr  # 1: a goal missed, still a report
    report = json.loads(done.stdout)

    assert report["clients"] == 3
    assert 2 <= report["duration_s"] < 40
    assert re.fullmatch(r"/static/css/site\.[0-9a-f]{12}\.css", report["paths"]["static"])
    assert report["simulate"] == "running throughout"
    assert report["cpu_s_during_run"]["gunicorn"] > 0  # the app did the work, and it shows
    assert report["paths"]["list_data"] == (
        "/devices/last-telemetry?d=load-device-1&d=load-device-2&d=load-device-3"
    )
    assert report["paths"]["dashboard_data"].startswith("/devices/{device}/dashboard/data?range=")
    assert report["paths"]["overview_data"] == "/overview/data"
    targets = ("list", "list_data", "device", "dashboard", "dashboard_data", "overview_data")
    assert set(report["targets"]) == {*targets, "static"}
    for name in (*targets, "static"):
        target = report["targets"][name]
        assert target["requests"] > 0, name
        assert target["statuses"].get("200", 0) > 0, name  # logged in: pages, not the login
        assert target["p50_ms"] <= target["p95_ms"] <= target["p99_ms"]
        assert target["errors"] == sum(target["errors_by_kind"].values())
    assert report["total_errors"] == sum(t["errors"] for t in report["targets"].values())
    costs = report["cost_per_request"]
    assert set(costs) == {*targets, "static"}
    for name, cost in costs.items():
        assert cost["p50_ms"] > 0, name
        assert cost["gunicorn_cpu_ms"] >= 0, name
        assert cost["localinflux_cpu_ms"] >= 0, name
    # A page reads InfluxDB (the dashboard may share a read), the static file never does.
    assert costs["static"]["localinflux_cpu_ms"] < costs["list"]["localinflux_cpu_ms"]
    ratio = report["targets"]["dashboard"]["p99_ms"] / report["targets"]["static"]["p99_ms"]
    assert report["dashboard_p99_over_static_p99"] == pytest.approx(ratio)
    assert report["goals_met"] == (done.returncode == 0)

    port = int(report["gunicorn"].rsplit(":", 1)[1])
    assert _nothing_listens(port), "gunicorn is still running"
    # A run with errors (a goal missed, which this smoke run may) keeps the processes' logs in
    # a directory it names, on purpose; only that one may be left.
    kept = report.get("logs_kept")
    assert bool(kept) == (report["total_errors"] > 0), kept
    if kept:
        shutil.rmtree(kept)
    assert _leftover_dirs() <= before, "the temporary directory was left behind"


def _sigint_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_stops_every_process_and_removes_the_temporary_files():
    before = _leftover_dirs()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.load", "--clients", "2", "--seconds", "60"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # As from a terminal: a suite started in the background of a shell without job control
        # inherits SIGINT ignored, and Python then leaves it ignored (no KeyboardInterrupt).
        preexec_fn=_sigint_default,
    )
    port = None
    try:
        for line in proc.stderr:
            bind = re.search(r"--bind 127\.0\.0\.1:(\d+)", line)
            port = int(bind.group(1)) if bind else port
            if line.startswith("logging in"):  # gunicorn answered /healthz: all are running
                break
        assert port, "no gunicorn started"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "interrupted" in proc.stderr.read()
    assert _nothing_listens(port), "gunicorn is still running"
    assert _leftover_dirs() <= before, "the temporary directory was left behind"


class _Faulty(http.server.BaseHTTPRequestHandler):
    """Answers 500 on /devices/, drops the connection without an answer on a device page."""

    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path.startswith("/devices/load-"):
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        status = 500 if self.path == "/devices/" else 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def test_failures_are_counted_by_kind_and_kept_out_of_the_latencies():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Faulty)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stop = threading.Event()
    paths = {
        "list": "/devices/",
        "list_data": "/devices/last-telemetry?d=x",
        "device": "/devices/{device}/",
        "dashboard": "/ok/dashboard/",
        "dashboard_data": "/ok/dashboard/data",
        "overview_data": "/overview/data",
        "static": "/static/site.css",
    }
    try:
        clients = [load.Client(n, server.server_address[1], "s", paths, stop) for n in range(2)]
        for c in clients:
            c.start()
        time.sleep(0.5)
        stop.set()
        for c in clients:
            c.join(timeout=10)
    finally:
        server.shutdown()
        server.server_close()
    report = load.summarize(clients, 0.5)

    listing, device = report["targets"]["list"], report["targets"]["device"]
    assert listing["errors"] == listing["requests"] > 0
    assert listing["errors_by_kind"] == {"HTTP 500": listing["requests"]}
    assert listing["p99_ms"] is None  # failed requests have no latency figure
    assert device["errors"] == device["requests"] > 0
    assert set(device["errors_by_kind"]) <= {"RemoteDisconnected", "ConnectionResetError"}
    assert report["targets"]["static"]["errors"] == 0
    assert report["total_errors"] == listing["errors"] + device["errors"]
    assert not report["goals_met"]


def test_gunicorn_args_default_to_the_readme_recipe_or_the_repository_config(tmp_path):
    assert load.default_gunicorn_args(tmp_path) == "iotcenter.wsgi --workers 2 --timeout 60"
    (tmp_path / "gunicorn.conf.py").write_text("workers = 2\n")
    assert load.default_gunicorn_args(tmp_path) == "-c gunicorn.conf.py iotcenter.wsgi"


def test_gunicorn_is_always_bound_to_127_0_0_1_only():
    command = load.gunicorn_command("iotcenter.wsgi --workers 2", 8123)
    assert command[-2:] == ["--bind", "127.0.0.1:8123"]
    for args in ("iotcenter.wsgi -b 0.0.0.0:80", "iotcenter.wsgi --bind=0.0.0.0:80"):
        with pytest.raises(SystemExit):
            load.gunicorn_command(args, 8123)


class _Pages(http.server.BaseHTTPRequestHandler):
    """The three live pages as the app marks them up, and 404 for the rest."""

    protocol_version = "HTTP/1.1"
    pages = {
        "/devices/": (
            '<link rel="stylesheet" href="/static/css/site.0123456789ab.css">'
            '<table class="devices" data-live-url="/devices/last-telemetry" data-refresh="5">'
            + "".join(f'<tr data-device="{d}"><td>{d}</td></tr>' for d in load.DEVICES)
            + '<tr data-device="a&amp;b"><td>a&amp;b</td></tr></table>'
        ),
        "/devices/load-device-1/dashboard/": (
            '<div class="live-board" data-live-url="/devices/load-device-1/dashboard/data'
            '?range=1d&amp;x=1" data-live="1">'
        ),
        "/": '<dl class="tiles" data-live-url="/overview/data" data-refresh="15">',
    }

    def do_GET(self):
        body = self.pages.get(self.path, "").encode()
        self.send_response(200 if body else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _serve(handler):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_the_live_endpoints_are_the_ones_the_pages_poll():
    server = _serve(_Pages)
    try:
        paths = load.discover_paths(server.server_address[1], "s")
    finally:
        server.shutdown()
        server.server_close()
    assert paths["static"] == "/static/css/site.0123456789ab.css"
    # Every row of the list page, as devicelist.js asks for them (ids URL-encoded).
    assert paths["list_data"] == (
        "/devices/last-telemetry?d=load-device-1&d=load-device-2&d=load-device-3&d=a%26b"
    )
    # The dashboard's own data URL (HTML entities decoded), for each device in turn.
    assert paths["dashboard_data"] == "/devices/{device}/dashboard/data?range=1d&x=1"
    assert paths["overview_data"] == "/overview/data"
    assert set(paths) == set(load.TARGETS)


def test_a_page_that_is_no_longer_live_stops_the_run_before_it_starts():
    class NoLiveOverview(_Pages):
        pages = {**_Pages.pages, "/": "<h1>Overview</h1>"}

    server = _serve(NoLiveOverview)
    try:
        with pytest.raises(RuntimeError, match="/ has no data-live-url"):
            load.discover_paths(server.server_address[1], "s")
    finally:
        server.shutdown()
        server.server_close()
