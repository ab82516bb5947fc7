"""Sending notifications: e-mail (Django's mail settings) and webhooks (signed JSON POST).

Each ``Notification`` row is claimed (pending -> sending, one UPDATE) before it is sent, so
with several evaluators each is sent once. A failing channel is recorded on its row and never
stops the others; a later pass retries it (``next_attempt_at``, backoff doubling) until
``ALERTS_NOTIFY_PASSES`` passes have failed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db.models import Q
from django.utils import timezone

from .models import Channel, Notification

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-IoTCenter-Signature"


def payload(note: Notification) -> dict:
    alert = note.alert
    rule = alert.rule
    return {
        "event": note.event,
        "rule": {"id": rule.pk, "name": rule.name, "severity": rule.severity},
        "condition": rule.describe(),
        "device_id": alert.device_id,
        "started_at": alert.started_at.isoformat(),
        "value": alert.value,
        "detail": alert.detail,
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
        "resolved_value": alert.resolved_value,
    }


def sign(secret: str, body: bytes) -> str:
    """The signature header's value: ``sha256=<hex HMAC-SHA256 of the body>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class SendFailed(Exception):
    """``permanent``: the receiver refused it (a 4xx other than 408/429): not retried."""

    def __init__(self, message: str, attempts: int, *, permanent: bool = False):
        super().__init__(message)
        self.attempts, self.permanent = attempts, permanent


def _webhook(channel: Channel, data: dict) -> int:
    """POST with retries and backoff; returns the attempts made. Raises SendFailed at the end."""
    body = json.dumps(data, sort_keys=True).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "IoT Center alerts"}
    if channel.secret:
        headers[SIGNATURE_HEADER] = sign(channel.secret, body)
    tries = max(1, settings.ALERTS_WEBHOOK_TRIES)
    for attempt in range(1, tries + 1):
        request = urllib.request.Request(channel.target, data=body, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(  # noqa: S310 (an http(s) URL, checked by the model)
                request, timeout=settings.ALERTS_WEBHOOK_TIMEOUT_S
            ) as response:
                response.read()
            return attempt
        except urllib.error.HTTPError as exc:
            if 400 <= exc.code < 500 and exc.code not in (408, 429):
                raise SendFailed(f"refused: {exc}", attempt, permanent=True) from exc
            if attempt == tries:
                raise SendFailed(f"after {attempt} attempts: {exc}", attempt) from exc
            time.sleep(settings.ALERTS_WEBHOOK_BACKOFF_S * 2 ** (attempt - 1))
        except (urllib.error.URLError, OSError, ValueError) as exc:
            if attempt == tries:
                raise SendFailed(f"after {attempt} attempts: {exc}", attempt) from exc
            time.sleep(settings.ALERTS_WEBHOOK_BACKOFF_S * 2 ** (attempt - 1))
    raise AssertionError("unreachable")


def _email(channel: Channel, data: dict) -> None:
    to = [a.strip() for a in channel.target.split(",") if a.strip()]
    word = "FIRING" if data["event"] == Notification.FIRED else "resolved"
    subject = f"[{data['rule']['severity']}] {word}: {data['rule']['name']} on {data['device_id']}"
    lines = [
        f"{data['condition']}",
        f"Device: {data['device_id']}",
        f"Since: {data['started_at']} (value {data['value']})",
    ]
    if data["detail"]:
        lines.append(data["detail"])
    if data["resolved_at"]:
        lines.append(f"Resolved: {data['resolved_at']} (value {data['resolved_value']})")
    send_mail(subject, "\n".join(lines) + "\n", None, to)


def max_passes() -> int:
    """Passes that try a notification before it is given up as failed."""
    return max(1, int(getattr(settings, "ALERTS_NOTIFY_PASSES", 5)))


def retry_backoff_s(passes: int) -> float:
    """Wait after the ``passes``-th failed pass: ``ALERTS_RETRY_BACKOFF_S`` (60), doubling."""
    return float(getattr(settings, "ALERTS_RETRY_BACKOFF_S", 60.0)) * 2 ** (passes - 1)


def deliver(note: Notification, now: datetime | None = None) -> bool:
    """Send one claimed notification; record the outcome on its row. True if sent.

    A failure puts it back to pending, not before ``next_attempt_at`` (a later pass retries
    it), until ``max_passes()`` passes have failed: then it is failed for good.
    """
    now = now or timezone.now()
    data = payload(note)
    note.passes += 1
    try:
        if note.channel.kind == Channel.WEBHOOK:
            note.attempts += _webhook(note.channel, data)
        else:
            note.attempts += 1
            _email(note.channel, data)
    except Exception as exc:  # a failing channel never stops the others
        note.attempts += getattr(exc, "attempts", 0)  # a webhook's tries in this pass
        note.last_error = str(exc)[:500]
        if note.passes < max_passes() and not getattr(exc, "permanent", False):
            note.status = Notification.PENDING
            note.next_attempt_at = now + timedelta(seconds=retry_backoff_s(note.passes))
        else:
            note.status, note.next_attempt_at = Notification.FAILED, None
        log.warning(
            "alert notification %s failed (pass %s of %s, %s): %s",
            note.pk, note.passes, max_passes(), note.status, exc,
        )  # fmt: skip
        note.save(update_fields=["status", "last_error", "attempts", "passes", "next_attempt_at"])
        return False
    note.status, note.sent_at, note.last_error = Notification.SENT, timezone.now(), ""
    note.next_attempt_at = None
    note.save(
        update_fields=["status", "sent_at", "last_error", "attempts", "passes", "next_attempt_at"]
    )
    return True


def send_lease_s() -> float:
    """How long a claim holds: a notification still "sending" after that (its evaluator died
    mid-send) is claimed again by a later pass. Longer than any send (webhook tries, backoff)."""
    return float(getattr(settings, "ALERTS_SEND_LEASE_S", 600.0))


def deliver_pending(now: datetime | None = None) -> tuple[int, int]:
    """Claim and send every pending notification that is due: (sent, failed this pass)."""
    now = now or timezone.now()
    pending = Q(status=Notification.PENDING) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )
    abandoned = Q(status=Notification.SENDING, next_attempt_at__lte=now)
    due = Notification.objects.filter(pending | abandoned)
    lease = now + timedelta(seconds=send_lease_s())
    sent = failed = 0
    for pk in list(due.values_list("pk", flat=True)):
        # One UPDATE claims it: with several evaluators only one matches the row.
        claimed = due.filter(pk=pk).update(status=Notification.SENDING, next_attempt_at=lease)
        if not claimed:
            continue  # another evaluator has it
        note = Notification.objects.select_related("alert__rule", "channel").get(pk=pk)
        if deliver(note, now):
            sent += 1
        else:
            failed += 1
    return sent, failed
