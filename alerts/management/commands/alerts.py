"""``manage.py alerts``: one evaluation pass; ``--loop`` keeps evaluating every ``--interval``
(stopping cleanly on SIGTERM/SIGINT: ``devices/management/loop.py``). Several may run at once
(several hosts): each transition is recorded and notified once.
"""

from __future__ import annotations

from django.conf import settings

from alerts.models import Rule
from alerts.services import evaluate
from devices.influx import InfluxError
from devices.management.loop import LoopCommand, checked_interval


class Command(LoopCommand):
    help = "Evaluate the alert rules once (or keep evaluating with --loop) and notify."
    loop_help = "keep evaluating until stopped"

    def add_arguments(self, parser):
        self.add_loop_arguments(parser, default=None, default_help="default ALERTS_INTERVAL_S")
        parser.add_argument(
            "--example-rules",
            metavar="DEVICE",
            help="first create example rules for DEVICE (CO2 high, no data), unless they exist",
        )

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
        if example_rules:
            self.example_rules(example_rules)
        if not loop:
            self.step()
            return
        if interval is None:
            interval = checked_interval(settings.ALERTS_INTERVAL_S, "ALERTS_INTERVAL_S")
        else:
            interval = checked_interval(interval, "--interval")

        def one_pass() -> float:
            self.step()
            return interval

        self.run_loop(one_pass)
