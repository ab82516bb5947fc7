"""A device's telemetry as CSV (the download): streamed from InfluxDB, never held in memory.

Two queries per download whatever its size: the device with its latest values (as a device page
reads it: registered or not, which fields exist and which hold numbers), then the rows, read
incrementally from the HTTP answer (``query_stream``) and written out as they come.

* windowed: the window means the dashboard charts (every numeric field, the same windows);
* raw: the stored points, every field of any type, one row per time.

At most ``max_rows`` rows (the query asks for one more, to know whether there were more); a file
cut short (the cap, or InfluxDB failing mid-way) ends with a ``#`` line saying so, so it never
passes for a complete one. Text values that a spreadsheet would run as a formula (starting with
``= + - @``, tab or carriage return) are prefixed with ``'`` and every text cell is quoted
(OWASP's advice on CSV injection); numbers stay numbers.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from itertools import chain

from devices.queries import DEVICE_TAGS
from devices.queries.export import export_rows
from devices.timefmt import format_rfc3339

from .client import get
from .dashboard import TimeWindow, field_order, is_number
from .deadline import bounded
from .devices import device_view
from .errors import InfluxError, bucket_missing, guard
from .lowlevel import TELEMETRY_SETTING, check_id
from .telemetry import owner

logger = logging.getLogger("devices.influx")

# Columns a pivoted row carries besides the fields: a field of one of these names cannot be told
# apart from them, so it is left out of the file.
_NOT_FIELDS = frozenset(
    {"result", "table", "_time", "_start", "_stop", "_measurement", *DEVICE_TAGS}
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
ROWS_PER_CHUNK = 500


def safe_text(text: str) -> str:
    """A text cell a spreadsheet shows as text: ``'`` before a would-be formula."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def cell(value: object) -> object:
    """A CSV cell: numbers as numbers (unquoted), booleans as true/false, text made safe."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    return safe_text(str(value))


def _time_text(at) -> str:
    return format_rfc3339(at, timespec="microseconds" if at.microsecond else "seconds")


@dataclass
class TelemetryCsv:
    """One download: iterate it once (the response body), then ``close()`` it (Django does, also
    for a HEAD request or a client that went away); counts filled as it runs."""

    device_id: str
    window: TimeWindow
    raw: bool
    fields: list[str]
    max_rows: int
    _records: Generator | None = field(default=None, repr=False)
    _first: object = field(default=None, repr=False)  # read before streaming: errors are a 503
    _conn: object = field(default=None, repr=False)
    _limit: int = 0  # the query's row limit (values, not lines)
    rows: int = 0
    capped: bool = False
    error: str = ""

    def _merge(self, pending: dict[str, list]) -> list:
        out = []
        for name in self.fields:
            values = pending.get(name) or []
            if not values:
                out.append("")
            elif self.raw:
                out.append(cell(values[0]))
            else:  # one mean per series: their mean, as the charts draw it (divided first:
                # two 1.7e308 would overflow their sum)
                out.append(sum(v / len(values) for v in values))
        return out

    def __iter__(self) -> Iterator[str]:
        return self.chunks()

    def close(self) -> None:
        """Ends InfluxDB's answer (returns the connection) whether or not it was read."""
        records, self._records = self._records, None
        if records is not None:
            records.close()

    def chunks(self) -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\r\n")
        writer.writerow(["time", *(safe_text(f) for f in self.fields)])
        yield self._take(buffer)
        if self._records is None:
            return
        what = f"read the telemetry of device {self.device_id!r}"
        wanted = set(self.fields)
        pending_time, pending = None, {}
        received = 0
        records = chain([self._first], self._records) if self._first is not None else ()
        try:
            with guard(self._conn, what):
                for record in records:
                    received += 1
                    values = record.values
                    at = values.get("_time")
                    if at is None or owner(values) != self.device_id:
                        continue
                    if at != pending_time:
                        if pending_time is not None:
                            self._row(writer, pending_time, pending)
                            pending_time = None
                            if self.rows >= self.max_rows:
                                self.capped = True  # a row beyond the cap exists
                                break
                            if self.rows % ROWS_PER_CHUNK == 0:
                                yield self._take(buffer)
                        pending_time, pending = at, {}
                    for name in wanted.intersection(values):
                        value = values[name]
                        if value is not None and (self.raw or is_number(value)):
                            pending.setdefault(name, []).append(value)
        except InfluxError as exc:
            self.error = str(exc)
        finally:
            self.close()  # ends the HTTP answer (also when the browser went away)
        if not self.capped and self._limit and received >= self._limit:
            # InfluxDB stopped at the query's limit: the last time may lack some of its values.
            self.capped = True
        elif pending_time is not None and not self.error:
            self._row(writer, pending_time, pending)
        if self.error:
            logger.warning("CSV download of %s cut short: %s", self.device_id, self.error)
            buffer.write(
                f"# incomplete: InfluxDB failed after {self.rows} rows ({self.error}); "
                "download again\r\n"
            )
        elif self.capped:
            buffer.write(
                f"# row cap reached: the file stops at {self.rows:,} rows (at most "
                f"{self.max_rows:,} per download); narrow the range for the rest\r\n"
            )
        yield self._take(buffer)

    def _row(self, writer, at, pending: dict[str, list]) -> None:
        writer.writerow([_time_text(at), *self._merge(pending)])
        self.rows += 1

    @staticmethod
    def _take(buffer: io.StringIO) -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text


def telemetry_csv(device_id: str, window: TimeWindow, *, raw: bool, max_rows: int) -> TelemetryCsv:
    """A download of the device's telemetry over ``window``: the two queries are sent here
    (so an unknown device or an InfluxDB outage raises before anything is streamed); the rows
    are read while ``chunks()`` is iterated. Raises InvalidDeviceId, DeviceNotFound and the
    InfluxDB errors."""
    device_id = check_id(device_id)
    if max_rows < 1:
        raise ValueError("max_rows must be at least 1")
    view = device_view(device_id)
    names = [r.field for r in view.readings if raw or is_number(r.value)]
    fields = field_order(n for n in names if n not in _NOT_FIELDS)
    export = TelemetryCsv(device_id, window, raw, fields, max_rows)
    if not fields:
        return export  # nothing to read: a file with the header only
    conn = get()
    start, stop = window.flux_bounds()
    # One value per row of the answer: a line past the cap needs at most this many (a field
    # each); the reader stops at that line and closes the answer.
    limit = (max_rows + 1) * len(fields)
    flux = export_rows(
        conn.bucket,
        device_id,
        start,
        stop,
        fields=fields,
        limit=limit,
        every=None if raw else window.every,
    )
    what = f"read the telemetry of device {device_id!r}"

    def run():
        with guard(conn, what, not_found=bucket_missing(conn.bucket, TELEMETRY_SETTING)):
            records = conn.query_api.query_stream(flux, org=conn.org)
            # The first row read here: an error InfluxDB sends in the answer's first bytes is
            # the 503 page, not a file; and the stream is started, so closing it ends the answer.
            return records, next(records, None)

    export._records, export._first = bounded(conn, what, run)
    export._conn = conn
    export._limit = limit
    return export
