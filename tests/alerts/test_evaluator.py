"""The evaluator against the local InfluxDB: fires after the duration, resolves, silence,
several evaluators at once, and the query budget of a pass."""

import os
import re
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from influxdb_client import Point, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS

from alerts.models import Alert, Channel, Rule
from alerts.services import evaluate, firing_for
from tests.alerts.helpers import now, rule, write_minutes
from tests.alerts.receiver import Receiver
from tests.devices.influx.points import write_registry

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def email_channel(db):
    return Channel.objects.create(name="ops", kind=Channel.EMAIL, target="ops@example.com")


def test_fires_only_after_the_condition_held_for_its_duration(influx, email_channel):
    rule(name="CO2 high")
    write_minutes(influx, "room-1", range(5, -1, -1), 1800)  # 5 minutes above: too short
    assert evaluate().fired == []
    write_minutes(influx, "room-1", range(11, 5, -1), 1800)  # now 11 minutes above
    result = evaluate()
    assert [a.device_id for a in result.fired] == ["room-1"]
    alert = Alert.objects.get()
    assert alert.firing
    assert alert.value == 1800
    assert len(mail.outbox) == 1
    assert "FIRING" in mail.outbox[0].subject
    assert "room-1" in mail.outbox[0].subject
    assert evaluate().fired == []  # still firing: no second alert, no second mail
    assert len(mail.outbox) == 1


def test_one_value_back_under_the_limit_resolves(influx, email_channel):
    rule()
    write_minutes(influx, "room-1", range(12, 0, -1), 1800)
    assert len(evaluate().fired) == 1
    write_minutes(influx, "room-1", [0], 900)
    result = evaluate()
    assert [a.device_id for a in result.resolved] == ["room-1"]
    alert = Alert.objects.get()
    assert alert.resolved_at is not None
    assert alert.resolved_value == 900
    assert [m.subject.split(":")[0] for m in mail.outbox] == [
        "[warning] FIRING",
        "[warning] resolved",
    ]


def test_below_outside_and_scope(influx):
    rule(name="cold", field="Temperature", condition=Rule.BELOW, threshold=5)
    rule(name="band", field="Humidity", condition=Rule.OUTSIDE, threshold=30, high=60,
         device_id="room-2")  # fmt: skip
    write_minutes(influx, "room-1", range(12, -1, -1), 2, field="Temperature")
    write_minutes(influx, "room-2", range(12, -1, -1), 20, field="Temperature")
    write_minutes(influx, "room-1", range(12, -1, -1), 80, field="Humidity")  # not in scope
    write_minutes(influx, "room-2", range(12, -1, -1), 80, field="Humidity")
    fired = sorted((a.rule.name, a.device_id) for a in evaluate().fired)
    assert fired == [("band", "room-2"), ("cold", "room-1")]
    assert set(firing_for(["room-1", "room-2", "room-3"])) == {"room-1", "room-2"}


def test_silence_fires_when_writes_stop_and_resolves_when_they_resume(influx, email_channel):
    write_registry(influx, "quiet-1", {"key": "k1", "token": "t", "createdAt": "2024-01-01"})
    rule(name="silent", condition=Rule.SILENCE, field="", threshold=None, minutes=15)
    write_minutes(influx, "quiet-1", [30, 20], 500)  # last data 20 minutes ago
    write_minutes(influx, "unregistered", [30], 500)  # not registered: not watched
    result = evaluate()
    assert [a.device_id for a in result.fired] == ["quiet-1"]
    assert "last data" in Alert.objects.get().detail
    write_minutes(influx, "quiet-1", [0], 500)
    assert [a.device_id for a in evaluate().resolved] == ["quiet-1"]
    assert len(mail.outbox) == 2


EVALUATOR = """
import django, sys, time
from pathlib import Path
from urllib.parse import quote
django.setup()
from django.core.management import call_command
from django.db import connection

from alerts.models import Channel, Rule
if sys.argv[1] == "setup":
    Rule.objects.create(name="CO2 high", field="CO2", threshold=1500, minutes=10)
    Channel.objects.create(name="hook", kind="webhook", target=sys.argv[2], secret="s3cret")
    print(connection.vendor)
else:  # an evaluator: ready, then wait for the go, so both passes run at the same moment
    barrier = Path(sys.argv[2])
    (barrier / f"ready-{sys.argv[1]}").touch()
    while not (barrier / "go").exists():
        time.sleep(0.005)
    call_command("alerts")
"""


@pytest.fixture
def workers_database_url(tmp_path, transactional_db):
    """A database of their own for the evaluator processes: on the suite's PostgreSQL server
    when the suite runs on PostgreSQL (``scripts/with-postgres``), else an SQLite file."""
    if connection.vendor != "postgresql":
        yield f"sqlite:///{tmp_path / 'db.sqlite3'}"
        return
    import psycopg  # PostgreSQL runs only

    db = settings.DATABASES["default"]
    name = f"iotcenter_evaluators_{os.getpid()}"
    params = {"host": db["HOST"], "port": db["PORT"] or 5432, "user": db["USER"],
              "password": db["PASSWORD"], "dbname": db["NAME"], "autocommit": True}  # fmt: skip
    with psycopg.connect(**params) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    user, password = quote(db["USER"], safe=""), quote(db["PASSWORD"], safe="")
    try:
        yield f"postgres://{user}:{password}@{db['HOST']}:{params['port']}/{name}"
    finally:
        with psycopg.connect(**params) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.localonly
def test_two_evaluator_processes_at_once_notify_each_transition_exactly_once(
    local_influx, tmp_path, workers_database_url
):
    env = local_influx
    devices = [f"room-{i:02}" for i in range(20)]
    for device_id in devices:
        write_minutes(env, device_id, range(12, -1, -1), 1800)
    receiver = Receiver(delay=0.02)  # slow enough that both evaluators are sending at once
    proc_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "iotcenter.settings",
        "SECRET_KEY": "two-evaluators-test-secret-key-not-for-production-0123456789",
        "DEBUG": "false",
        "DATABASE_URL": workers_database_url,
        "INFLUX_URL": env.url,
        "INFLUX_TOKEN": env.token,
        "INFLUX_ORG": env.org,
        "INFLUX_BUCKET": env.bucket,
        "INFLUX_BUCKET_AUTH": env.bucket_auth,
    }
    run = {"cwd": ROOT, "env": proc_env, "check": True, "capture_output": True}
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], **run)
        setup = subprocess.run([sys.executable, "-c", EVALUATOR, "setup", receiver.url], **run)
        assert setup.stdout.decode().split() == [connection.vendor]  # PostgreSQL's row locks
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", EVALUATOR, str(n), str(tmp_path)],
                cwd=ROOT,
                env=proc_env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for n in range(2)
        ]
        for _ in range(6000):  # both set up (at most a minute), then both go at once
            if all((tmp_path / f"ready-{n}").exists() for n in range(2)):
                break
            time.sleep(0.01)
        (tmp_path / "go").touch()
        outs = [p.communicate(timeout=120) for p in procs]
        assert all(p.returncode == 0 for p in procs), outs
    finally:
        receiver.close()
    assert receiver.bad_signatures == 0
    assert sorted(r["device_id"] for r in receiver.received) == devices
    assert all(r["event"] == "fired" for r in receiver.received)
    # Each transition was recorded by one of them: their "fired" and "sent" add up to 20.
    counts = [re.search(r"(\d+) fired, \d+ resolved, (\d+) notifications sent", o) for o, _ in outs]
    assert all(counts), outs
    assert sum(int(m[1]) for m in counts) == 20
    assert sum(int(m[2]) for m in counts) == 20


def test_switching_a_rule_off_resolves_its_firing_alerts(influx, email_channel):
    co2 = rule()
    write_minutes(influx, "room-1", range(12, -1, -1), 1800)
    assert len(evaluate().fired) == 1
    co2.enabled = False
    co2.save()
    result = evaluate()
    assert [a.device_id for a in result.resolved] == ["room-1"]
    assert not Alert.objects.get().firing
    assert [m.subject.split(":")[0] for m in mail.outbox] == [
        "[warning] FIRING",
        "[warning] resolved",
    ]
    assert evaluate().resolved == []


def test_silenced_rules_record_alerts_without_notifying(influx, email_channel):
    rule(silenced_until=now() + timedelta(hours=1))
    write_minutes(influx, "room-1", range(12, -1, -1), 1800)
    assert len(evaluate().fired) == 1
    assert mail.outbox == []


def _pass_cost(env):
    env.local.stats.wait_idle()
    env.local.stats.reset()
    evaluate()
    env.local.stats.wait_idle()
    return env.local.stats.queries


def write_fleet(env, count, value):
    """``count`` devices, one point each now and 9.5 minutes ago (covered), in one write."""
    t = now()
    points = [
        Point("environment")
        .tag("device", f"dev-{d}")
        .field("CO2", float(value))
        .time(t - timedelta(seconds=s), WritePrecision.S)
        for d in range(count)
        for s in (570, 0)
    ]
    env.client.write_api(write_options=SYNCHRONOUS).write(env.bucket, env.org, points)


@pytest.mark.localonly
def test_a_pass_costs_the_same_queries_for_100_rules_and_1000_devices_as_for_1_and_10(
    local_influx,
):
    env = local_influx
    write_registry(env, "dev-0", {"key": "k", "token": "t", "createdAt": "2024-01-01"})
    rule(name="co2")
    rule(name="silent", condition=Rule.SILENCE, field="", threshold=None, minutes=15)
    write_fleet(env, 10, 1800)
    small = _pass_cost(env)
    for i in range(98):  # 100 rules of the same shape (field, minutes), some scoped, quiet
        rule(name=f"r{i}", threshold=2000 + i, device_id="" if i % 2 else f"dev-{i}")
    write_fleet(env, 1000, 1800)
    big = _pass_cost(env)
    assert small == big == 3  # one window query, the registry, the last-seen query
    assert Alert.objects.filter(rule__name="co2").count() == 1000


def _db_queries_of_a_pass() -> int:
    with CaptureQueriesContext(connection) as queries:
        assert evaluate().fired == []
    return len(queries)


def test_a_steady_pass_costs_the_same_database_queries_for_100_rules_as_for_1(influx):
    rule(name="co2")
    write_minutes(influx, "room-1", range(12, -1, -1), 1800)
    assert len(evaluate().fired) == 1
    one = _db_queries_of_a_pass()
    for i in range(99):
        rule(name=f"r{i}", threshold=2000 + i)
    assert _db_queries_of_a_pass() == one == 3  # rules, firing states, pending notifications
