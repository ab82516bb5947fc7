"""Alert rules, their per-device state, the alerts they raised and the notifications sent.

A ``RuleState`` row per (rule, device) is what evaluators lock (``select_for_update``) before a
transition, so that with several evaluators each transition is recorded once; a
``Notification`` row per (alert, event, channel) is claimed before it is sent, so that each is
sent once.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from devices.ids import is_valid_device_id

MAX_MINUTES = 7 * 24 * 60  # a week

field_name_validator = RegexValidator(
    r"\A[A-Za-z0-9_]{1,64}\Z",
    "1 to 64 letters, digits or underscores (e.g. CO2).",
)
minutes_validators = [
    MinValueValidator(1, "At least 1 minute."),
    MaxValueValidator(MAX_MINUTES, f"At most {MAX_MINUTES} minutes (a week)."),
]


def validate_device_scope(value: str) -> None:
    if value and not is_valid_device_id(value):
        raise ValidationError(
            "Not a valid device id: 1 to 64 letters, digits or '_ - . :'.", code="invalid"
        )


class Rule(models.Model):
    ABOVE, BELOW, OUTSIDE, SILENCE = "above", "below", "outside", "silence"
    CONDITIONS = [
        (ABOVE, "above"),
        (BELOW, "below"),
        (OUTSIDE, "outside the band"),
        (SILENCE, "no data"),
    ]
    INFO, WARNING, CRITICAL = "info", "warning", "critical"
    SEVERITIES = [(INFO, "info"), (WARNING, "warning"), (CRITICAL, "critical")]

    name = models.CharField(max_length=100)
    device_id = models.CharField(
        "device",
        max_length=64,
        blank=True,
        validators=[validate_device_scope],
        help_text="Empty: every device.",
    )
    condition = models.CharField(max_length=10, choices=CONDITIONS, default=ABOVE)
    field = models.CharField(
        max_length=64,
        blank=True,
        validators=[field_name_validator],
        help_text="The numeric telemetry field (not for 'no data').",
    )
    threshold = models.FloatField(
        null=True, blank=True, help_text="Above/below: the limit. Outside: the band's low end."
    )
    high = models.FloatField(null=True, blank=True, help_text="Outside: the band's high end.")
    minutes = models.PositiveIntegerField(
        default=10,
        validators=minutes_validators,
        help_text="How long it must hold (no data: how long without data).",
    )
    severity = models.CharField(max_length=10, choices=SEVERITIES, default=WARNING)
    enabled = models.BooleanField(default=True)
    silenced_until = models.DateTimeField(
        null=True, blank=True, help_text="No notifications until then (alerts still recorded)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.condition == self.SILENCE:
            self.field, self.threshold, self.high = "", None, None
        else:
            if not self.field:
                errors["field"] = "Name the field this rule watches."
            if self.threshold is None:
                errors["threshold"] = "Give the limit."
            if self.condition == self.OUTSIDE:
                if self.high is None:
                    errors["high"] = "Give the band's high end."
                elif self.threshold is not None and not self.threshold < self.high:
                    errors["high"] = "The band's high end must be above its low end."
            else:
                self.high = None
        if errors:
            raise ValidationError(errors)

    def describe(self) -> str:
        scope = self.device_id or "any device"
        if self.condition == self.SILENCE:
            return f"{scope}: no data for {self.minutes} min"
        if self.condition == self.OUTSIDE:
            cond = f"outside {self.threshold:g}..{self.high:g}"
        else:
            cond = f"{self.condition} {self.threshold:g}"
        return f"{scope}: {self.field} {cond} for {self.minutes} min"

    def breached(self, low: float, high: float) -> bool:
        """Whether every value of a window (its ``low`` min and ``high`` max) breaks the rule."""
        if self.condition == self.ABOVE:
            return low > self.threshold
        if self.condition == self.BELOW:
            return high < self.threshold
        if self.condition == self.OUTSIDE:
            return low > self.high or high < self.threshold
        return False


class Alert(models.Model):
    """One firing of a rule on one device: from ``started_at`` until ``resolved_at``."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="alerts")
    device_id = models.CharField(max_length=64, db_index=True)
    started_at = models.DateTimeField(db_index=True)
    value = models.FloatField(null=True, blank=True, help_text="The value that triggered it.")
    detail = models.CharField(max_length=200, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_value = models.FloatField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        ordering = ["-started_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.rule.name} on {self.device_id}"

    @property
    def firing(self) -> bool:
        return self.resolved_at is None


class RuleState(models.Model):
    """The lock row of a (rule, device): ``alert`` is its open alert (None: ok)."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="states")
    device_id = models.CharField(max_length=64)
    alert = models.ForeignKey(Alert, null=True, blank=True, on_delete=models.SET_NULL)
    changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rule", "device_id"], name="alerts_one_state")
        ]

    def __str__(self) -> str:
        return f"{self.rule.name} on {self.device_id}: {'firing' if self.alert_id else 'ok'}"


class Channel(models.Model):
    EMAIL, WEBHOOK = "email", "webhook"
    KINDS = [(EMAIL, "e-mail"), (WEBHOOK, "webhook")]

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=KINDS)
    target = models.CharField(
        max_length=500, help_text="E-mail: addresses, comma separated. Webhook: the https URL."
    )
    secret = models.CharField(
        max_length=200, blank=True, help_text="Webhook: the HMAC-SHA256 key of the signature."
    )
    enabled = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    def clean(self) -> None:
        if self.kind == self.WEBHOOK and not self.target.startswith(("http://", "https://")):
            raise ValidationError({"target": "A webhook target is an http(s) URL."})


class Notification(models.Model):
    FIRED, RESOLVED = "fired", "resolved"
    EVENTS = [(FIRED, "fired"), (RESOLVED, "resolved")]
    PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"
    STATUSES = [(PENDING, "pending"), (SENDING, "sending"), (SENT, "sent"), (FAILED, "failed")]

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="notifications")
    event = models.CharField(max_length=10, choices=EVENTS)
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="notifications")
    status = models.CharField(max_length=10, choices=STATUSES, default=PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0, help_text="Sends tried, over all passes.")
    passes = models.PositiveIntegerField(default=0, help_text="Evaluator passes that tried it.")
    next_attempt_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Pending: not tried before then. Sending: claimed until then.",
    )
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["alert", "event", "channel"], name="alerts_notify_once")
        ]

    def __str__(self) -> str:
        return f"{self.alert} {self.event} -> {self.channel}"

    def outcome(self) -> str:
        """What the history page says of it, e.g. "failed after 3 attempts: HTTP Error 500"."""
        tries = f"{self.attempts} attempt{'s' if self.attempts != 1 else ''}"
        if self.status == self.SENT:
            return f"sent ({tries})"
        if self.status == self.PENDING and self.last_error:
            at = self.next_attempt_at.strftime("%H:%M:%S UTC") if self.next_attempt_at else "soon"
            return f"retrying at {at} ({tries}): {self.last_error}"
        if self.status == self.FAILED:
            return f"failed after {tries}: {self.last_error}"
        return self.status
