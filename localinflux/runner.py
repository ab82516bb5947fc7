"""Start and stop the local InfluxDB-compatible server: what ``python -m localinflux`` runs, and
what tests and benchmarks run in-process.

with LocalInflux(org="iot-center", bucket="iot_center", token="secret") as server:
    client = InfluxDBClient(url=server.url, token=server.token, org=server.org)
    server.faults.add(status=503, retry_after=1, path="/api/v2/write")
    ...
    assert server.stats.requests("/api/v2/write") == 2
"""

from __future__ import annotations

import socket
import sys
import threading

from localinflux.engine import Engine
from localinflux.faults import LOG_MAX, Faults, Stats
from localinflux.http.app import App
from localinflux.http.server import LocalInfluxHTTPServer
from localinflux.permissions import operator_permissions


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (for servers started in a subprocess)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class LocalInflux:
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        data_dir: str | None = None,
        org: str | None = None,
        bucket: str | None = None,
        token: str | None = None,
        username: str = "admin",
        password: str = "localinflux-password",  # noqa: S107 - development stand-in default
        retention_seconds: int = 0,
        log_requests: bool = False,
        request_log_max: int = LOG_MAX,
    ) -> None:
        self.host = host
        self.port = port
        self.data_dir = data_dir
        self.org = org
        self.bucket = bucket
        self.token = token
        self.username = username
        self.password = password
        self.retention_seconds = retention_seconds
        self.log_requests = log_requests
        self.org_id: str | None = None
        self.onboarded_now = False  # True when start() onboarded (not recovered) the server
        self.bucket_id: str | None = None
        self.url = ""
        self.engine: Engine | None = None
        # Owned here, not by the engine, so tests may set faults before start() and read counters
        # after stop().
        self._faults = Faults()
        self._stats = Stats(request_log_max)
        self._httpd: LocalInfluxHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> LocalInflux:
        if self._httpd is not None:
            raise RuntimeError("server already started")
        self.engine = Engine(self.data_dir)
        self.engine.faults = self._faults
        self.engine.stats = self._stats
        self._onboard_or_recover()
        self._httpd = LocalInfluxHTTPServer(
            (self.host, self.port), App(self.engine), log_requests=self.log_requests
        )
        self.port = self._httpd.server_address[1]
        self.url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"localinflux:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop answering: the listening socket and open connections are closed."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.close_all_connections()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.engine.close()

    def serve_forever(self) -> None:
        """Block until ``stop()`` is called from another thread (or a signal handler)."""
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> LocalInflux:
        return self.start() if self._httpd is None else self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._httpd is not None

    # -- test helpers ----------------------------------------------------------------------------

    @property
    def faults(self) -> Faults:
        return self._faults

    @property
    def stats(self) -> Stats:
        return self._stats

    def _onboard_or_recover(self) -> None:
        engine = self.engine
        reg = engine.registry
        if not reg.onboarded():
            if self.org and self.bucket:
                _, org, bucket, auth = engine.onboard(
                    username=self.username,
                    org=self.org,
                    bucket=self.bucket,
                    retention_seconds=self.retention_seconds,
                    token=self.token,
                )
                self.org_id, self.bucket_id, self.token = org.id, bucket.id, auth.token
                self.onboarded_now = True
            return
        # Recovered from the data dir: find what the arguments name, never onboard again.
        org = reg.org_by_name(self.org) if self.org else next(iter(reg.orgs.values()), None)
        if org is not None:
            self.org, self.org_id = org.name, org.id
            if self.bucket:
                bucket = reg.bucket_by_name(org.id, self.bucket)
                if bucket is None:
                    bucket = engine.create_bucket(
                        org.id, self.bucket, every_seconds=self.retention_seconds
                    )
                self.bucket_id = bucket.id
        if self.token:
            if reg.auth_for_token(self.token) is None and org is not None:
                user = next(iter(reg.users.values()))
                engine.create_auth(
                    org.id,
                    user.id,
                    operator_permissions(),
                    description=f"{user.name}'s Token",
                    token=self.token,
                )
                sys.stderr.write("localinflux: added the given token as an operator token\n")
        else:
            operator = [
                a
                for a in reg.auths.values()
                if a.status == "active" and set(operator_permissions()) <= set(a.permissions)
            ]
            if operator:
                self.token = min(operator, key=lambda a: a.created).token
