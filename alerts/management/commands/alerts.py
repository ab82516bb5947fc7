"""``manage.py alerts``: one evaluation pass; ``--loop`` keeps evaluating every ``--interval``.

Like healthchecks' ``sendalerts``: SIGTERM/SIGINT only set a flag, the loop sleeps in 1-second
slices and stops after the pass in progress. Several may run at once (several hosts): each
transition is recorded and notified once.
"""

from __future__ import annotations

import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from alerts.models import Rule
from alerts.services import evaluate
from devices.influx import InfluxError


class Command(BaseCommand):
    help = "Evaluate the alert rules once (or keep evaluating with --loop) and notify."

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="keep evaluating until stopped")
        parser.add_argument(
            "--interval", type=float, default=None, help="seconds between passes (--loop)"
        )
        parser.add_argument(
            "--example-rules",
            metavar="DEVICE",
            help="first create example rules for DEVICE (CO2 high, no data), unless they exist",
        )

    def on_signal(self, signum, frame):
        self.stop_signal = signal.Signals(signum).name

    def step(self) -> None:
        """One pass; an unreachable InfluxDB is reported and the loop goes on."""
        try:
            result = evaluate()
        except InfluxError as exc:
            self.stderr.write(f"Alerts pass failed: {exc}")
            return
        self.stdout.write(
            f"{result.rules} rules: {len(result.fired)} fired, {len(result.resolved)} resolved,"
            f" {result.sent} notifications sent, {result.failed} failed."
        )

    def example_rules(self, device_id: str) -> None:
        examples = [
            {"name": f"{device_id}: CO2 high", "field": "CO2", "threshold": 1500, "minutes": 10},
            {"name": f"{device_id}: no data", "condition": Rule.SILENCE, "minutes": 5},
        ]
        for fields in examples:
            rule = Rule(device_id=device_id, **fields)
            rule.full_clean()
            if not Rule.objects.filter(name=rule.name).exists():
                rule.save()
                self.stdout.write(f"Created the example rule “{rule.name}”.")

    def handle(self, *args, loop=False, interval=None, example_rules=None, **options):
        self.stop_signal = ""
        if example_rules:
            self.example_rules(example_rules)
        if not loop:
            self.step()
            return
        interval = interval if interval is not None else settings.ALERTS_INTERVAL_S
        old = {s: signal.signal(s, self.on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            while not self.stop_signal:
                started = time.monotonic()
                self.step()
                while not self.stop_signal and time.monotonic() - started < interval:
                    time.sleep(min(1.0, max(0.0, interval - (time.monotonic() - started))))
        finally:
            for s, handler in old.items():
                signal.signal(s, handler)
        self.stdout.write(f"Stopped by {self.stop_signal}.")
