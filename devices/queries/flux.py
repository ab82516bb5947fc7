"""What every builder shares: the measurements and tags, the one quoting function, duration
and time literals, the device filters."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime

from devices.ids import validate_device_id
from devices.timefmt import format_rfc3339

# Flux duration literal, optionally negative: "-1h", "15m", "1h30m", "2mo".
_DURATION_RE = re.compile(r"-?(?:[0-9]+(?:ns|us|µs|ms|s|mo|m|h|d|w|y))+")

REGISTRY_MEASUREMENT = "deviceauth"
# Our string field beside the reference apps' key, token, createdAt: the last token rotation.
ROTATED_AT_FIELD = "rotatedAt"
TELEMETRY_MEASUREMENT = "environment"
# The tag that names a telemetry point's device: ``device`` in the tutorial apps, ``clientId`` in
# iot-center-v2. Our virtual devices write both; every telemetry query matches either, so each
# app sees the others' devices.
DEVICE_TAG = "device"
CLIENT_ID_TAG = "clientId"
DEVICE_TAGS = (DEVICE_TAG, CLIENT_ID_TAG)
# The numeric telemetry fields the reference apps write; stats and charts are limited to these
# so that min()/max()/mean() never meet a string field someone else wrote.
TELEMETRY_FIELDS = ("CO2", "Humidity", "Lat", "Lon", "Pressure", "TVOC", "Temperature")


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def quote(value: str) -> str:
    """Render ``value`` as a Flux string literal.

    Escapes backslash and double quote (which would end the literal), ``${`` (which would start
    string interpolation, i.e. code) and control characters.
    """
    if not isinstance(value, str):
        raise TypeError(f"quote() takes a str, not {type(value).__name__}")
    out = "".join(_ESCAPES.get(ch, ch) for ch in value)
    return '"' + out.replace("${", "\\${") + '"'


def duration(value: str) -> str:
    """Return ``value`` if it is a Flux duration literal, else raise ``ValueError``."""
    if not isinstance(value, str) or not _DURATION_RE.fullmatch(value):
        raise ValueError(f"not a Flux duration: {value!r}")
    return value


def _device_ids(device_ids: Iterable[str]) -> list[str]:
    return [validate_device_id(d) for d in device_ids]


def _any_of(column: str, values: Sequence[str]) -> str:
    """``(r.col == "a" or r.col == "b")`` with every value quoted."""
    return "(" + " or ".join(f"r[{quote(column)}] == {quote(v)}" for v in values) + ")"


def _device_match(column: str, device_ids: Sequence[str]) -> str:
    """Filter expression selecting the given (validated) device ids.

    One id: an equality. Several: one anchored regex alternation, which InfluxDB answers from
    its tag index and which costs one match per series instead of one comparison per id.
    """
    ids = _device_ids(device_ids)
    if len(ids) == 1:
        return f"r[{quote(column)}] == {quote(ids[0])}"
    # Valid ids hold only letters, digits and "_ - . :"; of those only "." means something in
    # a regex (outside a character class), and none can close the /.../ literal.
    alternatives = "|".join(d.replace(".", "\\.") for d in ids)
    return f"r[{quote(column)}] =~ /^(?:{alternatives})$/"


def _telemetry_device_match(device_ids: Sequence[str]) -> str:
    """The devices' telemetry, whichever of ``DEVICE_TAGS`` names them.

    An ``or`` of one match per tag: InfluxDB (and the local engine) answer each from the tag
    index and take the union. A point carrying both tags is one series, so it is read once.
    """
    return "(" + " or ".join(_device_match(tag, device_ids) for tag in DEVICE_TAGS) + ")"


def _telemetry(bucket: str, start: str, device_ids: Sequence[str]) -> str:
    start = start if start == "0" else duration(start)
    return (
        f"from(bucket: {quote(bucket)})\n"
        f"  |> range(start: {start})\n"
        f"  |> filter(fn: (r) => r._measurement == {quote(TELEMETRY_MEASUREMENT)}"
        f" and {_telemetry_device_match(device_ids)})\n"
    )


def _columns(*names: str) -> str:
    """A Flux array of column names: ``["_time", "device"]``."""
    return "[" + ", ".join(quote(n) for n in names) + "]"


def _only_fields(fields: Sequence[str]) -> str:
    return f"  |> filter(fn: (r) => {_any_of('_field', fields)})\n"


def time_literal(value) -> str:
    """A timezone-aware datetime as a Flux time literal (RFC 3339, UTC, whole seconds)."""
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError(f"not an aware datetime: {value!r}")
    return format_rfc3339(value, timespec="seconds")


def _bounds(start, stop) -> str:
    """``start: ..., stop: ...`` of ``range``: a duration (relative to now) or datetimes."""
    if isinstance(start, str):
        text = f"start: {duration(start)}"
    else:
        text = f"start: {time_literal(start)}"
    if stop is not None:
        text += f", stop: {time_literal(stop)}"
    return text
