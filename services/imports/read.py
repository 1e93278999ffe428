"""Reading an import file: .xlsx (first sheet) or .csv (UTF-8 or GB18030) into a `Table` of text cells.

Also the mapping of the file's headers onto a kind's columns. `ImportFileError` refuses the file
as a whole; what is wrong with single rows is for `validate`.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePath
from xml.etree.ElementTree import ParseError  # nosec B405  # the exception only; expat 2.4.1+ refuses entity bombs

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from services.errors import DomainError
from services.imports.columns import IGNORED_HEADERS, Column, header_key
from services.imports.wording import (
    MSG_DUPLICATE_HEADER,
    MSG_EMPTY,
    MSG_MISSING_HEADER,
    MSG_NO_ROWS,
    MSG_OLD_EXCEL,
    MSG_TOO_MANY,
    MSG_UNKNOWN_HEADER,
    MSG_UNREADABLE,
    MSG_UNSUPPORTED,
)

# A city's whole roster fits; anything bigger is a mistake, and would hold the web worker too long.
MAX_ROWS = 200_000


class ImportFileError(DomainError):
    """The file as a whole cannot be imported (format, encoding, columns); the message says why."""


def map_headers(headers: Sequence[str], columns: Sequence[Column]) -> dict[str, str]:
    """Column key -> header as written in the file; ImportFileError names a bad or missing header."""
    spelling = {}
    for column in columns:
        for name in (column.header, *column.aliases):
            spelling[header_key(name)] = column
    ignored = {header_key(h) for h in IGNORED_HEADERS}
    found: dict[str, str] = {}
    for header in headers:
        key = header_key(header)
        if key in ignored:
            continue
        column = spelling.get(key)
        if column is None:
            allowed = "、".join(c.header for c in columns)
            raise ImportFileError(MSG_UNKNOWN_HEADER.format(header=header, allowed=allowed))
        if column.key in found:
            raise ImportFileError(MSG_DUPLICATE_HEADER.format(header=header))
        found[column.key] = header
    for column in columns:
        if column.required and column.key not in found:
            raise ImportFileError(MSG_MISSING_HEADER.format(header=column.header))
    return found


@dataclass
class Row:
    """One data row: its number as the spreadsheet shows it, and its cells as text by header."""

    number: int
    cells: dict[str, str]
    # Headers whose cell Excel stored as a long number: the digits past the 15th are gone.
    imprecise: frozenset[str] = frozenset()


@dataclass
class Table:
    """A read file: its headers in order and its non-blank rows."""

    filename: str
    format: str
    headers: list[str]
    rows: list[Row]


def read_table(data: bytes, filename: str) -> Table:
    """Read an .xlsx (first sheet) or .csv file; row 1 holds the headers."""
    suffix = PurePath(filename).suffix.lower()
    if suffix == ".xls":
        raise ImportFileError(MSG_OLD_EXCEL)
    if suffix == ".xlsx":
        records, fmt = _xlsx_records(data), "xlsx"
    elif suffix == ".csv":
        records, fmt = _csv_records(data), "csv"
    else:
        raise ImportFileError(MSG_UNSUPPORTED)
    return _table(filename, fmt, records)


def _table(filename: str, fmt: str, records: Iterator[list[tuple[str, bool]]]) -> Table:
    """Headers from the first record, then one Row per non-blank record."""
    first = next(records, None)
    if first is None:
        raise ImportFileError(MSG_EMPTY)
    positions = [(i, text) for i, (text, _) in enumerate(first) if text]
    if not positions:
        raise ImportFileError(MSG_EMPTY)
    seen: set[str] = set()
    for _, header in positions:
        if header in seen:
            raise ImportFileError(MSG_DUPLICATE_HEADER.format(header=header))
        seen.add(header)
    rows = []
    for number, record in enumerate(records, start=2):
        cells, imprecise = {}, set()
        for i, header in positions:
            text, lossy = record[i] if i < len(record) else ("", False)
            cells[header] = text
            if lossy:
                imprecise.add(header)
        if not any(cells.values()):
            continue
        if len(rows) >= MAX_ROWS:
            raise ImportFileError(MSG_TOO_MANY.format(max=MAX_ROWS))
        rows.append(Row(number, cells, frozenset(imprecise)))
    if not rows:
        raise ImportFileError(MSG_NO_ROWS)
    return Table(filename=filename, format=fmt, headers=[h for _, h in positions], rows=rows)


def _cell_text(value) -> tuple[str, bool]:
    """A cell as trimmed text, and whether Excel stored it as a number too long to be exact."""
    if value is None:
        return "", False
    if isinstance(value, bool):
        return ("是" if value else "否"), False
    if isinstance(value, (int, float)):
        # Doubles hold 15 significant digits: an 18-digit ID number typed as a number is lost.
        lossy = abs(value) >= 1e15
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return str(value), lossy
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(" "), False
    return str(value).strip(), False


def _xlsx_records(data: bytes) -> Iterator[list[tuple[str, bool]]]:
    """Rows of the first worksheet, streamed (read-only mode keeps a big file's memory small)."""
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError):
        raise ImportFileError(MSG_UNREADABLE) from None
    try:
        sheet = workbook.worksheets[0]
        # Some programs write a wrong <dimension>; without it openpyxl reads every cell present.
        sheet.reset_dimensions()
        for values in sheet.iter_rows(values_only=True):
            yield [_cell_text(v) for v in values]
    except (ParseError, zipfile.BadZipFile, KeyError, ValueError):
        # The zip opened but a sheet inside is damaged.
        raise ImportFileError(MSG_UNREADABLE) from None
    finally:
        workbook.close()


def _decode_csv(data: bytes) -> str:
    """UTF-8 with or without BOM; otherwise GB18030, which is what Excel in China saves."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise ImportFileError(MSG_UNREADABLE) from None


def _csv_records(data: bytes) -> Iterator[list[tuple[str, bool]]]:
    """CSV records as cells (row numbers count records, as Excel shows them)."""
    try:
        text = _decode_csv(data)
    except UnicodeDecodeError:
        raise ImportFileError(MSG_UNREADABLE) from None
    try:
        for record in csv.reader(io.StringIO(text, newline="")):
            yield [(cell.strip(), False) for cell in record]
    except csv.Error:
        raise ImportFileError(MSG_UNREADABLE) from None
