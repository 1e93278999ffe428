"""Exports of cases (求助) and home visits (走访) to .xlsx, scoped like the pages that offer them.

Rows are streamed from the database (`yield_per`) into a write-only workbook, so a city's
110,000 beneficiaries and their history export without holding them all in memory. Times are
shown in the office's time zone. Every export is audited with its filter and row count.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from sqlalchemy import Select, select
from sqlalchemy.orm import Session, aliased

from models import Beneficiary, Region, ServiceRequest, Staff, Visit
from models.enums import CheckResult
from services import audit, texts
from services.errors import DomainError
from services.sheet_text import text_row

logger = logging.getLogger(__name__)

Progress = Callable[[str, int], None]
# A further restriction on the query, e.g. the dashboard's role scope (`functools.partial(scope.requests, s)`).
Narrow = Callable[[Select], Select]
# Rows fetched per round trip; PostgreSQL streams them through a server-side cursor.
YIELD_PER = 1000
PROGRESS_EVERY = 1000
TIME_FORMAT = "yyyy-mm-dd hh:mm"
DATE_FORMAT = "yyyy-mm-dd"

MSG_BAD_RANGE = "开始日期不能晚于结束日期"

CASE_HEADERS = (
    ("编号", 8), ("对象", 10), ("村（社区）", 14), ("乡镇", 12), ("类别", 8), ("紧急", 6), ("状态", 8),
    ("负责人", 16), ("提交时间", 17), ("接单时间", 17), ("办结时间", 17), ("评分", 6), ("督办级别", 9),
)
VISIT_HEADERS = (
    ("日期", 11), ("对象", 10), ("村（社区）", 14), ("协理员", 16), ("吃", 16), ("穿", 16), ("住", 16),
    ("医", 16), ("四帮", 30), ("备注", 40),
)
CHECK_OK = "好"
CHECK_PROBLEM = "有问题"
# 四帮, in the order the model's flags are selected below.
HELP_NAMES = ("照顾生活", "购买日常用品", "与亲人通讯联系", "落实相关政策")

HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="2F5597")


@dataclass(frozen=True)
class ExportResult:
    """An export: the .xlsx bytes, how many data rows it holds, and a file name to offer."""

    content: bytes
    rows: int
    filename: str


def _range(since: date | None, until: date | None, tz: ZoneInfo) -> tuple[datetime | None, datetime | None]:
    """Local whole days [since, until] as UTC-comparable bounds, `until` inclusive."""
    if since is not None and until is not None and since > until:
        raise DomainError(MSG_BAD_RANGE)
    start = datetime.combine(since, time.min, tz) if since else None
    end = datetime.combine(until + timedelta(days=1), time.min, tz) if until else None
    return start, end


def _filter_detail(**values) -> dict:
    """The filter as the audit log keeps it (dates as ISO strings)."""
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in values.items()}


def _local(value: datetime | None, tz: ZoneInfo) -> datetime | None:
    """Excel has no time zones: local wall time, naive."""
    return value.astimezone(tz).replace(tzinfo=None) if value is not None else None


class _Sheet:
    """A write-only sheet with a styled header row and formatted date cells."""

    def __init__(self, workbook: Workbook, title: str, headers: Iterable[tuple[str, int]]):
        self.sheet = workbook.create_sheet(title)
        headers = list(headers)
        for i, (_, width) in enumerate(headers, start=1):
            self.sheet.column_dimensions[get_column_letter(i)].width = width
        self.sheet.freeze_panes = "A2"
        header_cells = []
        for name, _ in headers:
            cell = WriteOnlyCell(self.sheet, value=name)
            cell.font, cell.fill = HEADER_FONT, HEADER_FILL
            header_cells.append(cell)
        self.sheet.append(header_cells)

    def cell(self, value, number_format: str) -> WriteOnlyCell | None:
        """A date or time cell Excel can sort and filter; blank when there is no value."""
        if value is None:
            return None
        cell = WriteOnlyCell(self.sheet, value=value)
        cell.number_format = number_format
        return cell

    def append(self, values: list) -> None:
        """Add one data row; text stays text, never a formula (names and notes come from outside)."""
        self.sheet.append(text_row(self.sheet, values))


def _stream(session: Session, stmt: Select, progress: Progress | None, phase: str):
    """Rows of `stmt`, fetched YIELD_PER at a time, reporting progress as they pass."""
    for n, row in enumerate(session.execute(stmt.execution_options(yield_per=YIELD_PER)), start=1):
        if progress is not None and n % PROGRESS_EVERY == 0:
            progress(phase, n)
        yield row


def _save(workbook: Workbook) -> bytes:
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def export_cases(
    session: Session,
    *,
    now: datetime,
    tz: ZoneInfo,
    actor: audit.Actor,
    town_id: int | None = None,
    village_id: int | None = None,
    assignee_staff_id: int | None = None,
    since: date | None = None,
    until: date | None = None,
    narrow: Narrow | None = None,
    progress: Progress | None = None,
    ip: str | None = None,
    reads: Session | None = None,
) -> ExportResult:
    """Cases raised in the scope (their town/village when raised, their assignee) and local date range.

    The rows are read through `reads` (a read replica's session) when given; the audit entry goes
    through `session`."""
    start, end = _range(since, until, tz)
    village, town, assignee = aliased(Region), aliased(Region), aliased(Staff)
    stmt = (
        select(
            ServiceRequest.id, Beneficiary.name, village.name, town.name, ServiceRequest.category,
            ServiceRequest.urgency, ServiceRequest.status, assignee.name, assignee.staff_no,
            ServiceRequest.created_at, ServiceRequest.acknowledged_at, ServiceRequest.resolved_at,
            ServiceRequest.closed_at, ServiceRequest.rating, ServiceRequest.escalation_level,
        )
        .join(Beneficiary, Beneficiary.id == ServiceRequest.beneficiary_id)
        .join(village, village.id == ServiceRequest.village_id)
        .join(town, town.id == ServiceRequest.town_id)
        .outerjoin(assignee, assignee.id == ServiceRequest.assignee_staff_id)
        .order_by(ServiceRequest.id)
    )
    if town_id is not None:
        stmt = stmt.where(ServiceRequest.town_id == town_id)
    if village_id is not None:
        stmt = stmt.where(ServiceRequest.village_id == village_id)
    if assignee_staff_id is not None:
        stmt = stmt.where(ServiceRequest.assignee_staff_id == assignee_staff_id)
    if start is not None:
        stmt = stmt.where(ServiceRequest.created_at >= start)
    if end is not None:
        stmt = stmt.where(ServiceRequest.created_at < end)
    if narrow is not None:
        stmt = narrow(stmt)

    workbook = Workbook(write_only=True)
    sheet = _Sheet(workbook, "求助", CASE_HEADERS)
    rows = 0
    for (number, person, village_name, town_name, category, urgency, status, staff_name, staff_no,
         created, acknowledged, resolved, closed, rating, level) in _stream(reads or session, stmt, progress, "求助"):
        sheet.append([
            number, person, village_name, town_name, category,
            "是" if urgency == "urgent" else "否",
            texts.STATUS_NAMES.get(status, status),
            f"{staff_name}（{staff_no}）" if staff_name else "",
            sheet.cell(_local(created, tz), TIME_FORMAT),
            sheet.cell(_local(acknowledged, tz), TIME_FORMAT),
            # 办结 is when the worker reported it done (完成); a case closed without that step counts then.
            sheet.cell(_local(resolved or closed, tz), TIME_FORMAT),
            rating,
            f"{level}级" if level else "",
        ])
        rows += 1
    content = _save(workbook)
    audit.record_by(session, actor, "export.cases", {
        "filter": _filter_detail(town_id=town_id, village_id=village_id, assignee_staff_id=assignee_staff_id,
                                 since=since, until=until),
        "scoped": narrow is not None,
        "rows": rows,
    }, now, ip)
    logger.info("export=cases rows=%s", rows)
    return ExportResult(content, rows, f"求助_{now.astimezone(tz):%Y%m%d}.xlsx")


def _check(result: str, note: str | None) -> str:
    """好, or what the problem was."""
    if result == CheckResult.OK.value:
        return CHECK_OK
    return note or CHECK_PROBLEM


def export_visits(
    session: Session,
    *,
    now: datetime,
    tz: ZoneInfo,
    actor: audit.Actor,
    town_id: int | None = None,
    village_id: int | None = None,
    assignee_staff_id: int | None = None,
    since: date | None = None,
    until: date | None = None,
    narrow: Narrow | None = None,
    progress: Progress | None = None,
    ip: str | None = None,
    reads: Session | None = None,
) -> ExportResult:
    """Visits to beneficiaries living in the scope, by the visiting assistant, in a local date range
    (rows through `reads` when given, the audit entry through `session`, as `export_cases`)."""
    start, end = _range(since, until, tz)
    village, visitor = aliased(Region), aliased(Staff)
    stmt = (
        select(
            Visit.visited_at, Beneficiary.name, village.name, visitor.name, visitor.staff_no,
            Visit.food, Visit.food_note, Visit.clothing, Visit.clothing_note,
            Visit.housing, Visit.housing_note, Visit.medical, Visit.medical_note,
            Visit.helped_daily_care, Visit.helped_shopping, Visit.helped_contact_family, Visit.helped_policy,
            Visit.notes,
        )
        .join(Beneficiary, Beneficiary.id == Visit.beneficiary_id)
        .join(village, village.id == Beneficiary.village_id)
        .join(visitor, visitor.id == Visit.staff_id)
        .order_by(Visit.visited_at, Visit.id)
    )
    if town_id is not None:
        stmt = stmt.where(village.parent_id == town_id)
    if village_id is not None:
        stmt = stmt.where(Beneficiary.village_id == village_id)
    if assignee_staff_id is not None:
        # For visits the person in charge is the one who went.
        stmt = stmt.where(Visit.staff_id == assignee_staff_id)
    if start is not None:
        stmt = stmt.where(Visit.visited_at >= start)
    if end is not None:
        stmt = stmt.where(Visit.visited_at < end)
    if narrow is not None:
        stmt = narrow(stmt)

    workbook = Workbook(write_only=True)
    sheet = _Sheet(workbook, "走访", VISIT_HEADERS)
    rows = 0
    for row in _stream(reads or session, stmt, progress, "走访"):
        (visited, person, village_name, staff_name, staff_no, food, food_note, clothing, clothing_note,
         housing, housing_note, medical, medical_note, *helped, notes) = row
        sheet.append([
            sheet.cell(visited.astimezone(tz).date(), DATE_FORMAT),
            person, village_name, f"{staff_name}（{staff_no}）",
            _check(food, food_note), _check(clothing, clothing_note),
            _check(housing, housing_note), _check(medical, medical_note),
            "、".join(name for name, done in zip(HELP_NAMES, helped, strict=True) if done),
            notes or "",
        ])
        rows += 1
    content = _save(workbook)
    audit.record_by(session, actor, "export.visits", {
        "filter": _filter_detail(town_id=town_id, village_id=village_id, assignee_staff_id=assignee_staff_id,
                                 since=since, until=until),
        "scoped": narrow is not None,
        "rows": rows,
    }, now, ip)
    logger.info("export=visits rows=%s", rows)
    return ExportResult(content, rows, f"走访_{now.astimezone(tz):%Y%m%d}.xlsx")
