"""Every Flux query IoT Center sends, as named builders.

Rules that keep user input out of query code:

* device ids are checked against the id rules (``devices.ids.validate_device_id``) before any
  builder runs;
* every other string that ends up in a query (bucket names from settings, field names) goes
  through ``quote``, the one quoting function;
* durations and windows must look like Flux duration literals (``duration``).

OSS InfluxDB 2.7 has no ``params`` field in the query body, so values are embedded as properly
escaped Flux string literals.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime

from .ids import validate_device_id
from .timefmt import format_rfc3339

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


# ---- registry bucket ---------------------------------------------------------------------------


def registry_list(bucket: str) -> str:
    """Latest ``key`` and ``createdAt`` of every registered device (tokens are not read).

    ``range(start: 0)``: registrations of any age, unlike the reference apps' ``-30d`` window.
    """
    return (
        f"from(bucket: {quote(bucket)})\n"
        "  |> range(start: 0)\n"
        f"  |> filter(fn: (r) => r._measurement == {quote(REGISTRY_MEASUREMENT)}"
        ' and (r._field == "key" or r._field == "createdAt"))\n'
        "  |> last()\n"
        '  |> keep(columns: ["_time", "_value", "_field", "deviceId"])\n'
        # One table instead of one per device: far less to send and parse at 10,000 devices.
        "  |> group()"
    )


def registry_ids(bucket: str) -> str:
    """Ids of the registered, not removed devices: one row of one column per device.

    What a list page needs of *every* device is only its id (for search, sorting and the
    total). So only the ``key`` field is read (never the token), removed devices (``key=""``)
    are dropped by InfluxDB, and one table with just ``deviceId`` comes back: at 10,000
    devices about a sixth of the bytes and half the rows of ``registry_list``. ``last()`` here
    is pushed down to storage by InfluxDB (one point per series); the filter and ``keep`` then
    see one row per device.
    """
    return (
        f"from(bucket: {quote(bucket)})\n"
        "  |> range(start: 0)\n"
        f"  |> filter(fn: (r) => r._measurement == {quote(REGISTRY_MEASUREMENT)}"
        ' and r._field == "key")\n'
        "  |> last()\n"
        '  |> filter(fn: (r) => r._value != "")\n'
        '  |> keep(columns: ["deviceId"])\n'
        "  |> group()"
    )


# Result names of ``list_page``.
PAGE_REGISTRY_RESULT = "registry"
PAGE_TELEMETRY_RESULT = "telemetry"


def list_page(
    bucket_auth: str, bucket: str, device_ids: Sequence[str], foreign_ids: Sequence[str] = ()
) -> str:
    """``key``/``createdAt`` and the last telemetry times of one page of devices, in one query.

    Two named results: ``registry`` (rows as ``registry_list`` gives them, for these devices
    only) and ``telemetry`` (as ``last_seen``). Together with ``registry_ids`` a list page costs
    two queries however many devices there are.

    ``foreign_ids`` are ids other apps wrote that break our rules: they come from the registry
    itself (never from a user), are matched as quoted string literals in the registry part, and
    are left out of the telemetry part, as ``last_seen`` leaves them out.
    """
    ids = _device_ids(device_ids)
    others = list(foreign_ids)
    if not ids and not others:
        raise ValueError("list_page needs at least one device id")
    matches = []
    if ids:
        matches.append(_device_match("deviceId", ids))
    if others:
        matches.append(_any_of("deviceId", others))
    query = (
        f"from(bucket: {quote(bucket_auth)})\n"
        "  |> range(start: 0)\n"
        f"  |> filter(fn: (r) => r._measurement == {quote(REGISTRY_MEASUREMENT)}"
        ' and (r._field == "key" or r._field == "createdAt")'
        f" and ({' or '.join(matches)}))\n"
        "  |> last()\n"
        '  |> keep(columns: ["_time", "_value", "_field", "deviceId"])\n'
        "  |> group()\n"
        f"  |> yield(name: {quote(PAGE_REGISTRY_RESULT)})\n"
    )
    if ids:
        query += (
            "\n" + last_seen(bucket, ids) + f"\n  |> yield(name: {quote(PAGE_TELEMETRY_RESULT)})"
        )
    return query


def registry_device(bucket: str, device_id: str) -> str:
    """Latest ``key``, ``token``, ``createdAt`` and ``rotatedAt`` of one device."""
    device_id = validate_device_id(device_id)
    return (
        f"from(bucket: {quote(bucket)})\n"
        "  |> range(start: 0)\n"
        f"  |> filter(fn: (r) => r._measurement == {quote(REGISTRY_MEASUREMENT)}"
        f" and r.deviceId == {quote(device_id)})\n"
        "  |> last()\n"
        '  |> keep(columns: ["_time", "_value", "_field", "deviceId"])'
    )


# ---- telemetry bucket --------------------------------------------------------------------------


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


def last_seen(bucket: str, device_ids: Sequence[str]) -> str:
    """Newest point time per device and field for a page of devices (one query per page).

    ``last()`` per series is cheap in InfluxDB (it reads only the newest block), so the whole
    history can be searched. Rows keep both device tags (a column the series lacks is empty):
    the reader attributes each row to its owner (``clientId`` if set, else ``device``).
    """
    ids = _device_ids(device_ids)
    if not ids:
        raise ValueError("last_seen needs at least one device id")
    return (
        _telemetry(bucket, "0", ids) + "  |> last()\n"
        f"  |> keep(columns: {_columns('_time', '_field', *DEVICE_TAGS)})\n"
        "  |> group()"
    )


def latest_readings(bucket: str, device_id: str) -> str:
    """Latest value of every field the device ever wrote."""
    ids = _device_ids([device_id])
    return (
        _telemetry(bucket, "0", ids) + "  |> last()\n"
        f"  |> keep(columns: {_columns('_time', '_value', '_field', *DEVICE_TAGS)})"
    )


def field_stats(
    bucket: str, device_id: str, start: str, fields: Sequence[str] = TELEMETRY_FIELDS
) -> str:
    """count/min/max/last of each field over ``start``..now, as four named results."""
    ids = _device_ids([device_id])
    # Both device tags stay: the reader keeps only the rows this device owns (``device`` may
    # name a board type on iot-center-v2 points, whose owner is their ``clientId``).
    keep = f"  |> keep(columns: {_columns('_time', '_value', '_field', *DEVICE_TAGS)})\n"
    return (
        "data = "
        + _telemetry(bucket, start, ids)
        + _only_fields(fields)
        + "\n"
        + "data |> count()"
        + f" |> keep(columns: {_columns('_value', '_field', *DEVICE_TAGS)})"
        + ' |> yield(name: "count")\n'
        + "data |> min()\n"
        + keep
        + '  |> yield(name: "min")\n'
        + "data |> max()\n"
        + keep
        + '  |> yield(name: "max")\n'
        + "data |> last()\n"
        + keep
        + '  |> yield(name: "last")\n'
    )


def telemetry_series(
    bucket: str, device_id: str, start: str, every: str, fields: Sequence[str] = TELEMETRY_FIELDS
) -> str:
    """Mean per window of each field: what the dashboard charts draw."""
    ids = _device_ids([device_id])
    return (
        _telemetry(bucket, start, ids)
        + _only_fields(fields)
        + f"  |> aggregateWindow(every: {duration(every)}, fn: mean, createEmpty: false)\n"
        + f"  |> keep(columns: {_columns('_time', '_value', '_field', *DEVICE_TAGS)})"
    )


# Result names of ``device_view`` (``field_stats`` adds its own: count, min, max, last).
VIEW_REGISTRY_RESULT = "registry"
VIEW_LATEST_RESULT = "latest"
VIEW_SERIES_RESULT = "series"


def device_view(
    bucket_auth: str,
    bucket: str,
    device_id: str,
    *,
    stats_start: str | None = None,
    series: tuple[str, str] | None = None,
) -> str:
    """What one device's page shows, in one request: a page waits for one round trip, not four.

    Named results: ``registry`` (as ``registry_device``), ``latest`` (as ``latest_readings``),
    with ``stats_start`` the four results of ``field_stats``, with ``series=(start, every)``
    ``series`` (as ``telemetry_series``). The newest ``latest`` time is the device's last-seen
    time, so no separate query is needed for it.
    """
    device_id = validate_device_id(device_id)
    parts = [
        registry_device(bucket_auth, device_id)
        + f"\n  |> yield(name: {quote(VIEW_REGISTRY_RESULT)})",
        latest_readings(bucket, device_id) + f"\n  |> yield(name: {quote(VIEW_LATEST_RESULT)})",
    ]
    if stats_start is not None:
        parts.append(field_stats(bucket, device_id, stats_start))
    if series is not None:
        start, every = series
        parts.append(
            telemetry_series(bucket, device_id, start, every)
            + f"\n  |> yield(name: {quote(VIEW_SERIES_RESULT)})"
        )
    return "\n\n".join(parts)


def last_point_time(bucket: str, device_id: str) -> str:
    """Newest telemetry point of one device per field: where the virtual device resumes."""
    ids = _device_ids([device_id])
    return (
        _telemetry(bucket, "0", ids)
        + f"  |> last()\n  |> keep(columns: {_columns('_time', '_field', *DEVICE_TAGS)})"
    )


def probe(bucket: str) -> str:
    """A query that returns at most one row: proves the token can read ``bucket``."""
    return f"from(bucket: {quote(bucket)})\n  |> range(start: -1m)\n  |> limit(n: 1)"


def telemetry_delete_predicate(device_id: str, tag: str = DEVICE_TAG) -> str:
    """Delete-API predicate for one device's telemetry tagged ``tag=<id>``.

    The delete grammar has no escapes worth trusting, so only validated ids get here (they
    contain no quotes or spaces).
    """
    device_id = validate_device_id(device_id)
    if tag not in DEVICE_TAGS:
        raise ValueError(f"not a device tag: {tag!r}")
    return f'_measurement="{TELEMETRY_MEASUREMENT}" AND {tag}="{device_id}"'


def shared_device_tag(bucket: str, device_id: str) -> str:
    """At most one row if some other device's telemetry carries ``device=<id>`` too.

    iot-center-v2 clients tag points ``clientId=<their id>`` and ``device=<board type>``
    ("ESP8266", "dart"): deleting by ``device="<id>"`` would then delete their data as well.
    """
    device_id = validate_device_id(device_id)
    return (
        f"from(bucket: {quote(bucket)})\n"
        "  |> range(start: 0)\n"
        f"  |> filter(fn: (r) => r._measurement == {quote(TELEMETRY_MEASUREMENT)}"
        f" and r[{quote(DEVICE_TAG)}] == {quote(device_id)})\n"
        f"  |> filter(fn: (r) => exists r[{quote(CLIENT_ID_TAG)}]"
        f" and r[{quote(CLIENT_ID_TAG)}] != {quote(device_id)})\n"
        "  |> last()\n"
        f"  |> keep(columns: {_columns(CLIENT_ID_TAG)})\n"
        "  |> group()\n"
        "  |> limit(n: 1)"
    )


def telemetry_delete_predicates(device_id: str) -> list[str]:
    """Predicates that together delete all of one device's telemetry: one per device tag, as
    the delete grammar has no OR."""
    return [telemetry_delete_predicate(device_id, tag) for tag in DEVICE_TAGS]


# --- JSON API (iot-api-ui) ---

# Aggregates iot-api-ui's plots may ask for (``aggregateWindow(fn: ...)``).
MEASUREMENT_FUNCTIONS = ("mean", "median", "min", "max", "first", "last", "count", "sum")


def measurements(bucket: str, device_id: str, field: str, start: str, every: str, fn: str) -> str:
    """One field of one device, aggregated per window: the query iot-api-ui's plots send,
    rebuilt from its parts (``devices.api.measurements`` parses them out of the UI's text)."""
    ids = _device_ids([device_id])
    if field not in TELEMETRY_FIELDS:
        raise ValueError(f"not a telemetry field: {field!r}")
    if fn not in MEASUREMENT_FUNCTIONS:
        raise ValueError(f"not an aggregate: {fn!r}")
    return (
        _telemetry(bucket, start, ids)
        + _only_fields([field])
        + f"  |> aggregateWindow(every: {duration(every)}, fn: {fn}, createEmpty: false)\n"
        + f"  |> yield(name: {quote(fn)})"
    )


# ---- dashboards and the fleet overview ---------------------------------------------------------

# Result names of ``dashboard_data``.
DASH_SERIES_RESULT = "series"
DASH_STATS = ("min", "max", "mean", "count")


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


def dashboard_data(
    bucket: str, device_id: str, start, stop, every: str, fields: Sequence[str]
) -> str:
    """All of a dashboard's numeric ``fields`` in one query: the mean per window of each
    (``series``, at most range/every rows per series, no empty windows) and min, max, mean and
    count over the whole range (one row each per field and owner).

    ``start`` is a duration (a range relative to now) or a datetime; ``stop`` None or a
    datetime. Only fields whose values are numbers may be given: Flux's mean fails on others.
    """
    ids = _device_ids([device_id])
    if not fields:
        raise ValueError("dashboard_data needs at least one field")
    keep = f"  |> keep(columns: {_columns('_time', '_value', '_field', *DEVICE_TAGS)})\n"
    owner_group = f"  |> group(columns: {_columns('_field', *DEVICE_TAGS)})\n"
    query = (
        f"data = from(bucket: {quote(bucket)})\n"
        f"  |> range({_bounds(start, stop)})\n"
        f"  |> filter(fn: (r) => r._measurement == {quote(TELEMETRY_MEASUREMENT)}"
        f" and {_telemetry_device_match(ids)})\n" + _only_fields(fields) + "\n"
        f"data\n  |> aggregateWindow(every: {duration(every)}, fn: mean, createEmpty: false)\n"
        + keep
        + f"  |> yield(name: {quote(DASH_SERIES_RESULT)})\n"
    )
    for name in DASH_STATS:
        query += (
            f"\ndata\n{owner_group}  |> {name}()\n"
            f"  |> keep(columns: {_columns('_value', '_field', *DEVICE_TAGS)})\n"
            f"  |> yield(name: {quote(name)})\n"
        )
    return query


# Result names of ``fleet_overview``.
FLEET_LATEST_RESULT = "latest"
FLEET_HOUR_RESULT = "hour"


def fleet_overview(bucket: str) -> str:
    """Every device's newest value of each field, and per device and field the number of
    points of the last hour: what the overview shows, in one query whatever the fleet size.

    No ``group()`` over values: fields of different types cannot share a table.
    """
    return (
        f"from(bucket: {quote(bucket)})\n"
        "  |> range(start: 0)\n"
        f"  |> filter(fn: (r) => r._measurement == {quote(TELEMETRY_MEASUREMENT)})\n"
        "  |> last()\n"
        f"  |> keep(columns: {_columns('_time', '_value', '_field', *DEVICE_TAGS)})\n"
        f"  |> yield(name: {quote(FLEET_LATEST_RESULT)})\n\n"
        f"from(bucket: {quote(bucket)})\n"
        "  |> range(start: -1h)\n"
        f"  |> filter(fn: (r) => r._measurement == {quote(TELEMETRY_MEASUREMENT)})\n"
        "  |> count()\n"
        f"  |> keep(columns: {_columns('_value', '_field', *DEVICE_TAGS)})\n"
        "  |> group()\n"
        f"  |> yield(name: {quote(FLEET_HOUR_RESULT)})"
    )


# --- Alerts ---

# A field an alert rule may watch: letters, digits and "_" (checked again here, then quoted).
ALERT_FIELD_RE = re.compile(r"[A-Za-z0-9_]{1,64}")
# Result names of ``alert_window``.
ALERT_WINDOW_RESULTS = ("min", "max", "count", "first", "last")


def alert_field(field: str) -> str:
    """Return ``field`` if an alert rule may watch it, else raise ``ValueError``."""
    if not isinstance(field, str) or not ALERT_FIELD_RE.fullmatch(field):
        raise ValueError(f"not an alert field: {field!r}")
    return field


def alert_window(bucket: str, field: str, start: str) -> str:
    """min/max/count/first/last of one field of *every* device over ``start``..now.

    One query per (field, window) however many devices and rules share it: the evaluator
    attributes rows to devices (``clientId`` else ``device``), as the other telemetry reads do.
    """
    field = alert_field(field)
    data = (
        "data = "
        f"from(bucket: {quote(bucket)})\n"
        f"  |> range(start: {duration(start)})\n"
        f"  |> filter(fn: (r) => r._measurement == {quote(TELEMETRY_MEASUREMENT)}"
        f" and r._field == {quote(field)})\n"
    )
    with_time = f"  |> keep(columns: {_columns('_time', '_value', *DEVICE_TAGS)})\n"
    parts = [data]
    for fn in ALERT_WINDOW_RESULTS:
        keep = (
            f"  |> keep(columns: {_columns('_value', *DEVICE_TAGS)})\n"
            if fn == "count"
            else with_time
        )
        parts.append(f"data |> {fn}()\n{keep}  |> group()\n  |> yield(name: {quote(fn)})\n")
    return "\n".join(parts)


def alert_last_seen(bucket: str) -> str:
    """Newest telemetry time of every device that ever wrote (silence rules), in one table."""
    return (
        f"from(bucket: {quote(bucket)})\n"
        "  |> range(start: 0)\n"
        f"  |> filter(fn: (r) => r._measurement == {quote(TELEMETRY_MEASUREMENT)})\n"
        "  |> last()\n"
        f"  |> keep(columns: {_columns('_time', *DEVICE_TAGS)})\n"
        "  |> group()"
    )
