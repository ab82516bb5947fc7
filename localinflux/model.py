"""The contract between storage (``store.py``) and the Flux engine (``flux/``).

Storage keeps one *series* per (measurement, tag set, field). The Flux engine reads through a
``StorageReader`` and never touches storage internals, so the two sides can change independently.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

# Line-protocol field types, as storage records them. Flux/CSV names: float -> double,
# integer -> long, unsigned -> unsignedLong, string -> string, boolean -> boolean.
FLOAT = "float"
INTEGER = "integer"
UNSIGNED = "unsigned"
STRING = "string"
BOOLEAN = "boolean"
FIELD_TYPES = (FLOAT, INTEGER, UNSIGNED, STRING, BOOLEAN)


@dataclass(frozen=True)
class SeriesKey:
    measurement: str
    tags: tuple[tuple[str, str], ...]  # sorted by tag key, no empty keys or values
    field: str


class SeriesRef(Protocol):
    """One stored series. ``key`` and ``ftype`` are cheap; ``slice`` copies points out."""

    key: SeriesKey
    ftype: str  # one of FIELD_TYPES

    def slice(self, start_ns: int, stop_ns: int) -> tuple[Sequence[int], Sequence[object]]:
        """Points with ``start_ns <= t < stop_ns``: (times ascending and unique, values).

        Returns copies taken under the store's lock, safe to use after the call returns.
        """
        ...

    def last(self, start_ns: int, stop_ns: int) -> tuple[int, object] | None:
        """The newest point in ``[start_ns, stop_ns)``, or None, without copying the series."""
        ...

    def first(self, start_ns: int, stop_ns: int) -> tuple[int, object] | None:
        """The oldest point in ``[start_ns, stop_ns)``, or None, without copying the series."""
        ...


class StorageReader(Protocol):
    def series(self, bucket_id: str) -> list[SeriesRef]:
        """Every series of the bucket, sorted by (measurement, tags, field). Unknown bucket: []."""
        ...

    # Optional: ``selected_points(refs, start_ns, stop_ns, last) -> (times, values)``, the
    # ``last``/``first`` point of each of many series at once (time None for a series with no
    # point in the range). ``flux/plan/selected.py`` uses it when present (``store.Store``
    # has it), else calls ``SeriesRef.last``/``first`` per series.


@dataclass
class QueryContext:
    """What the HTTP layer hands the Flux engine for one ``POST /api/v2/query``.

    ``resolve_bucket(name)`` returns the bucket id when the bucket exists *and* the caller may
    read it, else None (the engine then answers 404 ``could not find bucket "<name>"``, which is
    what InfluxDB 2.7 says both for a missing bucket and for one the token cannot read).
    ``resolve_bucket_id(id)`` is the same for ``from(bucketID: ...)``.
    """

    reader: StorageReader
    resolve_bucket: Callable[[str], str | None]
    resolve_bucket_id: Callable[[str], str | None]
    now_ns: int
    org_id: str = ""
    # Filled by the engine: rows it returned (all results), for the server's request counters.
    rows_returned: int = 0
    series_read: int = 0
    extra: dict = field(default_factory=dict)


@dataclass
class QueryResponse:
    """What the Flux engine hands back to the HTTP layer.

    ``status`` 200 with ``content_type`` text/csv and ``body`` the annotated CSV, or an error
    status with ``body`` a compact JSON ``{"code","message"}`` and content type
    ``application/json; charset=utf-8`` (the HTTP layer adds ``X-Platform-Error-Code``).
    """

    status: int
    content_type: str
    body: bytes
    error_code: str = ""
