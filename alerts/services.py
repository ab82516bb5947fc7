"""The alert evaluator: one pass over every enabled rule, and what the device pages may ask.

A pass costs InfluxDB one query per distinct (field, minutes) of the threshold rules, plus, if
any silence rule is enabled, one for the registry and one for every device's last telemetry
time: never one per rule or per device.

A threshold rule holds for a device when every value of its field over the last ``minutes``
breaks it and the window is covered (its first point is within one measurement interval of the
window's start); it resolves as soon as that stops. A silence rule holds when the device's
newest point (it must have written once) is ``minutes`` old or older.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from devices import influx

from .models import Alert, Channel, Notification, Rule, RuleState
from .notifiers import deliver_pending

log = logging.getLogger(__name__)


@dataclass
class PassResult:
    rules: int = 0
    fired: list[Alert] = field(default_factory=list)
    resolved: list[Alert] = field(default_factory=list)
    sent: int = 0
    failed: int = 0


@dataclass
class Verdict:
    holds: bool
    value: float | None = None
    source: influx.WindowStats | datetime | str | None = None  # what ``detail`` says

    @property
    def detail(self) -> str:
        """Formatted only for transitions (a pass judges rules x devices verdicts)."""
        s = self.source
        if isinstance(s, influx.WindowStats):
            return f"{s.count} points from {s.min:g} to {s.max:g}"
        if isinstance(s, datetime):
            return f"last data {s:%Y-%m-%d %H:%M:%S} UTC"
        return s or ""


def _in_scope(rule: Rule, by_device: dict) -> Iterable[tuple[str, object]]:
    """The (device id, value) items of ``by_device`` the rule watches: one look-up if scoped."""
    if not rule.device_id:
        return by_device.items()
    found = by_device.get(rule.device_id)
    return [] if found is None else [(rule.device_id, found)]


def _threshold_verdicts(
    rule: Rule, stats: dict[str, influx.WindowStats], now: datetime
) -> dict[str, Verdict]:
    slack = timedelta(seconds=settings.ALERTS_SAMPLE_INTERVAL_S)
    start = now - timedelta(minutes=rule.minutes)
    out = {}
    for device_id, s in _in_scope(rule, stats):
        if s.min is None or s.max is None:
            continue
        covered = s.first is not None and s.first <= start + slack
        holds = bool(s.count and covered and rule.breached(s.min, s.max))
        out[device_id] = Verdict(holds, s.last_value, s)
    return out


def _silence_verdicts(
    rule: Rule, seen: dict[str, datetime], registered: set[str], now: datetime
) -> dict[str, Verdict]:
    out = {}
    quiet = timedelta(minutes=rule.minutes)
    for device_id, at in _in_scope(rule, seen):
        if device_id in registered:
            out[device_id] = Verdict(now - at >= quiet, None, at)
    return out


def _queue(alert: Alert, event: str, rule: Rule, now: datetime, channels) -> None:
    if rule.silenced_until and rule.silenced_until > now:
        return
    if channels is None:
        channels = Channel.objects.filter(enabled=True)
    Notification.objects.bulk_create(
        [Notification(alert=alert, event=event, channel=c) for c in channels],
        ignore_conflicts=True,  # already queued (alerts_notify_once)
    )


def _state(rule: Rule, device_id: str) -> RuleState:
    try:
        return RuleState.objects.get_or_create(rule=rule, device_id=device_id)[0]
    except IntegrityError:  # another evaluator created it between our get and create
        return RuleState.objects.get(rule=rule, device_id=device_id)


def transition(
    rule: Rule, device_id: str, verdict: Verdict, now: datetime, channels=None
) -> Alert | None:
    """Fire or resolve under the state row's lock; None if another evaluator already did.

    ``channels``: the enabled channels to notify (read once per pass), None: read them here.
    """
    state = _state(rule, device_id)
    with transaction.atomic():
        state = RuleState.objects.select_for_update().get(pk=state.pk)
        if verdict.holds and state.alert_id is None:
            alert = Alert.objects.create(
                rule=rule,
                device_id=device_id,
                started_at=now,
                value=verdict.value,
                detail=verdict.detail[:200],
            )
            event = Notification.FIRED
        elif not verdict.holds and state.alert_id is not None:
            alert = Alert.objects.get(pk=state.alert_id)
            alert.resolved_at, alert.resolved_value = now, verdict.value
            alert.save(update_fields=["resolved_at", "resolved_value"])
            event = Notification.RESOLVED
        else:
            return None
        state.alert = alert if event == Notification.FIRED else None
        state.changed_at = now
        state.save(update_fields=["alert", "changed_at"])
        _queue(alert, event, rule, now, channels)
    return alert


def evaluate(now: datetime | None = None, *, notify: bool = True) -> PassResult:
    """One pass over every enabled rule; then the pending notifications are sent."""
    now = now or timezone.now()
    rules = list(Rule.objects.filter(enabled=True))
    result = PassResult(rules=len(rules))
    windows = {(r.field, r.minutes): None for r in rules if r.condition != Rule.SILENCE and r.field}
    stats = {key: influx.window_stats(*key) for key in windows}
    seen: dict[str, datetime] = {}
    registered: set[str] = set()
    if any(r.condition == Rule.SILENCE for r in rules):
        registered = set(influx.registered_device_ids())
        seen = influx.fleet_last_seen()
    firing_states: dict[int, set[str]] = {}  # rule -> devices it fires on: one query
    states = RuleState.objects.filter(alert__isnull=False)
    for rule_id, device_id in states.values_list("rule_id", "device_id"):
        firing_states.setdefault(rule_id, set()).add(device_id)
    channels = None  # read at the first transition of the pass
    disabled = set(firing_states) - {r.pk for r in rules}
    if disabled:  # a rule switched off resolves what it had fired: nothing holds any more
        rules += Rule.objects.filter(pk__in=disabled)
    for rule in rules:
        if not rule.enabled:
            verdicts = {}
        elif rule.condition == Rule.SILENCE:
            verdicts = _silence_verdicts(rule, seen, registered, now)
        else:
            verdicts = _threshold_verdicts(rule, stats[(rule.field, rule.minutes)], now)
        firing = firing_states.get(rule.pk, set())
        for device_id in sorted(firing | {d for d, v in verdicts.items() if v.holds}):
            verdict = verdicts.get(device_id, Verdict(False))
            if verdict.holds == (device_id in firing):
                continue
            if channels is None:
                channels = list(Channel.objects.filter(enabled=True))
            alert = transition(rule, device_id, verdict, now, channels)
            if alert is not None:
                (result.fired if verdict.holds else result.resolved).append(alert)
    if notify:
        result.sent, result.failed = deliver_pending()
    return result


def firing_for(device_ids) -> dict[str, list[Alert]]:
    """device id -> its firing alerts (newest first), for the fleet overview and device pages."""
    out: dict[str, list[Alert]] = {}
    alerts = Alert.objects.filter(device_id__in=list(device_ids), resolved_at__isnull=True)
    for alert in alerts.select_related("rule", "acknowledged_by"):
        out.setdefault(alert.device_id, []).append(alert)
    return out


@dataclass
class PageAlerts:
    """What a device page shows of alerts: firing alerts by device, threshold lines, or why not.

    ``error`` is set (and the rest empty) when the database could not be read: the page is
    still shown, with that said in the alerts panel.
    """

    firing: dict[str, list[Alert]] = field(default_factory=dict)
    thresholds: dict[str, list[dict]] = field(default_factory=dict)
    error: str = ""

    @property
    def alerts(self) -> list[Alert]:
        """Every firing alert of the page, newest first."""
        flat = [a for alerts in self.firing.values() for a in alerts]
        return sorted(flat, key=lambda a: (a.started_at, a.pk), reverse=True)

    def threshold_values(self) -> dict[str, list[float]]:
        """field -> the values to draw as lines on its chart (``board_json``'s shape)."""
        out: dict[str, list[float]] = {}
        for name, lines in self.thresholds.items():
            out[name] = sorted({v for line in lines for v in line["values"]})
        return out


OVERVIEW_LIMIT = 50


def _thresholds(device_id: str) -> dict[str, list[dict]]:
    rules = Rule.objects.filter(enabled=True, device_id__in=["", device_id]).exclude(
        condition=Rule.SILENCE
    )
    out: dict[str, list[dict]] = {}
    for rule in rules:
        values = [rule.threshold] + ([rule.high] if rule.condition == Rule.OUTSIDE else [])
        out.setdefault(rule.field, []).append(
            {"rule": rule.name, "text": rule.describe().split(": ", 1)[1], "values": values}
        )
    return out


def page_alerts(device_ids=None, *, thresholds_for: str | None = None) -> PageAlerts:
    """Firing alerts of ``device_ids`` (None: the whole fleet, newest ``OVERVIEW_LIMIT``) in one
    query, plus, with ``thresholds_for``, that device's threshold rules (one more).

    A database error is caught (in a savepoint, so the request's transaction survives) and
    reported in ``error``: alerts never take a device page down.
    """
    try:
        with transaction.atomic():
            if device_ids is None:
                alerts = Alert.objects.filter(resolved_at__isnull=True).select_related(
                    "rule", "acknowledged_by"
                )[:OVERVIEW_LIMIT]
                firing: dict[str, list[Alert]] = {}
                for alert in alerts:
                    firing.setdefault(alert.device_id, []).append(alert)
            else:
                firing = firing_for(device_ids)
            thresholds = _thresholds(thresholds_for) if thresholds_for else {}
    except DatabaseError as exc:
        log.warning("alerts could not be read for a device page: %s", exc)
        return PageAlerts(error="Alerts could not be read from the database.")
    return PageAlerts(firing=firing, thresholds=thresholds)
