"""Annotated CSV as InfluxDB 2.7 writes query results (Flux's csv result encoder)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import chain, repeat

from localinflux.timefmt import NS_PER_S, format_rfc3339

from . import tables as T
from .errors import FluxError
from .values import format_float

ANNOTATIONS = ("datatype", "group", "default")
DATATYPES = {
    T.STRING: "string",
    T.LONG: "long",
    T.ULONG: "unsignedLong",
    T.DOUBLE: "double",
    T.BOOL: "boolean",
    T.TIME: "dateTime:RFC3339",
}


@dataclass
class Dialect:
    header: bool = True
    delimiter: str = ","
    annotations: list[str] = field(default_factory=list)


def _format_double(v: object) -> str:
    return format_float(float(v))  # type: ignore[arg-type]


def _format_doubles(col) -> list[str]:
    """``_format_double`` over a column: Python's shortest repr is Go's digits whenever it has
    no exponent and is finite (the common case); the rest goes through ``format_float``.

    A column of floats only is formatted in C-level passes: ``repr`` of each, one joined text
    in which the ``.0`` of whole numbers is cut, split again. A column that repeats values
    (counts, a constant) formats each distinct value once (equal numbers print alike).
    """
    distinct = dict.fromkeys(col)
    if col and len(distinct) * 2 <= len(col):
        keys = list(distinct)
        return list(map(dict(zip(keys, _format_doubles(keys), strict=True)).__getitem__, col))
    try:
        texts = list(map(float.__repr__, col))  # TypeError at a null (or a non-float)
    except TypeError:
        return _format_doubles_one_by_one(col)
    if not texts:
        return texts
    text = "\n".join(texts)
    if "e" in text or "n" in text:  # an exponent, nan, inf
        return _format_doubles_one_by_one(col)
    text = (text + "\n").replace(".0\n", "\n")
    if "-0\n" in text:
        text = _NEGATIVE_ZERO.sub("0", text)
    return text[:-1].split("\n")


_NEGATIVE_ZERO = re.compile(r"^-0$", re.MULTILINE)


def _format_doubles_one_by_one(col) -> list[str]:
    out = []
    append = out.append
    for v in col:
        if v is None:
            append("")
            continue
        text = repr(float(v))
        if text[-2:] == ".0":
            text = text[:-2]
            append("0" if text == "-0" else text)
        elif "e" in text or text[-1] in "nf":  # an exponent, nan, inf
            append(format_float(float(v)))
        else:
            append(text)
    return out


def _format_bool(v: object) -> str:
    return "true" if v else "false"


_FORMATTERS: dict[str, Callable[[object], str]] = {
    T.STRING: str,
    T.LONG: str,
    T.ULONG: str,
    T.DOUBLE: _format_double,
    T.BOOL: _format_bool,
    T.TIME: format_rfc3339,  # type: ignore[dict-item]
}


def _format_times(values: list) -> list[str]:
    """``format_rfc3339`` over a column, formatting each distinct second once.

    Timestamps in one column mostly share their date and often their second, and the calendar
    arithmetic is most of the cost of a cell: a second is its day's text (computed once per
    day) and two table lookups (hour and minute, second).
    """
    seconds: dict[int, str] = {}
    days: dict[int, str] = {}
    minutes, secs_text = _MINUTES, _SECONDS
    out = []
    append = out.append
    for v in values:
        if v is None:
            append("")
            continue
        secs, frac = divmod(int(v), NS_PER_S)
        head = seconds.get(secs)
        if head is None:
            day, rem = divmod(secs, 86400)
            day_text = days.get(day)
            if day_text is None:
                day_text = days[day] = format_rfc3339(day * 86400 * NS_PER_S)[:10] + "T"
            minute, second = divmod(rem, 60)
            head = seconds[secs] = day_text + minutes[minute] + secs_text[second]
        if frac:
            append(head + "." + f"{frac:09d}".rstrip("0") + "Z")
        else:
            append(head + "Z")
    return out


# "HH:MM:" of each minute of a day, "SS" of each second of a minute.
_MINUTES = [f"{m // 60:02d}:{m % 60:02d}:" for m in range(1440)]
_SECONDS = [f"{s:02d}" for s in range(60)]


def format_cell(value: object, typ: str) -> str:
    if value is None:
        return ""
    return _FORMATTERS[typ](value)


class CsvWriter:
    """Writes records the way Go's ``encoding/csv`` does with ``UseCRLF`` on."""

    def __init__(self, delimiter: str) -> None:
        self.delimiter = delimiter
        self.parts: list[str] = []
        self.written = 0
        self._specials = ("\n", "\r", '"', delimiter)
        # Any cell that needs quoting matches this; most columns have none, checked in one pass.
        self._needs_quote = re.compile(r"[\n\r\"" + re.escape(delimiter) + r"]|^\s|^\\\.$").search

    def quote_all(self, cells: list[str]) -> list[str]:
        """``quote`` over a column; the column itself when no cell needs quoting."""
        needs = self._needs_quote
        if not any(map(needs, cells)):
            return cells
        return [self.quote(c) for c in cells]

    def quote(self, cell: str) -> str:
        if cell == "" or not self._needs_quote(cell):
            return cell
        if cell == "\\." or any(ch in cell for ch in self._specials) or cell[0].isspace():
            # Inside quotes Go doubles quotes, drops bare CR and turns LF into CRLF.
            body = cell.replace('"', '""').replace("\r", "").replace("\n", "\r\n")
            return '"' + body + '"'
        return cell

    def row(self, cells: list[str]) -> None:
        line = self.delimiter.join(self.quote(c) for c in cells) + "\r\n"
        self.parts.append(line)
        self.written += len(line)

    def rows(self, columns: list[list[str]], prefix: list[str]) -> None:
        """Data rows from already formatted and quoted cells, column-major."""
        sep = self.delimiter
        lead = sep.join(self.quote(c) for c in prefix) + sep
        lines = [lead + sep.join(cells) + "\r\n" for cells in zip(*columns, strict=True)]
        self.parts.extend(lines)
        self.written += sum(map(len, lines))

    def lead_rows(self, columns: list[list[str]], leads: list[str]) -> None:
        """Data rows from formatted, quoted cells, column-major, each after its own lead text
        (the quoted cells before the first column, delimiters included)."""
        sep = self.delimiter
        rows = zip(leads, zip(*columns, strict=True), strict=True)
        lines = [lead + sep.join(cells) + "\r\n" for lead, cells in rows]
        self.parts.extend(lines)
        self.written += sum(map(len, lines))

    def blank(self) -> None:
        self.parts.append("\r\n")
        self.written += 2

    def getvalue(self) -> bytes:
        return "".join(self.parts).encode("utf-8")


class ResultEncoder:
    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.out = CsvWriter(dialect.delimiter)
        self.rows = 0
        self.tables_written = False

    def write_result(self, name: str, tables: list[T.Table]) -> None:
        dialect, out = self.dialect, self.out
        with_default = "default" in dialect.annotations
        result_cell = "" if with_default else name
        last_schema = None
        last_empty = False
        block: list[tuple[int, T.Table]] = []  # tables written under the current header
        for table_id, table in enumerate(tables):
            self.tables_written = True
            # Flux compares column labels and types only: a table whose group key differs but
            # whose columns match continues the block (its #group row is not repeated).
            schema = (table.labels, table.types)
            empty = len(table) == 0
            if last_schema is None or schema != last_schema or empty or last_empty:
                self._write_rows(block, result_cell)
                block = []
                if last_schema is not None:
                    out.blank()
                self._write_schema(name, table, table_id, empty)
            last_schema, last_empty = schema, empty
            if empty:
                continue
            block.append((table_id, table))
            self.rows += len(table)
        self._write_rows(block, result_cell)
        # Results are delimited by an extra line ending, even when they hold no table.
        out.blank()

    def _write_rows(self, block: list[tuple[int, T.Table]], result_cell: str) -> None:
        """The rows of consecutive tables of one schema. A cell's text depends only on its
        value and type, so the columns of all of them are formatted as one (a block of many
        one-row tables, as selectors give, costs one pass per column, not one per table)."""
        if not block:
            return
        out = self.out
        if len(block) == 1:
            table_id, table = block[0]
            columns = self._format_columns(table.data, table.types)
            out.rows(columns, ["", result_cell, str(table_id)])
            return
        types = block[0][1].types
        data = [
            list(chain.from_iterable(table.data[j] for _, table in block))
            for j in range(len(types))
        ]
        sep = out.delimiter
        head = sep + out.quote(result_cell) + sep
        leads = [
            lead
            for table_id, table in block
            for lead in repeat(head + str(table_id) + sep, len(table))
        ]
        out.lead_rows(self._format_columns(data, types), leads)

    def _format_columns(self, data: list, types: list[str]) -> list[list[str]]:
        """Cells column by column; only string columns can need CSV quoting."""
        columns = []
        quote = self.out.quote
        for col, typ in zip(data, types, strict=True):
            if types and col and col[0] is col[-1] and all(v is col[0] for v in col):
                # Group-key columns repeat one value: format it once.
                cell = format_cell(col[0], typ)
                if typ == T.STRING:
                    cell = quote(cell)
                columns.append([cell] * len(col))
                continue
            if typ == T.TIME:
                columns.append(_format_times(col))
                continue
            if typ == T.STRING:
                col = [v if type(v) is str else ("" if v is None else str(v)) for v in col]
                columns.append(self.out.quote_all(col))
                continue
            if typ == T.DOUBLE:
                columns.append(_format_doubles(col))
                continue
            fmt = _FORMATTERS[typ]
            columns.append([("" if v is None else fmt(v)) for v in col])
        return columns

    def _write_schema(self, name: str, table: T.Table, table_id: int, empty: bool) -> None:
        keys = set(table.key)
        for annotation in self.dialect.annotations:
            if annotation == "datatype":
                cells = ["#datatype", "string", "long"] + [DATATYPES[t] for t in table.types]
            elif annotation == "group":
                flags = ["true" if label in keys else "false" for label in table.labels]
                cells = ["#group", "false", "false", *flags]
            else:
                if empty:
                    # An empty table carries its id and key values here, having no rows.
                    values = [
                        format_cell(table.keyvals.get(label), typ) if label in keys else ""
                        for label, typ in zip(table.labels, table.types, strict=True)
                    ]
                    cells = ["#default", name, str(table_id), *values]
                else:
                    cells = ["#default", name, ""] + [""] * len(table.labels)
            self.out.row(cells)
        if self.dialect.header:
            self.out.row(["", "result", "table", *table.labels])

    def write_error(self, error: FluxError) -> None:
        out = self.out
        if self.tables_written:
            out.blank()
        for annotation in self.dialect.annotations:
            if annotation == "datatype":
                out.row(["#datatype", "string", "string"])
            elif annotation == "group":
                out.row(["#group", "true", "true"])
            else:
                out.row(["#default", "", ""])
        out.row(["", "error", "reference"])  # written even when the dialect has no header
        out.row(["", error.message, ""])


def encode(results: list[tuple[str, Callable[[], list[T.Table]]]], dialect: Dialect) -> tuple:
    """Encode results in order; returns (body bytes, data rows written).

    A result that fails before anything was written re-raises, so the caller can answer with a
    JSON error; after the first byte the error goes into the stream as an error table.
    """
    encoder = ResultEncoder(dialect)
    for name, produce in results:
        try:
            tables = produce()
        except FluxError as exc:
            if encoder.out.written == 0:
                raise
            encoder.write_error(exc)
            break
        encoder.write_result(name, tables)
    if not results:
        encoder.out.blank()
    return encoder.out.getvalue(), encoder.rows
