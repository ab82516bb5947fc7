"""Load test of the deployed app: ``python -m bench.load [--clients N] [--seconds T]``.

Everything runs on 127.0.0.1 in a temporary directory that is removed on exit (Ctrl-C included):
the local InfluxDB-compatible server (``python -m localinflux``, in memory), the app set up as the
README deploys it (``influx_setup``, ``migrate`` on a temporary SQLite file, ``collectstatic``,
an operator from ``create_operator``, a few devices with telemetry from ``simulate --create``),
gunicorn with DEBUG off, and ``simulate --all --loop --interval 5`` writing throughout the run.
When a run had errors, the processes' logs are first copied to a directory it names.

Each client logs in once (its own session, CSRF token for the login POST), then for ``--seconds``
cycles over its own keep-alive connection through the device list, a device page, a dashboard,
the JSON endpoints the live pages poll (``static/js/live.js``: the list's last telemetry, a
dashboard's data, the overview's numbers) and a hashed static stylesheet: the static file is the
baseline, measured interleaved with the pages in the same run. The pages' paths are read from the
pages themselves (the stylesheet link, each live page's ``data-live-url``). Prints per target
requests, requests/s, p50/p95/p99 and errors by kind, then the dashboard p99 / static p99 ratio
(goal: at most 10) and the total errors (goal: 0). Before the load, one client asks for each
target ``COST_REQUESTS`` times, one request at a time: the median time and the CPU time gunicorn
and the local server spent per request, which say where the time goes without the wait for a
free thread that every request under load has (the static file's too).

Exit status: 0 when both goals are met, 1 when one is missed, 2 when the run could not be made.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.loadclients import (
    DEVICES,
    HOST,
    OPERATOR,
    REQUEST_TIMEOUT_S,
    TARGETS,
    Client,
    discover_paths,
    live_url,
    log_in,
)

__all__ = ["DEVICES", "TARGETS", "Client", "discover_paths", "live_url", "log_in", "main", "run"]

REPO = Path(__file__).resolve().parents[1]
README_GUNICORN_ARGS = "iotcenter.wsgi --workers 2 --timeout 60"  # README's deploy recipe
CONF_GUNICORN_ARGS = "-c gunicorn.conf.py iotcenter.wsgi"
MAX_CLIENTS = 500
MAX_SECONDS = 600
SETUP_BUDGET_S = 240  # setup and teardown on top of --seconds, for the hard overall timeout
RATIO_GOAL = 10.0


class HardTimeout(Exception):
    pass


def default_gunicorn_args(repo: Path = REPO) -> str:
    """Today's README recipe, or the repository's ``gunicorn.conf.py`` when there is one."""
    return CONF_GUNICORN_ARGS if (repo / "gunicorn.conf.py").is_file() else README_GUNICORN_ARGS


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def percentile(sorted_ms: list[float], pct: float) -> float | None:
    """Nearest-rank percentile of an ascending list (None when empty)."""
    if not sorted_ms:
        return None
    rank = max(1, -(-len(sorted_ms) * pct // 100))  # ceil(n * pct / 100)
    return sorted_ms[int(rank) - 1]


# -- processes and temporary files -------------------------------------------------------------


# How long stopping every process may take (then they are killed): Ctrl-C answers promptly.
STOP_BUDGET_S = 15.0


class Stack:
    """Processes and directories to clean up, in reverse order of creation."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def popen(self, name: str, args: list[str], env: dict) -> subprocess.Popen:
        log = open(self.workdir / f"{name}.log", "wb")  # noqa: SIM115 -- kept open for the child
        try:
            proc = subprocess.Popen(
                args, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # our own process group: Ctrl-C reaches us, we stop them
            )  # fmt: skip
        finally:
            log.close()
        self.procs.append((name, proc))
        return proc

    def log_tail(self, name: str, lines: int = 15) -> str:
        path = self.workdir / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def close(self, budget_s: float = STOP_BUDGET_S) -> None:
        """Stop the processes one by one, newest first (gunicorn and simulate before the local
        server they talk to: their last requests still get an answer instead of retrying),
        within ``budget_s`` in all; whatever is left then is killed."""
        deadline = time.monotonic() + budget_s
        for _name, proc in reversed(self.procs):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=max(0.5, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        self.procs.clear()


def manage(env: dict, *args: str, timeout: float = 120) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def wait_http(url_path: str, port: int, proc: subprocess.Popen, stack: Stack, name: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited ({proc.returncode}):\n{stack.log_tail(name)}")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", url_path)
            status = conn.getresponse().status
            conn.close()
            if 200 <= status < 300:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{name} did not answer {url_path} within 60 s")


def start_influx(stack: Stack) -> tuple[subprocess.Popen, dict]:
    port = free_port()
    token = secrets.token_urlsafe(32)
    env = {
        **os.environ,
        "LOCALINFLUX_TOKEN": token,
        "LOCALINFLUX_PASSWORD": secrets.token_urlsafe(16),
    }
    args = [sys.executable, "-m", "localinflux", "--host", HOST, "--port", str(port)]
    args += ["--org", "iot-center", "--bucket", "iot_center", "--quiet"]
    proc = stack.popen("localinflux", args, env)
    wait_http("/ping", port, proc, stack, "localinflux")
    return proc, {
        "INFLUX_URL": f"http://{HOST}:{port}",
        "INFLUX_TOKEN": token,
        "INFLUX_ORG": "iot-center",
    }


def app_env(workdir: Path, influx: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GUNICORN_", "INFLUX_"))}
    env.update(influx)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "iotcenter.settings",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "DEBUG": "false",
            "ALLOWED_HOSTS": HOST,
            "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
            "STATIC_ROOT": str(workdir / "static"),
            "INFLUX_BUCKET": "iot_center",
            "INFLUX_BUCKET_AUTH": "iot_center_devices",
            "INFLUX_TIMEOUT": "5",
            # Plain HTTP on 127.0.0.1: no TLS proxy in front of this run.
            "SESSION_COOKIE_SECURE": "false",
            "CSRF_COOKIE_SECURE": "false",
            "SECURE_SSL_REDIRECT": "false",
            "LOG_LEVEL": "WARNING",
        }
    )
    return env


def set_up_app(env: dict) -> str:
    """Buckets, tables, static files, devices with telemetry; returns the operator's password.

    Three independent chains of commands, run side by side: InfluxDB's buckets then the devices,
    the database then the operator, the static files.
    """

    def influx_chain() -> None:
        manage(env, "influx_setup")
        manage(env, "simulate", *DEVICES, "--create", "--backfill-days", "1", "--seed", "1")

    def database_chain() -> str:
        manage(env, "migrate", "--noinput")
        out = manage(env, "create_operator", "--username", OPERATOR)
        password = re.search(r"^Password: (\S+)$", out, re.M)
        if not password:
            raise RuntimeError(f"create_operator printed no password:\n{out}")
        return password.group(1)

    with ThreadPoolExecutor(3) as pool:
        chains = [
            pool.submit(influx_chain),
            pool.submit(database_chain),
            pool.submit(manage, env, "collectstatic", "--noinput"),
        ]
        results = [c.result() for c in chains]  # raises the first chain's failure
    return results[1]


def gunicorn_command(gunicorn_args: str, port: int) -> list[str]:
    args = shlex.split(gunicorn_args)
    if any(a in ("-b", "--bind") or a.startswith(("--bind=", "-b")) for a in args):
        raise SystemExit("--gunicorn-args: leave out --bind, this command binds 127.0.0.1 itself")
    gunicorn = Path(sys.executable).with_name("gunicorn")
    return [str(gunicorn), *args, "--bind", f"{HOST}:{port}"]


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its children alive now, from Linux's /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        me = int(stat.parent.name)
        if me == pid or int(fields[1]) == pid:  # fields[1]: the parent's pid
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def cpu_by_process(procs: dict[str, subprocess.Popen]) -> dict[str, float]:
    if not Path("/proc/self/stat").exists():
        return {}
    return {name: cpu_seconds(proc.pid) for name, proc in procs.items()}


# -- the run -----------------------------------------------------------------------------------


COST_REQUESTS = 30  # per target, one at a time, before the load


def measure_costs(port: int, session: str, paths: dict, procs: dict, n: int = COST_REQUESTS):
    """Per target, what one request costs on an idle server: the median time and the CPU time
    of each process in ``procs`` per request (``n`` requests one at a time, after 3 to warm
    up). Unlike the latencies under load, these do not include waiting for a free thread."""
    client = Client(0, port, session, paths, threading.Event())
    costs = {}
    try:
        for target in TARGETS:
            for i in range(3):
                client.fetch(client.path(target, i))
            before, ms = cpu_by_process(procs), []
            for i in range(n):
                start = time.perf_counter()
                status = client.fetch(client.path(target, i))
                ms.append((time.perf_counter() - start) * 1000)
                if status != 200:
                    raise RuntimeError(f"{client.path(target, i)} answered {status}")
            after = cpu_by_process(procs)
            costs[target] = {
                "p50_ms": percentile(sorted(ms), 50),
                **{f"{k}_cpu_ms": (after[k] - before[k]) * 1000 / n for k in after},
            }
    finally:
        client.conn.close()
    return costs


def summarize(clients: list[Client], duration_s: float) -> dict:
    targets = {}
    for target in TARGETS:
        ms = sorted(x for c in clients for x in c.samples[target])
        errors, statuses = Counter(), Counter()
        for c in clients:
            errors.update(c.errors[target])
            statuses.update(c.statuses[target])
        count = len(ms) + sum(errors.values())
        targets[target] = {
            "requests": count,
            "requests_per_s": count / duration_s if duration_s else 0.0,
            "p50_ms": percentile(ms, 50),
            "p95_ms": percentile(ms, 95),
            "p99_ms": percentile(ms, 99),
            "errors": sum(errors.values()),
            "errors_by_kind": dict(errors),
            "statuses": {str(k): v for k, v in sorted(statuses.items())},
        }
    dash, static = targets["dashboard"]["p99_ms"], targets["static"]["p99_ms"]
    ratio = dash / static if dash is not None and static else None
    total_errors = sum(t["errors"] for t in targets.values())
    return {
        "targets": targets,
        "dashboard_p99_over_static_p99": ratio,
        "ratio_goal": RATIO_GOAL,
        "total_errors": total_errors,
        "stale_connection_retries": sum(c.retries for c in clients),
        "goals_met": ratio is not None and ratio <= RATIO_GOAL and total_errors == 0,
    }


def _fmt(ms: float | None) -> str:
    return "-" if ms is None else f"{ms:.1f}"


def print_report(report: dict, out=sys.stdout) -> None:
    print(
        f"\n{report['clients']} clients for {report['duration_s']:.1f} s, "
        f"gunicorn {report['gunicorn']}; simulate --loop writing: {report['simulate']}",
        file=out,
    )
    cpu = ", ".join(f"{k} {v:.1f} s" for k, v in report["cpu_s_during_run"].items())
    print(f"CPU used during the run ({os.cpu_count()} cores): {cpu}", file=out)
    header = f"{'target':<14} {'requests':>8} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8}"
    header += f" {'p99 ms':>8} {'errors':>6}  by kind"
    print(header, file=out)
    print("-" * len(header), file=out)
    for name, t in report["targets"].items():
        kinds = ", ".join(f"{k}: {v}" for k, v in sorted(t["errors_by_kind"].items())) or "-"
        print(
            f"{name:<14} {t['requests']:>8} {t['requests_per_s']:>8.1f} {_fmt(t['p50_ms']):>8}"
            f" {_fmt(t['p95_ms']):>8} {_fmt(t['p99_ms']):>8} {t['errors']:>6}  {kinds}",
            file=out,
        )
    ratio = report["dashboard_p99_over_static_p99"]
    shown = "-" if ratio is None else f"{ratio:.1f}"
    verdict = "meets" if ratio is not None and ratio <= RATIO_GOAL else "MISSES"
    print(
        f"dashboard p99 / static p99: {shown} ({verdict} the goal of at most {RATIO_GOAL:g})",
        file=out,
    )
    verdict = "meets" if report["total_errors"] == 0 else "MISSES"
    print(f"total errors: {report['total_errors']} ({verdict} the goal of 0)", file=out)
    if report["stale_connection_retries"]:
        print(
            f"(idle keep-alive connections closed by the server, retried once as browsers do: "
            f"{report['stale_connection_retries']})",
            file=out,
        )

    costs = report.get("cost_per_request") or {}
    if costs:
        print(
            "\nBefore the load, one request at a time (no waiting for a free thread):"
            " median time and CPU per request",
            file=out,
        )
        header = f"{'target':<14} {'p50 ms':>8} {'gunicorn CPU ms':>16} {'localinflux CPU ms':>19}"
        print(header, file=out)
        print("-" * len(header), file=out)
        for name, c in costs.items():
            print(
                f"{name:<14} {_fmt(c['p50_ms']):>8} {_fmt(c.get('gunicorn_cpu_ms')):>16}"
                f" {_fmt(c.get('localinflux_cpu_ms')):>19}",
                file=out,
            )


def run(clients: int, seconds: float, gunicorn_args: str, log=sys.stderr) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="iotcenter-load-"))
    stack = Stack(workdir)
    try:
        print("starting the local InfluxDB-compatible server", file=log)
        influx_proc, influx = start_influx(stack)
        env = app_env(workdir, influx)
        print("setting up the app (buckets, migrate, collectstatic, operator, devices)", file=log)
        password = set_up_app(env)
        simulate = stack.popen(
            "simulate", [sys.executable, "manage.py", "simulate", "--all", "--loop",
                         "--interval", "5"], env,
        )  # fmt: skip
        port = free_port()
        command = gunicorn_command(gunicorn_args, port)
        print(f"starting {shlex.join(command[1:])}", file=log)
        gunicorn = stack.popen("gunicorn", command, env)
        wait_http("/healthz", port, gunicorn, stack, "gunicorn")

        print(f"logging in {clients} clients", file=log)
        pool = ThreadPoolExecutor(4)  # password hashing: a few at a time
        try:
            sessions = list(pool.map(lambda _: log_in(port, password), range(clients)))
        finally:
            # Interrupted (Ctrl-C): no waiting for the logins still queued or running.
            pool.shutdown(wait=False, cancel_futures=True)
        paths = discover_paths(port, sessions[0])
        print(f"one client, one request at a time: {COST_REQUESTS} of each target", file=log)
        costs = measure_costs(
            port, sessions[0], paths, {"gunicorn": gunicorn, "localinflux": influx_proc}
        )
        stop = threading.Event()
        workers = [Client(n, port, s, paths, stop) for n, s in enumerate(sessions)]
        print(f"running {clients} clients for {seconds:g} s", file=log)
        watched = {"gunicorn": gunicorn, "localinflux": influx_proc, "simulate": simulate}
        cpu_before = cpu_by_process(watched)
        start, cpu_start = time.perf_counter(), time.process_time()
        for w in workers:
            w.start()
        stop.wait(seconds)
        stop.set()
        for w in workers:
            w.join(timeout=REQUEST_TIMEOUT_S + 5)
        duration = time.perf_counter() - start
        client_cpu = time.process_time() - cpu_start
        cpu_after = cpu_by_process(watched)
        cpu = {name: cpu_after[name] - cpu_before[name] for name in cpu_after}
        cpu["load generator"] = client_cpu
        if simulate.poll() is not None:
            state = f"EXITED ({simulate.returncode}) during the run"
        else:
            state = "running throughout"
        report = {
            "clients": clients,
            "seconds": seconds,
            "duration_s": duration,
            "gunicorn": shlex.join(command[1:]),
            "simulate": state,
            "cpu_s_during_run": cpu,
            "paths": paths,
            "cost_per_request": costs,
            **summarize(workers, duration),
        }
        for name in ("gunicorn", "simulate"):
            tail = stack.log_tail(name, 5)
            if "Traceback" in tail or "Error" in tail:
                print(f"--- last lines of {name}'s log:\n{tail}", file=log)
        if report["total_errors"]:
            keep = Path(tempfile.mkdtemp(prefix="iotcenter-load-logs-"))
            for path in workdir.glob("*.log"):
                shutil.copy2(path, keep / path.name)
            report["logs_kept"] = str(keep)
            print(f"errors: the processes' logs are kept in {keep}", file=log)
        return report
    finally:
        stack.close()
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--clients", type=int, default=50, help=f"1 to {MAX_CLIENTS}; default 50")
    parser.add_argument(
        "--seconds", type=float, default=60.0, help=f"up to {MAX_SECONDS}; default 60"
    )
    parser.add_argument(
        "--gunicorn-args",
        default=default_gunicorn_args(),
        help="gunicorn's arguments without --bind (127.0.0.1 on a free port is added); default: "
        f"{CONF_GUNICORN_ARGS!r} when gunicorn.conf.py exists, else the README's "
        f"{README_GUNICORN_ARGS!r}",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= MAX_CLIENTS:
        parser.error(f"--clients must be 1 to {MAX_CLIENTS}")
    if not 0 < args.seconds <= MAX_SECONDS:
        parser.error(f"--seconds must be above 0 and at most {MAX_SECONDS}")

    def on_alarm(signum, frame):
        raise HardTimeout(f"the whole run took over {hard_s} s")

    def on_term(signum, frame):
        raise KeyboardInterrupt

    hard_s = int(args.seconds + SETUP_BUDGET_S + args.clients)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)  # the terminal went away
    signal.alarm(hard_s)
    try:
        report = run(args.clients, args.seconds, args.gunicorn_args)
    except KeyboardInterrupt:
        print("interrupted: processes stopped, temporary files removed", file=sys.stderr)
        return 130
    except (HardTimeout, RuntimeError, OSError, subprocess.SubprocessError) as exc:
        print(f"load test failed: {exc}", file=sys.stderr)
        return 2
    finally:
        signal.alarm(0)
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
    else:
        print_report(report)
    return 0 if report["goals_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
