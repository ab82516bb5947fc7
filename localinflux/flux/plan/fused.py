"""Output tables built straight from series parts, without one table per series in between.

A part is ``(key record, Flux value type, times, values)`` of one series. ``series_table`` makes
the table Flux's storage read gives for a series; ``project_table`` applies fused ``keep``/``drop``
steps; ``group_parts`` fills the tables of a fused ``group`` directly from the parts. Each returns
what the table-by-table path returns (``tests/localinflux/test_flux_plan.py`` compares).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from functools import lru_cache
from itertools import repeat

from .. import tables as T
from ..errors import FluxError


def project_labels(labels: list[str], project: tuple) -> list[str]:
    for keep, names in project:
        labels = [label for label in labels if (label in names) is keep]
    return labels


def project_table(table: T.Table, project: tuple) -> T.Table:
    return T.select_columns(table, project_labels(table.labels, project))


# Flux value type of each storage field type.
FIELD_TYPES = {
    "float": T.DOUBLE,
    "integer": T.LONG,
    "unsigned": T.ULONG,
    "string": T.STRING,
    "boolean": T.BOOL,
}

# Where a column of a series table comes from: the point times, the values, or the key record.
_FROM_TIMES = 0
_FROM_VALUES = 1


@lru_cache(maxsize=1024)
def _group_layout(
    record_keys: tuple[str, ...], vtype: str, project: tuple, columns: tuple, mode: str
) -> tuple | None:
    """Columns (label, type, source) of one series table after keep/drop, and its new group key.

    None when the new key would include ``_time`` or ``_value``: rows then split by value and
    the generic ``group`` does it.
    """
    tag_labels, _ = _layout(record_keys)
    types = {"_start": T.TIME, "_stop": T.TIME, "_time": T.TIME, "_value": vtype}
    labels = project_labels(["_start", "_stop", "_time", "_value", *tag_labels], project)
    if mode == "by":
        key = sorted(c for c in set(columns) if c in labels)
    else:
        excluded = set(columns)
        key = [c for c in labels if c not in excluded]
    if "_time" in key or "_value" in key:
        return None
    cols = []
    for label in labels:
        source = {"_time": _FROM_TIMES, "_value": _FROM_VALUES}.get(label, label)
        cols.append((label, types.get(label, T.STRING), source))
    return tuple(cols), tuple(key)


def merge_layouts(layouts: Iterable[tuple]) -> tuple[list[str], list[str], list[object]]:
    """Labels, types and sources of the columns of a group whose series have these layouts
    (each ``((label, type, source), ...)``): in order of first appearance, as ``T.group_tables``
    orders them; a label of two types is Flux's schema collision."""
    labels: list[str] = []
    types: list[str] = []
    sources: list[object] = []
    seen: dict[str, int] = {}
    for cols in layouts:
        for label, typ, source in cols:
            j = seen.get(label)
            if j is None:
                seen[label] = len(labels)
                labels.append(label)
                types.append(typ)
                sources.append(source)
            elif types[j] != typ:
                raise FluxError(
                    f'schema collision detected: column "{label}" is both of type '
                    f"{types[j]} and {typ}"
                )
    return labels, types, sources


class _FusedGroup:
    """One output table of a fused ``group``, filled straight from series parts.

    Same result as building each series' table and calling ``T.group_tables``: columns in order
    of first appearance (missing cells null), rows in series order, same type-collision error.
    Parts are only collected here; ``build`` fills each column in one comprehension.
    """

    __slots__ = ("key", "keyvals", "parts")

    def __init__(self, key: tuple, values: tuple) -> None:
        self.key = list(key)
        self.keyvals = dict(zip(key, values, strict=True))
        self.parts: list[tuple[tuple, dict, list, list]] = []

    def build(self) -> T.Table:
        parts = self.parts
        labels, types, sources = merge_layouts(dict.fromkeys(part[0] for part in parts))
        single = all(len(times) == 1 for _, _, times, _ in parts)
        data: list[list] = []
        for source in sources:
            if source is _FROM_TIMES:
                column = [t for _, _, times, _ in parts for t in times]
            elif source is _FROM_VALUES:
                column = [v for _, _, _, values in parts for v in values]
            elif single:
                # A key column: the record lacks it exactly when the series' layout does (keep
                # and drop remove the same labels from every layout), so missing reads as null.
                column = [record.get(source) for _, record, _, _ in parts]
            else:
                first = parts[0][1].get(source)
                if all(record.get(source) == first for _, record, _, _ in parts):
                    # One value for the whole group (one device's series of a field, say): a
                    # repeated tuple, as series tables hold their key columns, not a cell loop.
                    column = (first,) * sum(len(times) for _, _, times, _ in parts)
                else:
                    column = [
                        cell
                        for _, record, times, _ in parts
                        for cell in repeat(record.get(source), len(times))
                    ]
            data.append(column)
        return T.Table(labels, types, self.key, self.keyvals, data)


def _key_values(key: tuple) -> Callable[[dict], tuple]:
    """A function of a record returning the values of the ``key`` columns as a tuple."""
    if not key:
        return lambda record: ()
    if len(key) == 1:
        only = key[0]
        return lambda record: (record[only],)
    return operator.itemgetter(*key)


def group_parts(parts: list, project: tuple, columns: tuple, mode: str) -> list[T.Table] | None:
    """``group`` straight from series parts; None if the generic path must do it."""
    groups: dict[tuple, _FusedGroup] = {}
    layouts: dict[tuple, tuple] = {}  # this call's layouts: cheaper to find than the lru cache
    for record, vtype, times, values in parts:
        record_keys = tuple(record)
        found = layouts.get((record_keys, vtype))
        if found is None:
            layout = _group_layout(record_keys, vtype, project, columns, mode)
            if layout is None:
                return None
            cols, key = layout
            found = layouts[(record_keys, vtype)] = (cols, key, _key_values(key))
        cols, key, key_values = found
        values_key = key_values(record)
        group = groups.get((key, values_key))
        if group is None:
            group = groups[(key, values_key)] = _FusedGroup(key, values_key)
        group.parts.append((cols, record, times, values))
    out = [group.build() for group in groups.values()]
    out.sort(key=T.group_key_order)
    return out


@lru_cache(maxsize=1024)
def _layout(record_keys: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Tag columns (``_field``, ``_measurement`` and tags, sorted bytewise) and the group key."""
    tag_labels = tuple(sorted(k for k in record_keys if k not in ("_start", "_stop")))
    return tag_labels, ("_start", "_stop", *tag_labels)


def series_table(record: dict, vtype: str, times: list, values: list) -> T.Table:
    """The table of one series. Columns are sequences, never changed in place: the times and
    values as storage sliced them, and each key column a tuple of its one value (a tuple of
    strings and times is untracked by the garbage collector once seen, a list never is)."""
    tag_labels, key = _layout(tuple(record))
    n = len(times)
    labels = ["_start", "_stop", "_time", "_value", *tag_labels]
    types = [T.TIME, T.TIME, T.TIME, vtype] + [T.STRING] * len(tag_labels)
    data = [(record["_start"],) * n, (record["_stop"],) * n, times, values]
    data.extend((record[k],) * n for k in tag_labels)
    return T.Table(labels, types, list(key), {k: record[k] for k in key}, data)
