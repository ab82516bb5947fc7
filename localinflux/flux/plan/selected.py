"""``first()``/``last()`` then ``group()`` fused into a read, filled column by column.

``from |> range |> filter |> last() |> filter |> keep |> group()`` (the registry's list of ids)
selects one point per series of up to hundreds of thousands of series and puts them in a few
tables. ``fused.group_parts`` would build a key record, a part and two one-item lists per
series; here each selected point goes straight into its group's ``_time``/``_value`` columns and
the series into the group's list of keys, and key columns are read from those keys once the
groups are known. Nothing per series outlives the loop, so a large fleet no longer makes the
garbage collector walk the store once per query. The answer is ``group_parts``' answer (same
columns in the same order, same rows, same errors; ``tests/localinflux/test_flux_plan.py``
compares the paths).
"""

from __future__ import annotations

from collections.abc import Callable

from .. import tables as T
from ..values import Time
from .fused import _FROM_TIMES, _FROM_VALUES, FIELD_TYPES, _group_layout, merge_layouts

_KEY_COLUMNS = ("_measurement", "_field", "_start", "_stop")


def applies(source: object) -> bool:
    """Whether ``grouped`` answers ``source``: a selector and a ``group`` fused, every filter
    after the selector known to read only some columns, and a new group key without
    ``_time``/``_value`` (which columns end up in the key does not depend on the series)."""
    if source.select not in ("first", "last") or source.regroup is None:
        return False
    if any(cols is None for _, cols in source.post_preds):
        return False
    columns, mode = source.regroup
    return _group_layout((), T.STRING, source.project, columns, mode) is not None


def column_getter(col: str, start: Time, stop: Time) -> Callable:
    """The value of a key-record column of a series key (None for a tag it lacks)."""
    if col == "_measurement":
        return lambda key: key.measurement
    if col == "_field":
        return lambda key: key.field
    if col in ("_start", "_stop"):
        value = start if col == "_start" else stop
        return lambda key: value

    def tag(key: object) -> object:
        for k, v in key.tags:
            if k == col:
                return v
        return None

    return tag


class _Group:
    __slots__ = ("key", "keys", "keyvals", "last_layout", "layouts", "times", "values")

    def __init__(self, key: tuple, values: tuple) -> None:
        self.key = list(key)
        self.keyvals = dict(zip(key, values, strict=True))
        self.layouts: dict[tuple, None] = {}  # distinct column layouts, first seen first
        self.last_layout: tuple | None = None
        self.times: list[int] = []
        self.values: list = []
        self.keys: list = []  # each selected series' key, in series order

    def build(self, getter: Callable[[str], Callable]) -> T.Table:
        labels, types, sources = merge_layouts(self.layouts)
        data: list = []
        for source in sources:
            if source is _FROM_TIMES:
                data.append(self.times)
            elif source is _FROM_VALUES:
                data.append(self.values)
            else:
                get = getter(source)
                data.append([get(key) for key in self.keys])
        return T.Table(labels, types, self.key, self.keyvals, data)


def grouped(source: object) -> list[T.Table]:
    """The tables of ``source`` (for which ``applies`` is true)."""
    start_ns, stop_ns = source.start, source.stop
    start, stop = Time(start_ns), Time(stop_ns)
    getters: dict[str, Callable] = {}

    def getter(col: str) -> Callable:
        found = getters.get(col)
        if found is None:
            found = getters[col] = column_getter(col, start, stop)
        return found

    refs = source.matching_series(records=False)
    source.interp.ctx.series_read += len(refs)
    project = source.project
    columns, mode = source.regroup
    post = [(pred, [(c, getter(c)) for c in cols]) for pred, cols in source.post_preds]
    row: dict = {}  # one record for the filters after the selector, refilled per series
    times, values = selected_points(
        source.interp.ctx.reader, refs, start_ns, stop_ns, source.select
    )
    value_only = None  # the one filter after the selector, if it reads only _value
    if len(post) == 1 and [c for c, _ in post[0][1]] == ["_value"]:
        value_only = post[0][0]
    layouts: dict[tuple, tuple] = {}
    groups: dict[tuple, _Group] = {}
    prev_names = prev_ftype = found = None
    for ref, t, v in zip(refs, times, values, strict=True):
        if t is None:
            continue
        key = ref.key
        if value_only is not None:
            row["_value"] = v
            if value_only(row) is not True:
                continue
        elif post and not _passes(post, row, key, t, v):
            continue
        tags = key.tags
        names = tags[0][0] if len(tags) == 1 else tuple([k for k, _ in tags])
        ftype = ref.ftype
        if names != prev_names or ftype != prev_ftype or found is None:
            prev_names, prev_ftype = names, ftype
            found = layouts.get((names, ftype))
            if found is None:
                found = layouts[(names, ftype)] = _layout_of(
                    names, ftype, project, columns, mode, getter, groups
                )
        cols, gkey, parts, group = found
        if group is None:
            values_key = tuple([get(key) for get in parts])
            group = groups.get((gkey, values_key))
            if group is None:
                group = groups[(gkey, values_key)] = _Group(gkey, values_key)
        if group.last_layout is not cols:
            group.last_layout = cols
            group.layouts[cols] = None
        group.times.append(t)
        group.values.append(v)
        group.keys.append(key)
    out = [group.build(getter) for group in groups.values()]
    out.sort(key=T.group_key_order)
    return out


def _layout_of(
    names: object, ftype: str, project: tuple, columns: tuple, mode: str, getter, groups: dict
) -> tuple:
    """(columns, new group key, key getters, the group if the key is empty) of series with
    these tag names and field type."""
    if type(names) is str:
        names = (names,)
    # The record's columns as ``read.key_record`` orders them (the layout cache key).
    record_keys = tuple(dict.fromkeys((*names, *_KEY_COLUMNS)))
    cols, gkey = _group_layout(record_keys, FIELD_TYPES[ftype], project, columns, mode)
    parts = [getter(c) for c in gkey]
    only = None
    if not parts:  # group(): every series of this layout goes to the one group
        only = groups.get((gkey, ()))
        if only is None:
            only = groups[(gkey, ())] = _Group(gkey, ())
    return cols, gkey, parts, only


def _passes(post: list, row: dict, key: object, t: int, v: object) -> bool:
    for pred, cols in post:
        for c, get in cols:
            row[c] = v if c == "_value" else Time(t) if c == "_time" else get(key)
        if pred(row) is not True:
            return False
    return True


def selected_points(
    reader: object, refs: list, start_ns: int, stop_ns: int, which: str
) -> tuple[list, list]:
    """Times and values of the ``first``/``last`` point of each series in ``[start_ns,
    stop_ns)`` (time None if none), from the reader's ``selected_points`` if it has one (one
    lock for all series, no pair per series)."""
    bulk = getattr(reader, "selected_points", None)
    if bulk is not None:
        return bulk(refs, start_ns, stop_ns, which == "last")
    times, values = [], []
    for ref in refs:
        point = ref.last(start_ns, stop_ns) if which == "last" else ref.first(start_ns, stop_ns)
        times.append(None if point is None else point[0])
        values.append(None if point is None else point[1])
    return times, values
