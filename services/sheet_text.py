"""Text in the spreadsheets we write is always text: never a formula, whatever it starts with.

Names, notes and cells of an uploaded file come from people outside the office (a chat message, a
file sent in). openpyxl stores a string starting with `=` as a formula, which would run in the
officer's Excel (`=HYPERLINK(...)`, DDE). Every writer passes its rows through `text_row`.
"""

from __future__ import annotations

from collections.abc import Iterable

from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES, Cell

# What makes Excel, WPS or LibreOffice read typed text as a formula (OWASP "CSV injection"), with
# the full-width forms a Chinese input method types, and `#` for error literals such as #N/A.
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠", "#")


def risky(value: object) -> bool:
    """Whether a string could be read as a formula or an error literal instead of text."""
    return isinstance(value, str) and (value.startswith(FORMULA_LEADS) or value in ERROR_CODES)


def as_text(cell: Cell, value: str) -> Cell:
    """Put `value` in `cell` as a text cell; a risky one is also quote-prefixed, so editing keeps it text."""
    cell.value = value
    cell.data_type = "s"
    if risky(value):
        # Excel's own leading apostrophe: the cell stays text when someone edits it and presses Enter.
        cell.quotePrefix = True
    return cell


def text_cell(sheet, value: str) -> Cell:
    """A new cell of `sheet` (write-only or not) holding `value` as text."""
    return as_text(WriteOnlyCell(sheet), value)


def text_row(sheet, values: Iterable) -> list:
    """A row for `sheet.append`: risky strings become text cells, everything else is left as it is."""
    # Plain strings are already stored as text by openpyxl; only the risky ones need a cell object,
    # which keeps a 110,000-row export fast.
    return [text_cell(sheet, v) if risky(v) else v for v in values]
