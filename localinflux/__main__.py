"""``python -m localinflux``: run the local InfluxDB-compatible server until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from localinflux.http.wire import VERSION
from localinflux.runner import LocalInflux


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m localinflux",
        description="Local InfluxDB OSS 2.7-compatible server for development and tests.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8086)
    parser.add_argument("--data-dir", help="keep data here (append-only log); memory only if unset")
    parser.add_argument("--org", help="onboard on first start with this org (needs --bucket)")
    parser.add_argument("--bucket", help="initial bucket created by onboarding")
    # Secrets may come from the environment so they do not show in `ps`.
    parser.add_argument(
        "--token",
        default=os.environ.get("LOCALINFLUX_TOKEN"),
        help="operator token to create (default: $LOCALINFLUX_TOKEN, else random)",
    )
    parser.add_argument("--username", default="admin")
    parser.add_argument(
        "--password",
        default=os.environ.get("LOCALINFLUX_PASSWORD", "localinflux-password"),
        help="onboarded user's password (default: $LOCALINFLUX_PASSWORD, else "
        "localinflux-password)",
    )
    parser.add_argument(
        "--retention", type=int, default=0, help="initial bucket retention in seconds (0: forever)"
    )
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    args = parser.parse_args(argv)
    # Server-side errors are logged with their traceback (``localinflux.http``), to stderr.
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if bool(args.org) != bool(args.bucket):
        parser.error("--org and --bucket go together")

    server = LocalInflux(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        org=args.org,
        bucket=args.bucket,
        token=args.token,
        username=args.username,
        password=args.password,
        retention_seconds=args.retention,
        log_requests=not args.quiet,
    )
    try:
        server.start()
    except OSError as exc:
        sys.stderr.write(f"localinflux: cannot listen on {args.host}:{args.port}: {exc}\n")
        return 1
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    state = f"org {server.org!r}, bucket {server.bucket!r}" if server.org_id else "awaiting setup"
    sys.stderr.write(
        f"localinflux {VERSION}-compatible listening on {server.url} ({state}; "
        f"data dir: {args.data_dir or 'none, in memory'})\n"
    )
    if server.onboarded_now and not args.token:
        # Generated: this is the only time anyone can learn it (no sign-in, no UI here).
        sys.stderr.write(f"localinflux: operator token (shown once): {server.token}\n")
    sys.stderr.flush()
    while not stop.wait(0.5):
        pass
    sys.stderr.write("localinflux: stopping\n")
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
