"""The one Flux query shape iot-api-ui's plots send, parsed strictly and never run as given.

The UI sends, per field::

    from(bucket: "<telemetry bucket>")
      |> range(start: -60d)
      |> filter(fn: (r) => r._measurement == "environment" and r.device == "<id>" )
      |> filter(fn: (r) => r._field == "<field>" )
      |> aggregateWindow(every: 1h, fn: mean, createEmpty: false)
      |> yield(name: "mean")

Whitespace may differ; ``r.clientId`` may stand for ``r.device``. Every part is checked (the
telemetry bucket, measurement ``environment``, the path's device, a known numeric field, a
bounded range and window, a known aggregate) and the query is rebuilt by
``queries.measurements``. Anything else is refused with a message saying what is accepted:
caller-supplied Flux never runs with the operator's token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from devices import queries

# Strings inside the query: no quotes, backslashes or interpolation, so nothing to unescape.
_STR = r'"(?P<{}>[^"\\$]{{0,255}})"'
_ARROW = r"\(\s*r\s*\)\s*=>\s*"
_QUERY_RE = re.compile(
    r"\s*from\(\s*bucket\s*:\s*" + _STR.format("bucket") + r"\s*\)"
    r"\s*\|>\s*range\(\s*start\s*:\s*(?P<start>-?[0-9]+[a-z]+)\s*(?:,\s*stop\s*:\s*now\(\)\s*)?\)"
    r"\s*\|>\s*filter\(\s*fn\s*:\s*"
    + _ARROW
    + r"r\._measurement\s*==\s*"
    + _STR.format("measurement")
    + r"\s+and\s+r\.(?P<tag>device|clientId)\s*==\s*"
    + _STR.format("device")
    + r"\s*\)"
    r"\s*\|>\s*filter\(\s*fn\s*:\s*"
    + _ARROW
    + r"r\._field\s*==\s*"
    + _STR.format("field")
    + r"\s*\)"
    r"\s*\|>\s*aggregateWindow\(\s*every\s*:\s*(?P<every>[0-9]+[a-z]+)\s*,\s*fn\s*:\s*(?P<fn>[a-z]+)"
    r"\s*(?:,\s*createEmpty\s*:\s*(?:true|false)\s*)?\)"
    r"(?:\s*\|>\s*yield\(\s*name\s*:\s*\"[A-Za-z0-9_]{1,32}\"\s*\))?\s*"
)
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}
MAX_RANGE_S = 366 * 86_400
MIN_WINDOW_S = 10
MAX_WINDOWS = 10_000

SHAPE = (
    'from(bucket: "<telemetry bucket>") |> range(start: -<n><s|m|h|d|w>) |> filter(fn: (r) => '
    'r._measurement == "environment" and r.device == "<this device>") |> filter(fn: (r) => '
    'r._field == "<field>") |> aggregateWindow(every: <n><s|m|h|d>, fn: <aggregate>, '
    'createEmpty: false) |> yield(name: "<name>")'
)


class QueryRefused(ValueError):
    """The query is not one this endpoint answers; the message says why."""


@dataclass(frozen=True)
class MeasurementQuery:
    field: str
    start: str
    every: str
    fn: str


def _seconds(literal: str, what: str) -> int:
    match = re.fullmatch(r"-?([0-9]{1,9})([a-z]+)", literal)
    if not match or match.group(2) not in _UNIT_S:
        raise QueryRefused(f"{what} must be a number and one of the units s, m, h, d, w")
    return int(match.group(1)) * _UNIT_S[match.group(2)]


def parse(text: object, *, bucket: str, device_id: str) -> MeasurementQuery:
    """The parts of an iot-api-ui plot query for ``device_id`` in ``bucket``; ``QueryRefused``
    with a clear message for anything else."""
    if not isinstance(text, str) or len(text) > 2000:
        raise QueryRefused("query must be a string of at most 2000 characters")
    match = _QUERY_RE.fullmatch(text)
    if match is None:
        raise QueryRefused(f"only iot-api-ui's plot query is answered, of the shape: {SHAPE}")
    if match["bucket"] != bucket:
        raise QueryRefused(
            f"bucket must be the telemetry bucket {bucket!r} (iot-api-ui: set "
            f"NEXT_PUBLIC_INFLUX_BUCKET={bucket})"
        )
    if match["measurement"] != queries.TELEMETRY_MEASUREMENT:
        raise QueryRefused(f"measurement must be {queries.TELEMETRY_MEASUREMENT!r}")
    if match["device"] != device_id:
        raise QueryRefused("the query must be for the device named in the URL")
    if match["field"] not in queries.TELEMETRY_FIELDS:
        raise QueryRefused(f"field must be one of {', '.join(queries.TELEMETRY_FIELDS)}")
    if match["fn"] not in queries.MEASUREMENT_FUNCTIONS:
        raise QueryRefused(f"fn must be one of {', '.join(queries.MEASUREMENT_FUNCTIONS)}")
    if not match["start"].startswith("-"):
        raise QueryRefused("range start must be in the past (for example -60d)")
    span = _seconds(match["start"], "range start")
    window = _seconds(match["every"], "the window (every)")
    if not 0 < span <= MAX_RANGE_S:
        raise QueryRefused("range start must be at most 366 days back")
    if window < MIN_WINDOW_S or span // window > MAX_WINDOWS:
        raise QueryRefused(
            f"the window must be at least {MIN_WINDOW_S}s and the range at most "
            f"{MAX_WINDOWS} windows long"
        )
    return MeasurementQuery(
        field=match["field"], start=match["start"], every=match["every"], fn=match["fn"]
    )
