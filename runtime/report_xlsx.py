"""The monthly report as a spreadsheet: an overview sheet, then one sheet per table, each with
formatted headers, fitting column widths, real numbers (percentages as % cells), a frozen header
and a 合计 row; printable on A4 across."""

from __future__ import annotations

import io
import re

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from services import monthly_report as content
from services.sheet_text import as_text
from services.monthly_report import MonthlyData, Table

FONT = "微软雅黑"
NUMBER_FORMATS = {content.COUNT: "0", content.HOURS: "0.0", content.RATING: "0.0", content.SHARE: "0%"}
HEADER_FILL = PatternFill("solid", fgColor="1F4E79")
GROUP_FILL = PatternFill("solid", fgColor="2E6399")
TOTAL_FILL = PatternFill("solid", fgColor="DDEBF7")
STRIPE_FILL = PatternFill("solid", fgColor="F5F8FB")
THIN = Side(style="thin", color="B7C3D0")
GRID = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
TOTAL_BORDER = Border(left=THIN, right=THIN, top=Side(style="medium", color="1F4E79"), bottom=THIN)
CENTRE = Alignment(horizontal="center", vertical="center", wrap_text=True)
_INVALID_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")


def write_xlsx(data: MonthlyData) -> bytes:
    """The report's workbook as .xlsx bytes."""
    book = Workbook()
    _overview(book.active, data)
    for table in data.tables:
        _table_sheet(book.create_sheet(sheet_name(table)), table, data)
    book.properties.title = f"{data.title}（{data.month_label}）"
    book.properties.creator = "三直达民政服务台"
    # The made time, not the wall clock, so a report's files say when its figures were taken.
    book.properties.created = book.properties.modified = data.made_at.replace(tzinfo=None)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def sheet_name(table: Table) -> str:
    """A table's sheet name: its title, without the characters Excel refuses, at most 31 long."""
    return _INVALID_SHEET_CHARS.sub("", table.title)[:31]


def _width(text: str) -> float:
    """Roughly how many character widths a text takes (a CJK character takes two)."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in str(text))


def _title(sheet: Worksheet, data: MonthlyData, title: str, span: int) -> None:
    """The sheet's title row and the line saying which days it covers and when it was made."""
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=max(span, 1))
    # Names come from the roster (typed by people): every string is written as text, never a formula.
    cell = as_text(sheet.cell(1, 1), f"{data.title} · {data.month_label} · {title}")
    cell.font = Font(name=FONT, size=13, bold=True, color="1F4E79")
    cell.alignment = Alignment(vertical="center")
    sheet.row_dimensions[1].height = 24
    sheet.merge_cells(start_row=2, start_column=1, end_row=2, end_column=max(span, 1))
    made = data.made_at.astimezone(data.tz).strftime("%Y-%m-%d %H:%M")
    note = as_text(sheet.cell(2, 1), f"统计期间：{data.period_label}；生成时间：{made}")
    note.font = Font(name=FONT, size=9, color="5B6670")


def _value_cell(sheet: Worksheet, row: int, column: int, value, kind: str):
    """One table cell: a number in its format, "—" where there is no value, text as text."""
    cell = sheet.cell(row, column)
    if kind == content.TEXT:
        if value is not None:
            as_text(cell, str(value))
        cell.alignment = Alignment(vertical="center")
    elif value is None:
        as_text(cell, "—")
        cell.alignment = Alignment(horizontal="center", vertical="center")
    else:
        cell.value = value
        cell.number_format = NUMBER_FORMATS[kind]
        cell.alignment = Alignment(horizontal="right", vertical="center")
    cell.font = Font(name=FONT, size=10)
    cell.border = GRID
    return cell


def _overview(sheet: Worksheet, data: MonthlyData) -> None:
    """The headline figures of the month beside last month's, and how each moved."""
    sheet.title = "概览"
    headers = ["指标", "本月", "上月", "变化", "单位", "说明"]
    _title(sheet, data, "概览", len(headers))
    for column, text in enumerate(headers, start=1):
        _header_cell(sheet, 4, column, text, HEADER_FILL)
    for index, line in enumerate(data.headlines):
        row = 5 + index
        _value_cell(sheet, row, 1, line.label, content.TEXT).font = Font(name=FONT, size=10, bold=True)
        _value_cell(sheet, row, 2, line.value, line.kind)
        _value_cell(sheet, row, 3, line.previous, line.kind)
        moved = _value_cell(sheet, row, 4, line.change, line.kind)
        if line.change is not None:
            moved.number_format = "+0%;-0%;0%" if line.kind == content.SHARE else \
                "+0.0;-0.0;0.0" if line.kind in (content.HOURS, content.RATING) else "+0;-0;0"
            colour = {"good": "2E7D4F", "bad": "C0392B"}.get(line.trend or "", "333D47")
            moved.font = Font(name=FONT, size=10, color=colour)
        _value_cell(sheet, row, 5, line.unit or ("%" if line.kind == content.SHARE else ""), content.TEXT)
        _value_cell(sheet, row, 6, line.note, content.TEXT).font = Font(name=FONT, size=9, color="5B6670")
        if index % 2:
            for column in range(1, len(headers) + 1):
                sheet.cell(row, column).fill = STRIPE_FILL
    for column, width in zip("ABCDEF", (18, 12, 12, 12, 8, 30)):
        sheet.column_dimensions[column].width = width
    sheet.freeze_panes = "A5"
    _print_setup(sheet, 4, landscape=False)


def _header_cell(sheet: Worksheet, row: int, column: int, text: str, fill: PatternFill):
    """One header cell: white bold text on the report's blue, centred."""
    cell = as_text(sheet.cell(row, column), text)
    cell.font = Font(name=FONT, size=10, bold=True, color="FFFFFF")
    cell.fill = fill
    cell.alignment = CENTRE
    cell.border = GRID
    return cell


def _table_sheet(sheet: Worksheet, table: Table, data: MonthlyData) -> None:
    """One table: title, header (one or two rows), the rows, the 合计 row, then its note."""
    columns = table.columns
    _title(sheet, data, table.title, len(columns))
    header = table.header_rows()
    first = 4
    for offset, cells in enumerate(header):
        for spec in cells:
            row, column = first + offset, spec["start"] + 1
            _header_cell(sheet, row, column, spec["text"], GROUP_FILL if spec["colspan"] > 1 else HEADER_FILL)
            if spec["colspan"] > 1 or spec["rowspan"] > 1:
                sheet.merge_cells(start_row=row, start_column=column, end_row=row + spec["rowspan"] - 1,
                                  end_column=column + spec["colspan"] - 1)
                for extra in range(column, column + spec["colspan"]):
                    for below in range(row, row + spec["rowspan"]):
                        sheet.cell(below, extra).border = GRID
    row = first + len(header)
    body_start = row
    for index, values in enumerate(table.rows):
        for column, (value, spec) in enumerate(zip(values, columns), start=1):
            cell = _value_cell(sheet, row, column, value, spec.kind)
            if index % 2:
                cell.fill = STRIPE_FILL
        row += 1
    if table.total is not None:
        for column, (value, spec) in enumerate(zip(table.total, columns), start=1):
            cell = _value_cell(sheet, row, column, value, spec.kind)
            cell.font = Font(name=FONT, size=10, bold=True)
            cell.fill, cell.border = TOTAL_FILL, TOTAL_BORDER
        row += 1
    if table.note:
        note = as_text(sheet.cell(row + 1, 1), table.note)
        note.font = Font(name=FONT, size=9, color="5B6670")
    _widths(sheet, table)
    texts = sum(1 for c in columns if c.kind == content.TEXT)
    sheet.freeze_panes = sheet.cell(body_start, texts + 1).coordinate
    _print_setup(sheet, body_start - 1, landscape=len(columns) > 8)


def _widths(sheet: Worksheet, table: Table) -> None:
    """Each column as wide as its header or widest value (within sensible bounds)."""
    for index, spec in enumerate(table.columns):
        values = [row[index] for row in table.rows] + ([table.total[index]] if table.total else [])
        longest = max([_width(content.shown(v, spec.kind)) for v in values] + [0])
        header = _width(spec.header) / (2 if len(spec.header) > 6 else 1)
        width = max(longest + 2, header + 2, 8 if spec.kind != content.TEXT else 10)
        sheet.column_dimensions[get_column_letter(index + 1)].width = min(width, 30)


def _print_setup(sheet: Worksheet, header_last_row: int, *, landscape: bool) -> None:
    """A4, fitted to the page's width, the title and header repeated on every printed page."""
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.orientation = "landscape" if landscape else "portrait"
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight = 1, 0
    sheet.print_title_rows = f"1:{header_last_row}"
    sheet.print_options.horizontalCentered = True
