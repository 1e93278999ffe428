"""The outcome of checking or importing a file: a verdict per row, the counts, and the error report (.xlsx)."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from services.imports.columns import BENEFICIARY_COLUMNS, header_key
from services.imports.wording import REPORT_EXTRA_HEADERS, RESULT_ERROR
from services.policy import id_number
from services.sheet_text import text_row

OK, ERROR, SKIPPED = "ok", "error", "skipped"
CREATE, UPDATE, UNCHANGED = "create", "update", "unchanged"


@dataclass
class RowResult:
    """The verdict on one row: ok, error or skipped, what would happen, and why not."""

    row: int
    status: str
    action: str | None
    messages: list[str]
    # The cells as read, keyed by the file's headers; holds the ID number, so mask before showing.
    cells: dict[str, str] = field(repr=False)
    plan: object | None = field(default=None, repr=False)

    def error(self, message: str) -> None:
        """Mark the row as failed with one more reason."""
        self.status, self.action, self.plan = ERROR, None, None
        self.messages.append(message)


@dataclass
class ImportReport:
    """Every row's result, and whether the good rows were written."""

    kind: str
    filename: str
    headers: list[str]
    rows: list[RowResult]
    applied: bool = False
    written: int = 0

    def _count(self, status: str | None = None, action: str | None = None) -> int:
        """Rows with this status and action (either may be None for any)."""
        return sum(
            1 for r in self.rows if (status is None or r.status == status) and (action is None or r.action == action)
        )

    @property
    def ok(self) -> int:
        """Rows without problems."""
        return self._count(OK)

    @property
    def errors(self) -> int:
        """Rows with at least one problem."""
        return self._count(ERROR)

    @property
    def skipped(self) -> int:
        """Template example rows left out."""
        return self._count(SKIPPED)

    @property
    def creates(self) -> int:
        """Good rows that add a new record."""
        return self._count(OK, CREATE)

    @property
    def updates(self) -> int:
        """Good rows that change an existing record."""
        return self._count(OK, UPDATE)

    @property
    def unchanged(self) -> int:
        """Good rows identical to what is stored."""
        return self._count(OK, UNCHANGED)

    def error_rows(self) -> list[RowResult]:
        """The rows at fault, in file order."""
        return [r for r in self.rows if r.status == ERROR]

    def counts(self) -> dict[str, int]:
        """The figures for a summary or an audit entry (no personal data)."""
        return {
            "rows": len(self.rows), "ok": self.ok, "errors": self.errors, "skipped": self.skipped,
            "create": self.creates, "update": self.updates, "unchanged": self.unchanged,
        }

    def masked_cells(self, result: RowResult) -> dict[str, str]:
        """A row's cells safe to display: the ID number masked."""
        return _masked(result.cells, self.kind)


def _masked(cells: dict[str, str], kind: str) -> dict[str, str]:
    """Cells with any ID-number column masked."""
    if kind != "beneficiaries":
        return dict(cells)
    id_headers = {h for h in cells if header_key(h) in _ID_HEADER_KEYS}
    return {h: (id_number.mask(v) if h in id_headers and v else v) for h, v in cells.items()}


_ID_HEADER_KEYS = frozenset(header_key(h) for h in (BENEFICIARY_COLUMNS[1].header, *BENEFICIARY_COLUMNS[1].aliases))


def error_report(report: ImportReport) -> bytes:
    """The rows at fault as .xlsx: the original columns plus 行号, 结果, 问题; ID numbers masked."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("错误报告")
    # A corrected report imported again already carries these columns: list them once.
    extras = {header_key(h) for h in REPORT_EXTRA_HEADERS}
    original = [h for h in report.headers if header_key(h) not in extras]
    headers = [*original, *REPORT_EXTRA_HEADERS]
    for i, header in enumerate(headers, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = 40 if header == "问题" else 16
    sheet.freeze_panes = "A2"
    # Headers and cells are the uploaded file's own: written back as text, never as formulas.
    sheet.append(text_row(sheet, headers))
    for result in report.error_rows():
        cells = report.masked_cells(result)
        sheet.append(text_row(sheet, [*(cells.get(h, "") for h in original), result.row, RESULT_ERROR,
                                      "；".join(result.messages)]))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
