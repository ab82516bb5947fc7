"""Column-major tables and the table transformations that do not need the interpreter."""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from .errors import FluxError

# Flux column types, named as the CSV ``#datatype`` row names them (``time`` → dateTime:RFC3339).
STRING = "string"
LONG = "long"
ULONG = "unsignedLong"
DOUBLE = "double"
BOOL = "boolean"
TIME = "time"


@dataclass
class Table:
    """One Flux table: parallel ``labels``/``types``, ``data`` as one list per column.

    ``key`` lists the group-key labels; ``keyvals`` holds their values, which also defines the
    key of a table with no rows.
    """

    labels: list[str]
    types: list[str]
    key: list[str]
    keyvals: dict[str, object]
    data: list[list] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.data[0]) if self.data else 0

    def index(self, label: str) -> int:
        try:
            return self.labels.index(label)
        except ValueError:
            return -1

    def column(self, label: str) -> list:
        i = self.index(label)
        if i < 0:
            raise FluxError(f'column "{label}" does not exist')
        return self.data[i]

    def key_tuple(self) -> tuple:
        return tuple(self.keyvals.get(label) for label in self.key)

    def rows(self) -> Iterable[tuple]:
        return zip(*self.data, strict=True) if self.data else iter(())

    def take_rows(self, indexes: Sequence[int]) -> Table:
        data = [[col[i] for i in indexes] for col in self.data]
        return Table(list(self.labels), list(self.types), list(self.key), dict(self.keyvals), data)

    def slice_rows(self, start: int, stop: int) -> Table:
        data = [col[start:stop] for col in self.data]
        return Table(list(self.labels), list(self.types), list(self.key), dict(self.keyvals), data)


def sort_key_value(value: object) -> tuple:
    """Orders mixed values like Flux orders group keys: nulls first, then by type, then value."""
    if value is None:
        return (0, "", 0)
    return (1, type(value).__name__ if not isinstance(value, int | float) else "num", value)


def group_key_order(table: Table) -> tuple:
    return tuple((label, sort_key_value(table.keyvals.get(label))) for label in table.key)


# -- column selection --------------------------------------------------------------------------
@lru_cache(maxsize=1024)
def _selection(labels: tuple, types: tuple, key: tuple, keep: frozenset) -> tuple:
    """Which columns survive a keep/drop: computed once per table layout, not per table."""
    idx = tuple(i for i, label in enumerate(labels) if label in keep)
    return (
        idx,
        [labels[i] for i in idx],
        [types[i] for i in idx],
        [label for label in key if label in keep],
    )


def select_columns(table: Table, keep: Sequence[str]) -> Table:
    """A table with only the ``keep`` labels (in table order); key shrinks to match."""
    idx, labels, types, key = _selection(
        tuple(table.labels), tuple(table.types), tuple(table.key), frozenset(keep)
    )
    data = table.data
    return Table(
        list(labels),
        list(types),
        list(key),
        {label: table.keyvals[label] for label in key},
        [data[i] for i in idx] if data else [],
    )


def rename_columns(table: Table, mapping: dict[str, str]) -> Table:
    labels = [mapping.get(label, label) for label in table.labels]
    if len(set(labels)) != len(labels):
        raise FluxError("rename: duplicate column names after rename")
    key = [mapping.get(label, label) for label in table.key]
    keyvals = {mapping.get(k, k): v for k, v in table.keyvals.items()}
    return Table(labels, list(table.types), key, keyvals, table.data)


# -- grouping ----------------------------------------------------------------------------------
def group_tables(tables: list[Table], columns: list[str], mode: str) -> list[Table]:
    """Regroup all rows by ``columns`` (mode "by") or by every other column (mode "except")."""
    groups: dict[tuple, _GroupBuilder] = {}
    for table in tables:
        if mode == "by":
            # Flux sorts the grouping columns, which also orders the output tables.
            key = sorted(c for c in set(columns) if c in table.labels)
        else:
            excluded = set(columns)
            key = [c for c in table.labels if c not in excluded]
        if all(label in table.keyvals for label in key):
            values = tuple(table.keyvals[label] for label in key)
            builder = groups.get((tuple(key), values))
            if builder is None:
                builder = groups[(tuple(key), values)] = _GroupBuilder(key, values)
            builder.add(table, None)
            continue
        idx = [table.index(label) for label in key]
        buckets: dict[tuple, list[int]] = {}
        for row_no, row in enumerate(table.rows()):
            buckets.setdefault(tuple(row[i] for i in idx), []).append(row_no)
        if not buckets and len(table) == 0:
            continue
        for values, rows in buckets.items():
            builder = groups.get((tuple(key), values))
            if builder is None:
                builder = groups[(tuple(key), values)] = _GroupBuilder(key, values)
            builder.add(table, rows)
    out = [b.build() for b in groups.values()]
    out.sort(key=group_key_order)
    return out


class _GroupBuilder:
    def __init__(self, key: list[str], values: tuple) -> None:
        self.key = key
        self.keyvals = dict(zip(key, values, strict=True))
        self.labels: list[str] = []
        self.types: list[str] = []
        self.parts: list[tuple[Table, list[int] | None]] = []

    def add(self, table: Table, rows: list[int] | None) -> None:
        for label, typ in zip(table.labels, table.types, strict=True):
            if label not in self.labels:
                self.labels.append(label)
                self.types.append(typ)
            elif self.types[self.labels.index(label)] != typ:
                raise FluxError(
                    f'schema collision detected: column "{label}" is both of type '
                    f"{self.types[self.labels.index(label)]} and {typ}"
                )
        self.parts.append((table, rows))

    def build(self) -> Table:
        data: list[list] = [[] for _ in self.labels]
        for table, rows in self.parts:
            n = len(table) if rows is None else len(rows)
            for j, label in enumerate(self.labels):
                i = table.index(label)
                if i < 0:
                    data[j].extend([None] * n)
                elif rows is None:
                    data[j].extend(table.data[i])
                else:
                    col = table.data[i]
                    data[j].extend(col[r] for r in rows)
        return Table(self.labels, self.types, list(self.key), self.keyvals, data)


# -- row-order operations ------------------------------------------------------------------------
def sort_table(table: Table, columns: list[str], desc: bool) -> Table:
    idx = [table.index(c) for c in columns if table.index(c) >= 0]
    if not idx or len(table) < 2:
        return table
    cols = [table.data[i] for i in idx]
    if len(cols) == 1 and table.types[idx[0]] in (STRING, LONG, DOUBLE, TIME):
        col = cols[0]
        if None not in col:
            # One column of one type, no nulls: the values themselves order the rows, the
            # same order as ``sort_key_value`` gives, without a key tuple per row.
            return table.take_rows(sorted(range(len(table)), key=col.__getitem__, reverse=desc))

    def row_key(r: int) -> tuple:
        return tuple(sort_key_value(col[r]) for col in cols)

    order = sorted(range(len(table)), key=row_key, reverse=desc)
    return table.take_rows(order)


def limit_table(table: Table, n: int, offset: int) -> Table:
    return table.slice_rows(offset, offset + n)


def selector_index(table: Table, column: str, which: str) -> int | None:
    """Row index chosen by first/last/min/max over the non-null values of ``column``."""
    values = table.column(column)
    if which == "first":
        return next((i for i, v in enumerate(values) if v is not None), None)
    if which == "last":
        return next((i for i in range(len(values) - 1, -1, -1) if values[i] is not None), None)
    if values and (type(values) is array or None not in values):
        return extreme_index(values, which)
    best = None
    for i, v in enumerate(values):
        if v is None:
            continue
        if best is None or (v < values[best] if which == "min" else v > values[best]):
            best = i
    return best


def extreme_index(values: Sequence, which: str) -> int:
    """The row ``min``/``max`` picks in a non-empty column without nulls: the first best value,
    as the loop in ``selector_index`` finds it.

    The builtin finds the best value in C, comparing the items in the same order the loop
    does, and ``index`` its first row: no earlier value can equal it (it would have been kept
    instead). A NaN first makes every comparison false, so the loop keeps row 0, and
    ``index`` cannot find a NaN by equality: that case takes the builtin with a key.
    """
    best = min(values) if which == "min" else max(values)
    if best == best:
        return values.index(best)
    pick = min if which == "min" else max
    return pick(range(len(values)), key=values.__getitem__)


def aggregate_values(fn: str, values: list, typ: str) -> tuple[object, str]:
    """``count``/``sum``/``mean`` over a column's values; returns (value, result type)."""
    if None in values:
        values = [v for v in values if v is not None]
    if fn == "count":
        return len(values), LONG
    if typ not in (LONG, ULONG, DOUBLE):
        raise FluxError(f"{fn}: unsupported aggregate column type {typ}")
    if fn == "sum":
        if not values:
            return None, typ
        return sum(values), typ
    if not values:
        return None, DOUBLE
    return sum(values) / len(values), DOUBLE


def aggregate_table(table: Table, fn: str, column: str, pushed: bool) -> Table:
    i = table.index(column)
    if i < 0:
        raise FluxError(f'{fn}: column "{column}" does not exist')
    value, typ = aggregate_values(fn, table.data[i], table.types[i])
    if pushed:
        # Storage answers pushed-down aggregates in its own column order, minus _time.
        idx = [j for j, label in enumerate(table.labels) if label in table.keyvals or j == i]
    else:
        # Flux's aggregates add the group-key columns (in key order), then the value column.
        idx = [table.index(label) for label in table.key if label != column]
        idx.append(i)
    labels = [table.labels[j] for j in idx]
    types = [typ if j == i else table.types[j] for j in idx]
    data = [[value] if j == i else [table.keyvals[table.labels[j]]] for j in idx]
    return Table(labels, types, list(table.key), dict(table.keyvals), data)


def distinct_table(table: Table, column: str) -> Table:
    """Flux's ``distinct``: group-key columns (key order), then the distinct values as _value."""
    i = table.index(column)
    if i < 0:
        # Flux answers a missing column with one empty-string value rather than an error.
        values: list = [""]
        vtype = STRING
    elif column in table.keyvals:
        values = [table.keyvals[column]]
        vtype = table.types[i]
    elif table.types[i] == STRING:
        # Strings and nulls only: no 1 == 1.0 == True to keep apart, so the values themselves
        # are the keys (no pair per row for the collector to follow).
        values = list(dict.fromkeys(table.data[i]))
        vtype = STRING
    else:
        seen: dict = {}
        for v in table.data[i]:
            seen.setdefault((type(v), v), v)
        values = list(seen.values())
        vtype = table.types[i]
    key = [k for k in table.key if k != "_value"]
    labels = [*key, "_value"]
    types = [table.types[table.index(k)] for k in key] + [vtype]
    n = len(values)
    data = [[table.keyvals[k]] * n for k in key] + [values]
    return Table(labels, types, key, {k: table.keyvals[k] for k in key}, data)


def pivot_tables(
    tables: list[Table], row_key: list[str], column_key: list[str], value_column: str
) -> list[Table]:
    """Flux 2.7's unsorted pivot: rows in order of first appearance, new columns likewise."""
    removed = set(column_key) | {value_column}
    groups: dict[tuple, list[Table]] = {}
    for table in tables:
        key = [k for k in table.key if k not in removed]
        groups.setdefault((tuple(key), tuple(table.keyvals[k] for k in key)), []).append(table)
    out = []
    for (key, values), members in groups.items():
        first = members[0]
        keyset = set(key)
        kept = [
            (label, typ)
            for label, typ in zip(first.labels, first.types, strict=True)
            if label not in removed and (label in keyset or label in row_key)
        ]
        for label in row_key:
            if all(label != k for k, _ in kept):
                raise FluxError(f'pivot: missing row key column "{label}"')
        rows = _PivotRows(len(kept))
        for table in members:
            vi = table.index(value_column)
            if vi < 0:
                raise FluxError(f'pivot: missing value column "{value_column}"')
            ri = [table.index(label) for label in row_key]
            ci = [table.index(label) for label in column_key]
            if any(i < 0 for i in ri + ci):
                raise FluxError("pivot: missing row or column key column")
            ki = [table.index(label) for label, _ in kept]
            vtype = table.types[vi]
            if len(table) and all(label in table.keyvals for label in column_key):
                # The new column's name is a group-key value: the same for every row of the
                # table, so it is made once (the common case: pivoting on _field or a tag).
                name = "_".join(str(table.data[i][0]) for i in ci)
                rows.add_column(table, name, vtype, vi, ri, ki)
                continue
            for row in table.rows():
                name = "_".join(str(row[i]) for i in ci)
                rows.set(name, vtype, tuple(row[i] for i in ri), row[vi], [row[i] for i in ki])
        labels = [label for label, _ in kept]
        data = rows.data(labels)
        types = [typ for _, typ in kept] + list(rows.new_types.values())
        labels += rows.new_types
        out.append(Table(labels, types, list(key), dict(zip(key, values, strict=True)), data))
    return out


_UNSET = object()  # a pivoted cell no row set (null in the result)


class _PivotRows:
    """The rows of one pivoted table, column by column: row keys in order of first appearance,
    the kept columns' cells from the row's first source row, one list per new column."""

    def __init__(self, kept: int) -> None:
        self.index: dict[tuple, int] = {}  # row key -> row number
        self.keys: list[tuple] = []
        # While the rows are exactly the first table's and it had one row-key column: that
        # column's values (other tables with the same values add their column as it is).
        self.key_values: list | None = None
        self.kept: list[list] = [[] for _ in range(kept)]
        self.new_types: dict[str, str] = {}
        self.new: dict[str, list] = {}
        self.padded: set[str] = set()  # new columns holding _UNSET cells

    def _pad(self, name: str, column: list, n: int) -> None:
        if len(column) < n:
            column.extend([_UNSET] * (n - len(column)))
            self.padded.add(name)

    def _column(self, name: str, vtype: str) -> list:
        known = self.new_types.get(name)
        if known is None:
            self.new_types[name] = vtype
            column = self.new[name] = []
            return column
        if known != vtype:
            raise FluxError(f'pivot: column "{name}" has conflicting types')
        return self.new[name]

    def set(self, name: str, vtype: str, rk: tuple, value: object, kept: list) -> None:
        column = self._column(name, vtype)
        j = self.index.get(rk)
        if j is None:
            j = self.index[rk] = len(self.keys)
            self.keys.append(rk)
            self.key_values = None
            for cells, cell in zip(self.kept, kept, strict=True):
                cells.append(cell)
        self._pad(name, column, j + 1)
        column[j] = value

    def add_column(self, table: Table, name: str, vtype: str, vi: int, ri: list, ki: list) -> None:
        """Every row of ``table`` into column ``name`` (the table's column key is constant)."""
        column = self._column(name, vtype)
        values = table.data[vi]
        if len(ri) == 1:
            key_values = self.key_values
            if key_values is not None and not column and list(table.data[ri[0]]) == key_values:
                column.extend(values)  # the same rows as the first table: no key tuples
                return
            row_keys = list(zip(table.data[ri[0]]))
        else:
            row_keys = list(zip(*(table.data[i] for i in ri), strict=True))
        if row_keys == self.keys and not column:
            # The same rows as the tables before, in the same order (series sharing their
            # times): the values are the column.
            column.extend(values)
            return
        if not self.keys:
            index = dict(zip(row_keys, range(len(row_keys)), strict=True))
            if len(index) == len(row_keys):  # the first table, each row key once
                self.index, self.keys = index, row_keys
                if len(ri) == 1:
                    self.key_values = list(table.data[ri[0]])
                for cells, i in zip(self.kept, ki, strict=True):
                    cells.extend(table.data[i])
                column.extend(values)
                return
        index = self.index
        fresh = [j for j, rk in enumerate(row_keys) if rk not in index]
        for j in fresh:
            rk = row_keys[j]
            if rk not in index:  # a row key twice in the table: its first row makes the row
                index[rk] = len(self.keys)
                self.keys.append(rk)
                self.key_values = None
                for cells, i in zip(self.kept, ki, strict=True):
                    cells.append(table.data[i][j])
        self._pad(name, column, len(self.keys))
        for rk, value in zip(row_keys, values, strict=True):
            column[index[rk]] = value

    def data(self, kept_labels: list[str]) -> list[list]:
        """The columns: kept ones, then new ones (unset cells null). A new column named like a
        kept one overwrites that one's cells where it has a value (the row's last write)."""
        n = len(self.keys)
        for name, column in self.new.items():
            self._pad(name, column, n)
        for name in self.padded:
            column = self.new[name]
            if name in kept_labels:
                p = kept_labels.index(name)
                cells = zip(self.kept[p], column, strict=True)
                merged = self.kept[p] = [k if v is _UNSET else v for k, v in cells]
                self.new[name] = list(merged)
            else:
                self.new[name] = [None if v is _UNSET else v for v in column]
        for name in self.new.keys() & set(kept_labels) - self.padded:
            self.kept[kept_labels.index(name)] = list(self.new[name])
        return [*self.kept, *self.new.values()]
