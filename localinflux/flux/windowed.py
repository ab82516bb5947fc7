"""Windowed aggregation (``aggregateWindow``) over one column-major table."""

from __future__ import annotations

import operator
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from itertools import compress, count, islice, repeat
from operator import add, ne, sub, truediv

from .errors import FluxError
from .tables import DOUBLE, LONG, TIME, ULONG, Table

# -- windowed aggregation ------------------------------------------------------------------------
SELECTORS = ("first", "last", "min", "max")
AGGREGATES = ("count", "sum", "mean")
_MAX_WINDOWS = 5_000_000


def _windows(start: int, stop: int, every: int, period: int, offset: int) -> Iterable[tuple]:
    """Epoch-aligned windows ``[k*every+offset, +period)`` overlapping ``[start, stop)``."""
    k = (start - offset - period) // every + 1
    k_last = -((-(stop - offset)) // every) - 1
    if k_last - k > _MAX_WINDOWS:
        raise FluxError("aggregateWindow: too many windows; use a larger every or a shorter range")
    while k <= k_last:
        ws = k * every + offset
        yield max(ws, start), min(ws + period, stop)
        k += 1


def aggregate_window(
    table: Table,
    *,
    every: int,
    period: int,
    offset: int,
    fn: str,
    column: str,
    time_src: str,
    time_dst: str,
    create_empty: bool,
    pushed: bool,
) -> Table | None:
    """``aggregateWindow`` over one table; None when the result has no rows (table dropped)."""

    if "_start" not in table.keyvals or "_stop" not in table.keyvals:
        raise FluxError("aggregateWindow: missing _start/_stop columns; bound the query with range")
    start, stop = int(table.keyvals["_start"]), int(table.keyvals["_stop"])
    ti, vi = table.index("_time"), table.index(column)
    if ti < 0 or vi < 0:
        raise FluxError(f'aggregateWindow: missing column "{"_time" if ti < 0 else column}"')
    times, values = table.data[ti], table.data[vi]
    has_null = type(values) is not array and None in values  # storage's arrays hold no nulls
    # A whole-series read hands over storage's time arrays, ascending (the store keeps them
    # so); anything else is checked.
    checked = pushed and type(times) is array
    times, values = _as_list(times), _as_list(values)
    if not checked and not all(map(operator.le, times, islice(times, 1, None))):
        order = sorted(range(len(times)), key=times.__getitem__)
        table = table.take_rows(order)
        times, values = table.data[ti], table.data[vi]
    vtype = table.types[vi]
    if fn in AGGREGATES and fn != "count" and vtype not in (LONG, ULONG, DOUBLE):
        raise FluxError(f"aggregateWindow: {fn} does not support {vtype} values")

    if create_empty or period != every:
        windows: Iterable[tuple] = _windows(start, stop, every, period, offset)
    else:
        windows = _occupied_windows(times, start, stop, every, offset)

    out_times: list[int] = []
    picks: list[int] = []  # selectors: chosen row index
    out_values: list = []  # aggregates: computed value
    is_selector = fn in SELECTORS
    src_is_start = time_src == "_start"
    n = len(times)
    lo = 0
    if (
        not is_selector
        and not create_empty
        and period == every
        and not has_null
        and n
        and start <= times[0]
        and times[-1] < stop
    ):
        # Points sorted and inside the bounds: each window's rows are one run of equal window
        # numbers, found in one pass instead of searched for window by window.
        windows = ()
        out_times, out_values = _window_runs(
            times, values, start, stop, every, offset, fn, src_is_start
        )
    for ws, we in windows:
        lo = bisect_left(times, ws, 0 if period != every else lo, n)
        hi = bisect_left(times, we, lo, n)
        wtime = ws if src_is_start else we
        if is_selector:
            pick = _select(values, lo, hi, fn, has_null)
            # An empty window yields no row, unless createEmpty asks for a null row (Flux
            # fills empty window tables, table.fill(), before restoring the time column).
            if pick is not None or create_empty:
                picks.append(pick)
                out_times.append(wtime)
            continue
        if hi == lo and not create_empty:
            continue
        chunk = values[lo:hi]
        if has_null:
            chunk = [v for v in chunk if v is not None]
        if fn == "count":
            out_values.append(len(chunk))
        elif not chunk:
            out_values.append(None)
        elif fn == "sum":
            out_values.append(sum(chunk))
        else:
            out_values.append(sum(chunk) / len(chunk))
        out_times.append(wtime)
    if not out_times:
        return None

    if is_selector:
        if None in picks:
            data = [
                [table.keyvals.get(label) if p is None else col[p] for p in picks]
                for label, col in zip(table.labels, table.data, strict=True)
            ]
            result = Table(
                list(table.labels), list(table.types), list(table.key), dict(table.keyvals), data
            )
        else:
            result = table.take_rows(picks)
        di = result.index(time_dst)
        if di < 0:
            result.labels.append(time_dst)
            result.types.append(TIME)
            result.data.append(out_times)
        else:
            result.data[di] = out_times
            result.types[di] = TIME
        return result

    rtype = LONG if fn == "count" else (DOUBLE if fn == "mean" else vtype)
    m = len(out_times)
    labels: list[str] = []
    types: list[str] = []
    data: list[list] = []
    # Pushed-down windows keep storage's column order; the Flux-level path (aggregate, then
    # duplicate the window bound) gives key columns, the value, then the time column.
    order = range(len(table.labels)) if pushed else [table.index(k) for k in table.key]
    for j in order:
        label = table.labels[j]
        if label in table.keyvals and label not in (time_dst, column):
            labels.append(label)
            types.append(table.types[j])
            data.append([table.keyvals[label]] * m)
        elif pushed and j == ti:
            labels.append(time_dst)
            types.append(TIME)
            data.append(out_times)
        elif pushed and j == vi:
            labels.append(column)
            types.append(rtype)
            data.append(out_values)
    if not pushed:
        labels.append(column)
        types.append(rtype)
        data.append(out_values)
    if time_dst not in labels:
        labels.append(time_dst)
        types.append(TIME)
        data.append(out_times)
    key = [k for k in table.key if k != time_dst]
    return Table(labels, types, key, {k: table.keyvals[k] for k in key}, data)


def _as_list(column: Sequence) -> Sequence:
    """Storage's columns are arrays: every index or comparison boxes a number; a list once."""
    return column.tolist() if type(column) is array else column


def _window_runs(
    times: Sequence[int],
    values: Sequence,
    start: int,
    stop: int,
    every: int,
    offset: int,
    fn: str,
    src_is_start: bool,
) -> tuple[list[int], list]:
    """count/sum/mean per occupied window of sorted, non-null points within [start, stop)."""
    n = len(times)
    first_k = (times[0] - offset) // every
    last_k = (times[-1] - offset) // every
    step = times[1] - times[0] if n > 1 else 0
    if (
        step > 0
        and every % step == 0
        and times[-1] - times[0] == step * (n - 1)
        and times == list(range(times[0], times[-1] + 1, step))
    ):
        # A regular series (a point every ``step``, ``every`` a multiple of it): every window
        # after the first ends ``every / step`` points after the one before, the last at n.
        first_end = bisect_left(times, (first_k + 1) * every + offset)
        ends = [*range(first_end, n, every // step), n]
        starts = [0, *islice(ends, 0, len(ends) - 1)]
        stops = range((first_k + 1) * every + offset, (last_k + 2) * every + offset, every)
        out_times = list(stops) if not src_is_start else list(map(sub, stops, repeat(every)))
    elif last_k - first_k <= 2 * n:
        # Not many more windows than points: where each window ends is a C-level bisection
        # per window boundary, with no window number computed per point.
        stops = range((first_k + 1) * every + offset, (last_k + 2) * every + offset, every)
        ends = list(map(bisect_left, repeat(times), stops))
        starts = [0, *islice(ends, 0, len(ends) - 1)]
        occupied = list(map(ne, starts, ends))
        if not all(occupied):
            ends = list(compress(ends, occupied))
            starts = list(compress(starts, occupied))
            stops = compress(stops, occupied)
        out_times = list(stops) if not src_is_start else list(map(sub, stops, repeat(every)))
    else:
        numbers = [(t - offset) // every for t in times]
        changed = map(ne, numbers, islice(numbers, 1, None))
        starts = [0, *compress(count(1), changed)]
        ends = [*islice(starts, 1, None), n]
        shift = offset if src_is_start else offset + every
        out_times = [numbers[lo] * every + shift for lo in starts]
    # Windows ascend: only the first can begin before the range, only the last end after it.
    if src_is_start:
        out_times[0] = max(out_times[0], start)
    else:
        out_times[-1] = min(out_times[-1], stop)
    if fn == "count":
        return out_times, list(map(sub, ends, starts))
    sums = _run_sums(values, starts, ends)
    if fn == "sum":
        return out_times, sums
    return out_times, list(map(truediv, sums, map(sub, ends, starts)))


_STRIDED_MAX = 8  # windows of up to this many points are summed by strided passes


def _run_sums(values: Sequence, starts: list[int], ends: list[int]) -> list:
    """``sum(values[lo:hi])`` per run, exactly (same additions in the same order).

    Regular series put the same number of points in every window but the first and the last:
    those middle windows are summed with one C-level pass per position in the window
    (``0 + a + b + ...``: the plain double additions of Python 3.11's ``sum`` and of Flux)
    instead of one slice and call per window.
    """
    m = len(starts)
    if m > 3:
        size = ends[1] - starts[1]
        first, last = starts[1], ends[-2]
        if (
            size <= _STRIDED_MAX
            and last - first == size * (m - 2)
            and ends[1:-1] == list(range(first + size, last + 1, size))
        ):
            middle = list(map(add, repeat(0), values[first:last:size]))
            for i in range(1, size):
                middle = list(map(add, middle, values[first + i : last : size]))
            return [sum(values[starts[0] : ends[0]]), *middle, sum(values[starts[-1] : ends[-1]])]
    return [sum(values[lo:hi]) for lo, hi in zip(starts, ends, strict=True)]


def _occupied_windows(
    times: Sequence[int], start: int, stop: int, every: int, offset: int
) -> Iterable[tuple]:
    """Only the windows that hold points (``createEmpty: false``), found by jumping over gaps."""
    i, n = 0, len(times)
    while i < n:
        t = times[i]
        ws = (t - offset) // every * every + offset
        we = ws + every
        yield max(ws, start), min(we, stop)
        i = bisect_left(times, we, i, n)


def _select(values: list, lo: int, hi: int, fn: str, has_null: bool) -> int | None:
    if hi <= lo:
        return None
    if has_null:
        idx = [i for i in range(lo, hi) if values[i] is not None]
        if not idx:
            return None
    else:
        idx = range(lo, hi)
    if fn == "first":
        return idx[0]
    if fn == "last":
        return idx[-1]
    if fn == "min":
        return min(idx, key=values.__getitem__)
    return max(idx, key=values.__getitem__)
