"""Sending notifications: e-mail (Django's mail settings) and webhooks (signed JSON POST).

Each ``Notification`` row is claimed (pending -> sending, one UPDATE) before it is sent, so
with several evaluators each is sent once. A failing channel is recorded on its row and never
stops the others.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request

from django.conf import settings
from django.core.mail import send_mail
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


def _webhook(channel: Channel, data: dict) -> int:
    """POST with retries and backoff; returns the attempts made. Raises on the last failure."""
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
        except (urllib.error.URLError, OSError, ValueError) as exc:
            if attempt == tries:
                raise RuntimeError(f"after {attempt} attempts: {exc}") from exc
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


def deliver(note: Notification) -> bool:
    """Send one claimed notification; record the outcome on its row. True if sent."""
    data = payload(note)
    try:
        if note.channel.kind == Channel.WEBHOOK:
            note.attempts = _webhook(note.channel, data)
        else:
            note.attempts = 1
            _email(note.channel, data)
    except Exception as exc:  # a failing channel never stops the others
        log.warning("alert notification %s failed: %s", note.pk, exc)
        note.status, note.last_error = Notification.FAILED, str(exc)[:500]
        if not note.attempts:
            note.attempts = settings.ALERTS_WEBHOOK_TRIES
        note.save(update_fields=["status", "last_error", "attempts"])
        return False
    note.status, note.sent_at, note.last_error = Notification.SENT, timezone.now(), ""
    note.save(update_fields=["status", "sent_at", "last_error", "attempts"])
    return True


def deliver_pending() -> tuple[int, int]:
    """Claim and send every pending notification: (sent, failed)."""
    sent = failed = 0
    for pk in list(
        Notification.objects.filter(status=Notification.PENDING).values_list("pk", flat=True)
    ):
        claimed = Notification.objects.filter(pk=pk, status=Notification.PENDING).update(
            status=Notification.SENDING
        )
        if not claimed:
            continue  # another evaluator has it
        note = Notification.objects.select_related("alert__rule", "channel").get(pk=pk)
        if deliver(note):
            sent += 1
        else:
            failed += 1
    return sent, failed
