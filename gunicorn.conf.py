"""gunicorn settings for IoT Center: `make serve` and the README's deploy recipe both use them.

    .venv/bin/gunicorn --config gunicorn.conf.py iotcenter.wsgi

Threaded workers (gthread) so that slow clients cannot stall the app: a connection that sends its
request slowly (or never finishes its headers) holds one thread, not a whole worker, and an idle
connection holds none. With the defaults below, 2 workers x 8 threads serve 16 requests at once;
up to 7 stalled connections in one worker still leave it a thread. Against many slow clients put
a buffering proxy (nginx, a cloud load balancer) in front: it reads whole requests before
gunicorn sees them.

Command-line options override these; the environment variables below (or `.env`, as for the
app's settings) tune them.
"""

import os
from pathlib import Path

import environ

environ.Env.read_env(Path(__file__).resolve().parent / ".env", overwrite=False)

# 127.0.0.1: a TLS-terminating proxy on the same host forwards to it.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# Registering, rotating and removing make up to ~8 InfluxDB requests of INFLUX_TIMEOUT (5 s)
# each and are never cut short: keep this above 8 x INFLUX_TIMEOUT.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
# Seconds an idle kept-alive connection stays open between requests.
keepalive = 5
# No runtime control socket (~/.gunicorn/gunicorn.ctl): nothing uses it, and two gunicorns of one
# user (a deploy and a test run) would share its path.
control_socket_disable = True
