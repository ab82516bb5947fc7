"""The dashboard's time range from the query string: a preset (live) or a custom start/stop.

Custom times are read as UTC unless they carry an offset (``2026-11-26T13:00``,
``2026-11-26 13:00:00+01:00``); the errors say what is wrong in words.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django import forms

from . import influx

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2262, 1, 1, tzinfo=UTC)  # InfluxDB's nanosecond times end in 2262


def parse_time(text: str) -> datetime:
    text = text.strip().replace(" ", "T", 1)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class RangeForm(forms.Form):
    range = forms.CharField(required=False)
    start = forms.CharField(required=False, label="From", max_length=40)
    stop = forms.CharField(required=False, label="To", max_length=40)

    def _time(self, name: str) -> datetime | None:
        text = self.cleaned_data.get(name) or ""
        if not text.strip():
            return None
        try:
            value = parse_time(text)
        except ValueError:
            raise forms.ValidationError(
                f"Not a date and time: {text[:40]!r}. Use e.g. 2026-11-26T13:00 (UTC)."
            ) from None
        if not EARLIEST <= value <= LATEST:
            raise forms.ValidationError("Give a time between 1970 and 2262.")
        return value

    def clean_start(self):
        return self._time("start")

    def clean_stop(self):
        return self._time("stop")

    def clean(self):
        data = super().clean()
        start, stop = data.get("start"), data.get("stop")
        if self.errors:
            return data
        if (start is None) != (stop is None):
            raise forms.ValidationError("Give both a start and a stop, or pick a preset.")
        if start is not None and stop <= start:
            self.add_error("stop", "The stop must be after the start.")
        elif start is not None and stop - start > influx.TimeWindow.MAX_SPAN:
            self.add_error("stop", "A range can be at most 10 years long.")
        return data

    @property
    def custom(self) -> bool:
        return bool(self.data.get("start") or self.data.get("stop"))

    def window(self) -> influx.TimeWindow:
        """The window asked for; the default preset when the form has errors or nothing."""
        if self.is_valid() and self.cleaned_data.get("start") is not None:
            return influx.TimeWindow.custom(self.cleaned_data["start"], self.cleaned_data["stop"])
        key = self.data.get("range", "")
        return influx.TimeWindow.preset(key if key in influx.RANGES else influx.DEFAULT_RANGE)
