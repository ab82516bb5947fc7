"""``count()`` fused into a read: one row per series straight from storage's point counts.

``from |> range |> filter |> count()`` (the overview's points of the last hour) used to build
each series' table, then its count table, then a ``keep`` copy and ``group`` copy of that. Here
each series' count goes into its output table directly (``keep``/``drop`` and ``group`` after
the count fused as well), so a query over thousands of series builds a few tables, not several
per series. The answer is the table-by-table answer: Flux's pushed-down count (storage's column
order minus ``_time``, ``_value`` a long, series without points in the range give no table),
then ``keep``/``drop`` and ``group`` as ``tables`` does them
(``tests/localinflux/test_flux_counted.py`` compares the paths).
"""

from __future__ import annotations

from .. import tables as T
from .fused import _layout, project_labels

_TYPES = {"_start": T.TIME, "_stop": T.TIME, "_value": T.LONG}


def count_table(record: dict, n: int) -> T.Table:
    """The count table of one series (``record`` its key record, ``n`` its points)."""
    tag_labels, key = _layout(tuple(record))
    labels = ["_start", "_stop", "_value", *tag_labels]
    types = [T.TIME, T.TIME, T.LONG] + [T.STRING] * len(tag_labels)
    data = [(record["_start"],), (record["_stop"],), (n,)]
    data.extend((record[k],) for k in tag_labels)
    return T.Table(labels, types, list(key), {k: record[k] for k in key}, data)


def counted(source: object) -> list[T.Table]:
    """The tables of ``source``, a read with ``select == "count"``."""
    parts = [(record, len(times)) for record, _, times, _ in source._parts()]
    project = source.project
    if source.regroup is not None:
        grouped = _grouped(parts, project, *source.regroup)
        if grouped is not None:
            return grouped
    tables = [count_table(record, n) for record, n in parts]
    if project:
        tables = [T.select_columns(t, project_labels(t.labels, project)) for t in tables]
    if source.regroup is not None:
        columns, mode = source.regroup
        tables = T.group_tables(tables, list(columns), mode)
    return tables


def _grouped(parts: list, project: tuple, columns: tuple, mode: str) -> list[T.Table] | None:
    """``group`` of the count rows without a table per series; None if the new key holds
    ``_value`` (rows then split by value: ``group_tables`` does it)."""
    layouts: dict[tuple, tuple] = {}
    groups: dict[tuple, tuple] = {}  # (key, values) -> (key, values, layouts, parts)
    for record, n in parts:
        record_keys = tuple(record)
        found = layouts.get(record_keys)
        if found is None:
            tag_labels, _ = _layout(record_keys)
            labels = tuple(project_labels(["_start", "_stop", "_value", *tag_labels], project))
            if mode == "by":
                key = tuple(sorted(c for c in set(columns) if c in labels))
            else:
                excluded = set(columns)
                key = tuple(c for c in labels if c not in excluded)
            if "_value" in key:
                return None
            found = layouts[record_keys] = (labels, key)
        labels, key = found
        values = tuple([record[c] for c in key])
        group = groups.get((key, values))
        if group is None:
            group = groups[(key, values)] = (key, values, {}, [])
        group[2][labels] = None
        group[3].append((record, n))
    out = [_build(*group) for group in groups.values()]
    out.sort(key=T.group_key_order)
    return out


def _build(key: tuple, values: tuple, layouts: dict, parts: list) -> T.Table:
    labels = list(dict.fromkeys(label for cols in layouts for label in cols))
    types = [_TYPES.get(label, T.STRING) for label in labels]
    data = []
    for label in labels:
        if label == "_value":
            data.append([n for _, n in parts])
        else:
            data.append([record.get(label) for record, _ in parts])
    return T.Table(labels, types, list(key), dict(zip(key, values, strict=True)), data)
