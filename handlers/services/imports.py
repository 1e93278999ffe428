"""Spreadsheet imports of beneficiaries and staff: templates, reading, row checks, upsert, error reports.

The flow the dashboard and the CLI share:

    table = read_table(data, filename)                 # .xlsx or .csv; ImportFileError for the file
    report = check_beneficiaries(session, pii, table)  # dry run: every row checked, nothing written
    report = import_beneficiaries(session, pii, table, now=..., actor=..., accept_good_rows=...)
    error_report(report)                               # .xlsx of the rows at fault, ID numbers masked

Reading and the per-row field checks are pure; the checks against the database use a small
snapshot of the regions, staff and beneficiaries the file mentions, loaded in a few queries.
Nothing here commits: the caller commits when `report.applied` and it wants the rows kept.

Rules worth knowing:
- Beneficiaries are matched on the keyed hash of the ID number, so re-importing a file changes
  nothing; staff are matched on 工号.
- A blank optional cell (phone, address, assistant) never overwrites what is stored: offices
  import partial lists, and a lost cell must not erase data. Corrections go through the pages.
- The assistant must work in the beneficiary's own village (or community). The service map is
  city > town > village > assistant, and visit plans and the escalation ladder follow it, so an
  assistant from a neighbouring village would sit outside every view of the village. For the
  same reason a beneficiary who moves village needs the new village's assistant in the row.
- An assistant still holding beneficiaries cannot change role or region by import.
- An import that changes nothing writes nothing, not even an audit entry.
- Rows whose 姓名 starts with 示例 are the template's example and are skipped, never imported.
"""

from __future__ import annotations

import csv
import io
import logging
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePath
from xml.etree.ElementTree import ParseError

from openpyxl import Workbook, load_workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet.datavalidation import DataValidation
from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased, selectinload

from handlers.policy import id_number
from handlers.policy import validate as rules
from handlers.services import audit, roster
from handlers.services.errors import DomainError
from handlers.services.pii import PiiCipher
from models import Assignment, Beneficiary, BeneficiaryCategoryLink, Region, Staff
from models.enums import BeneficiaryCategory, RegionLevel, StaffRole

logger = logging.getLogger(__name__)

Progress = Callable[[str, int], None]
# An actor is a member of staff (object or id) or a label such as "cli".
Actor = Staff | int | str

OK, ERROR, SKIPPED = "ok", "error", "skipped"
CREATE, UPDATE, UNCHANGED = "create", "update", "unchanged"

# A city's whole roster fits; anything bigger is a mistake, and would hold the web worker too long.
MAX_ROWS = 200_000
PROGRESS_EVERY = 1000
# Rows per IN (...) lookup and per flush while writing.
CHUNK = 500
EXAMPLE_PREFIX = "示例"
ASSIGNMENT_REASON = "import"

# --- wording (Simplified Chinese, shown to office staff) -------------------------------------------

MSG_UNSUPPORTED = "只能导入 .xlsx 或 .csv 文件"
MSG_OLD_EXCEL = "不支持旧版 .xls 文件，请在 Excel 中“另存为” .xlsx 后再导入"
MSG_UNREADABLE = "无法读取这个文件，请确认它是 .xlsx 或 .csv 文件"
MSG_EMPTY = "文件是空的：第1行应为列名"
MSG_TOO_MANY = "文件超过 {max} 行，请分批导入"
MSG_NO_ROWS = "文件里没有数据行"
MSG_UNKNOWN_HEADER = "无法识别的列：“{header}”。可用的列：{allowed}"
MSG_MISSING_HEADER = "缺少必填列：“{header}”"
MSG_DUPLICATE_HEADER = "列名重复：“{header}”"
MSG_MISSING_VILLAGE_HEADER = "缺少必填列：“所属村（社区）代码”或“所属村（社区）”（二选一）"

MSG_REQUIRED = "{field}：不能为空"
MSG_TOO_LONG = "{field}：不能超过{max}个字"
MSG_FIELD = "{field}：{problem}"
MSG_ID_AS_NUMBER = "身份证号：被 Excel 存成了数字，后几位已丢失；请把该列设为“文本”格式后重新填写"
MSG_UNKNOWN_CATEGORY = "对象类别：不认识“{words}”，可填：{allowed}"
MSG_VILLAGE_REQUIRED = "所属村（社区）：代码和名称至少填一项"
MSG_VILLAGE_UNKNOWN_CODE = "所属村（社区）代码：没有找到这个代码"
MSG_NOT_A_VILLAGE = "所属村（社区）代码：“{name}”是{level}，不是村（社区）"
MSG_VILLAGE_UNKNOWN_NAME = "所属村（社区）：没有找到“{name}”"
MSG_VILLAGE_AMBIGUOUS = "所属村（社区）：有{count}个村（社区）叫“{name}”，请改填代码"
MSG_VILLAGE_MISMATCH = "所属村（社区）：代码对应的是“{by_code}”，与填写的名称“{name}”不一致"
MSG_ASSISTANT_UNKNOWN = "协理员工号：没有找到工号 {no}"
MSG_ASSISTANT_NOT_ASSISTANT = "协理员工号：{no} 是{role}，不是协理员"
MSG_ASSISTANT_INACTIVE = "协理员工号：{no}（{name}）已停用"
MSG_ASSISTANT_ELSEWHERE = "协理员工号：{no}（{name}）在{where}工作，不在{village}"
MSG_MOVED_WITHOUT_ASSISTANT = "协理员工号：换了村（社区），请同时填写新村（社区）的协理员工号"
MSG_DUPLICATE_ID = "身份证号：与第 {rows} 行重复"
MSG_DUPLICATE_STAFF_NO = "工号：与第 {rows} 行重复"
MSG_ROLE = "角色：应为 {allowed} 之一"
MSG_REGION_UNKNOWN = "所属区域代码：没有找到这个代码"
MSG_ROLE_LEVEL = "所属区域代码：{role}应属于{level}区域，“{name}”是{actual}"
MSG_STAFF_HAS_CASELOAD = "角色/所属区域：该协理员仍负责 {count} 位服务对象，请先转派再调整"
MSG_EXAMPLE_ROW = "模板示例行，未导入"

RESULT_ERROR = "有误"
REPORT_EXTRA_HEADERS = ("行号", "结果", "问题")


class ImportFileError(DomainError):
    """The file as a whole cannot be imported (format, encoding, columns); the message says why."""


# --- columns -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One column of an import file: its header, other spellings offices use, and template layout."""

    key: str
    header: str
    required: bool = False
    aliases: tuple[str, ...] = ()
    width: int = 14
    # Kept as text in the template, so Excel never turns an ID number or 工号 into a number.
    text: bool = False
    in_template: bool = True
    hint: str = ""


CATEGORY_CHOICES = "、".join(c.value for c in BeneficiaryCategory)
ROLE_CHOICES = "、".join(rules.ROLE_LABELS.values())

BENEFICIARY_COLUMNS = (
    Column("name", "姓名", True, width=12, hint="必填"),
    Column("id_number", "身份证号", True, ("身份证号码", "公民身份号码"), width=22, text=True,
           hint="必填，18位，最后一位可以是X"),
    Column("phone", "联系电话", False, ("电话", "手机号", "手机号码"), width=16, text=True,
           hint="手机号或带区号的座机号，如 0716-1234567"),
    Column("categories", "对象类别", True, ("类别", "对象类型"), width=22,
           hint=f"必填，可填多个，用“、”分隔：{CATEGORY_CHOICES}"),
    Column("village_code", "所属村（社区）代码", False, ("村（社区）代码", "村代码"), width=20, text=True,
           hint="村（社区）的行政区划代码；也可以改用“所属村（社区）”列填写名称"),
    Column("village_name", "所属村（社区）", False, ("村（社区）", "所属村", "所属社区"), width=14,
           in_template=False),
    Column("address", "家庭住址", False, ("住址", "家庭地址"), width=32),
    Column("assistant_no", "协理员工号", False, ("协理员", "责任协理员工号"), width=12, text=True,
           hint="该村（社区）在岗协理员的工号；留空则不改变现有指派"),
)

STAFF_COLUMNS = (
    Column("staff_no", "工号", True, width=12, text=True, hint="必填，字母、数字和连字符"),
    Column("name", "姓名", True, width=12, hint="必填"),
    Column("phone", "联系电话", True, ("电话", "手机号", "手机号码"), width=16, text=True, hint="必填"),
    Column("role", "角色", True, width=16, hint=f"必填：{ROLE_CHOICES}"),
    Column("region_code", "所属区域代码", True, ("区域代码",), width=18, text=True,
           hint="协理员填村（社区）代码，乡镇民政助理员填乡镇代码，市级填市代码"),
)

# Columns of our own error report: a corrected report can be imported again as it is.
IGNORED_HEADERS = frozenset({"序号", *REPORT_EXTRA_HEADERS})


def _header_key(header: str) -> str:
    """Headers compare folded (full-width brackets, spaces) and without a required-mark star."""
    return rules.canonical(header).strip("*")


def map_headers(headers: Sequence[str], columns: Sequence[Column]) -> dict[str, str]:
    """Column key -> header as written in the file; ImportFileError names a bad or missing header."""
    spelling = {}
    for column in columns:
        for name in (column.header, *column.aliases):
            spelling[_header_key(name)] = column
    ignored = {_header_key(h) for h in IGNORED_HEADERS}
    found: dict[str, str] = {}
    for header in headers:
        key = _header_key(header)
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


# --- reading files ------------------------------------------------------------------------------------


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


# --- the report ---------------------------------------------------------------------------------------


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
    id_headers = {h for h in cells if _header_key(h) in _ID_HEADER_KEYS}
    return {h: (id_number.mask(v) if h in id_headers and v else v) for h, v in cells.items()}


_ID_HEADER_KEYS = frozenset(_header_key(h) for h in (BENEFICIARY_COLUMNS[1].header, *BENEFICIARY_COLUMNS[1].aliases))


def _is_example(cells: dict[str, str]) -> bool:
    """The template's example row (its name starts with 示例)."""
    return cells.get("name", "").startswith(EXAMPLE_PREFIX)


def _text(cells: dict[str, str], key: str, label: str, max_len: int, messages: list[str],
          required: bool = False) -> str | None:
    """A trimmed text cell, or None when blank; records a message when required or too long."""
    value = (cells.get(key) or "").strip()
    if not value:
        if required:
            messages.append(MSG_REQUIRED.format(field=label))
        return None
    if len(value) > max_len:
        messages.append(MSG_TOO_LONG.format(field=label, max=max_len))
        return None
    return value


def _phone(cells: dict[str, str], messages: list[str], required: bool) -> str | None:
    """A normalised phone, or None (with a message when required or malformed)."""
    raw = (cells.get("phone") or "").strip()
    if not raw:
        if required:
            messages.append(MSG_REQUIRED.format(field="联系电话"))
        return None
    phone = rules.normalize_phone(raw)
    if phone is None:
        messages.append(MSG_FIELD.format(field="联系电话", problem=rules.MSG_BAD_PHONE))
    return phone


def _mark_duplicates(results: Sequence[RowResult], keys: Sequence[str | None], message: str) -> None:
    """Fail every row sharing a key with another row, naming the other rows."""
    rows_by_key: dict[str, list[RowResult]] = defaultdict(list)
    for result, key in zip(results, keys, strict=True):
        if key is not None:
            rows_by_key[key].append(result)
    for group in rows_by_key.values():
        if len(group) > 1:
            for result in group:
                others = "、".join(str(o.row) for o in group if o is not result)
                result.error(message.format(rows=others))


def _chunks(items: Sequence, size: int = CHUNK) -> Iterator[Sequence]:
    """Slices of at most `size` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _tick(progress: Progress | None, phase: str, done: int, total: int) -> None:
    """Report every PROGRESS_EVERY rows and at the end."""
    if progress is not None and (done % PROGRESS_EVERY == 0 or done == total):
        progress(phase, done)


# --- beneficiaries: pure row checks ------------------------------------------------------------------


@dataclass(frozen=True)
class BeneficiaryFields:
    """One beneficiary row's values, each checked on its own and normalised."""

    name: str
    id_number: str
    phone: str | None
    categories: tuple[str, ...]
    village_code: str | None
    village_name: str | None
    address: str | None
    assistant_no: str | None


def parse_beneficiary_cells(cells: dict[str, str], imprecise: Iterable[str] = ()) -> tuple[
    BeneficiaryFields | None, list[str]
]:
    """Check one row's cells (keyed by column key) on their own; the values, or the reasons not."""
    messages: list[str] = []
    name = _text(cells, "name", "姓名", 64, messages, required=True)

    raw_id = id_number.normalize(cells.get("id_number", ""))
    number = None
    if not raw_id:
        messages.append(MSG_REQUIRED.format(field="身份证号"))
    elif "id_number" in imprecise or "E+" in raw_id or "." in raw_id:
        messages.append(MSG_ID_AS_NUMBER)
    else:
        problem = id_number.validation_error(raw_id)
        if problem:
            # The validator's message never repeats the number; keep it that way here.
            messages.append(MSG_FIELD.format(field="身份证号", problem=problem))
        else:
            number = raw_id

    phone = _phone(cells, messages, required=False)

    categories: list[BeneficiaryCategory] = []
    if not (cells.get("categories") or "").strip():
        messages.append(MSG_REQUIRED.format(field="对象类别"))
    else:
        categories, unknown = rules.parse_categories(cells["categories"])
        if unknown:
            messages.append(MSG_UNKNOWN_CATEGORY.format(words="、".join(unknown), allowed=CATEGORY_CHOICES))
        elif not categories:
            messages.append(MSG_REQUIRED.format(field="对象类别"))

    village_code = rules.canonical(cells.get("village_code")) or None
    village_name = (cells.get("village_name") or "").strip() or None
    # Codes are only looked up, not shape-checked: "not found" is the message that helps.
    if village_code is None and village_name is None:
        messages.append(MSG_VILLAGE_REQUIRED)

    address = _text(cells, "address", "家庭住址", 255, messages)

    assistant_no = rules.normalize_staff_no(cells.get("assistant_no")) or None
    if assistant_no is not None and rules.staff_no_error(assistant_no):
        messages.append(MSG_FIELD.format(field="协理员工号", problem=rules.MSG_BAD_STAFF_NO))

    if messages:
        return None, messages
    return BeneficiaryFields(
        name=name, id_number=number, phone=phone, categories=tuple(sorted(c.value for c in categories)),
        village_code=village_code, village_name=village_name, address=address, assistant_no=assistant_no,
    ), []


@dataclass(frozen=True)
class RegionRef:
    """What the checks need to know about a region."""

    id: int
    code: str
    name: str
    level: str
    parent_id: int | None


@dataclass(frozen=True)
class StaffRef:
    """What the checks need to know about a member of staff."""

    id: int
    staff_no: str
    name: str
    phone: str
    role: str
    active: bool
    region_id: int
    region_name: str
    caseload: int = 0


@dataclass(frozen=True)
class BeneficiaryState:
    """A stored beneficiary as the import compares it with a row."""

    id: int
    name: str
    phone: str | None
    address: str | None
    village_id: int
    categories: frozenset[str]
    assistant_id: int | None


@dataclass
class BeneficiaryRefs:
    """The slice of the database one beneficiary file refers to."""

    regions_by_code: dict[str, RegionRef]
    villages_by_name: dict[str, list[RegionRef]]
    staff_by_no: dict[str, StaffRef]
    existing_by_hash: dict[str, BeneficiaryState]


@dataclass(frozen=True)
class BeneficiaryPlan:
    """What applying a good row does: create, or update the stored beneficiary `existing`."""

    fields: BeneficiaryFields
    id_hash: str
    village_id: int
    assistant_id: int | None
    existing: BeneficiaryState | None


def _level_label(level: str) -> str:
    return rules.LEVEL_LABELS[RegionLevel(level)]


def resolve_beneficiary(fields: BeneficiaryFields, id_hash: str, refs: BeneficiaryRefs) -> tuple[
    BeneficiaryPlan | None, str | None, list[str]
]:
    """Check a row against the database snapshot: the plan and action, or the reasons not."""
    messages: list[str] = []
    village = None
    if fields.village_code is not None:
        region = refs.regions_by_code.get(fields.village_code)
        if region is None:
            messages.append(MSG_VILLAGE_UNKNOWN_CODE)
        elif region.level != RegionLevel.VILLAGE.value:
            messages.append(MSG_NOT_A_VILLAGE.format(name=region.name, level=_level_label(region.level)))
        elif fields.village_name is not None and rules.canonical(fields.village_name) != rules.canonical(region.name):
            messages.append(MSG_VILLAGE_MISMATCH.format(by_code=region.name, name=fields.village_name))
        else:
            village = region
    else:
        matches = refs.villages_by_name.get(rules.canonical(fields.village_name), [])
        if not matches:
            messages.append(MSG_VILLAGE_UNKNOWN_NAME.format(name=fields.village_name))
        elif len(matches) > 1:
            messages.append(MSG_VILLAGE_AMBIGUOUS.format(count=len(matches), name=fields.village_name))
        else:
            village = matches[0]

    assistant = None
    if fields.assistant_no is not None:
        staff = refs.staff_by_no.get(fields.assistant_no)
        if staff is None:
            messages.append(MSG_ASSISTANT_UNKNOWN.format(no=fields.assistant_no))
        elif staff.role != StaffRole.ASSISTANT.value:
            messages.append(MSG_ASSISTANT_NOT_ASSISTANT.format(
                no=staff.staff_no, role=rules.ROLE_LABELS[StaffRole(staff.role)]))
        elif not staff.active:
            messages.append(MSG_ASSISTANT_INACTIVE.format(no=staff.staff_no, name=staff.name))
        elif village is not None and staff.region_id != village.id:
            messages.append(MSG_ASSISTANT_ELSEWHERE.format(
                no=staff.staff_no, name=staff.name, where=staff.region_name, village=village.name))
        else:
            assistant = staff
    if messages:
        return None, None, messages

    existing = refs.existing_by_hash.get(id_hash)
    if (existing is not None and existing.village_id != village.id and existing.assistant_id is not None
            and assistant is None):
        # The current assistant works in the old village: moving without a new one strands the person.
        return None, None, [MSG_MOVED_WITHOUT_ASSISTANT]
    plan = BeneficiaryPlan(fields, id_hash, village.id, assistant.id if assistant else None, existing)
    return plan, _beneficiary_action(plan), []


def _beneficiary_action(plan: BeneficiaryPlan) -> str:
    """create, update or unchanged; blank optional cells keep what is stored."""
    old, new = plan.existing, plan.fields
    if old is None:
        return CREATE
    same = (
        old.name == new.name
        and (new.phone is None or new.phone == old.phone)
        and (new.address is None or new.address == old.address)
        and old.village_id == plan.village_id
        and old.categories == frozenset(new.categories)
        and (plan.assistant_id is None or plan.assistant_id == old.assistant_id)
    )
    return UNCHANGED if same else UPDATE


# --- beneficiaries: database snapshot ----------------------------------------------------------------


def _region_refs(session: Session, *conditions) -> list[RegionRef]:
    rows = session.execute(
        select(Region.id, Region.code, Region.name, Region.level, Region.parent_id).where(*conditions)
    )
    return [RegionRef(*row) for row in rows]


def _regions_by_code(session: Session, codes: Iterable[str]) -> dict[str, RegionRef]:
    found = {}
    for chunk in _chunks(sorted(set(codes))):
        found.update((r.code, r) for r in _region_refs(session, Region.code.in_(chunk)))
    return found


def _staff_by_no(session: Session, numbers: Iterable[str], *, with_caseload: bool = False) -> dict[str, StaffRef]:
    """Staff by 工号, with their region's name (and how many beneficiaries they hold, if asked)."""
    place = aliased(Region)
    found: dict[str, StaffRef] = {}
    for chunk in _chunks(sorted(set(numbers))):
        caseload = {}
        rows = session.execute(
            select(Staff.id, Staff.staff_no, Staff.name, Staff.phone, Staff.role, Staff.active, Staff.region_id,
                   place.name)
            .join(place, place.id == Staff.region_id)
            .where(Staff.staff_no.in_(chunk))
        ).all()
        if with_caseload and rows:
            caseload = dict(session.execute(
                select(Assignment.staff_id, func.count())
                .where(Assignment.staff_id.in_([r[0] for r in rows]), Assignment.ended_at.is_(None))
                .group_by(Assignment.staff_id)
            ).all())
        for row in rows:
            found[row[1]] = StaffRef(*row, caseload=caseload.get(row[0], 0))
    return found


def _existing_beneficiaries(session: Session, hashes: Iterable[str]) -> dict[str, BeneficiaryState]:
    """The stored beneficiaries whose ID-number hash appears in the file."""
    found = {}
    for chunk in _chunks(sorted(set(hashes))):
        rows = session.execute(
            select(Beneficiary.id, Beneficiary.id_number_hash, Beneficiary.name, Beneficiary.phone,
                   Beneficiary.address, Beneficiary.village_id)
            .where(Beneficiary.id_number_hash.in_(chunk))
        ).all()
        if not rows:
            continue
        ids = [r[0] for r in rows]
        categories = defaultdict(set)
        for beneficiary_id, category in session.execute(
            select(BeneficiaryCategoryLink.beneficiary_id, BeneficiaryCategoryLink.category)
            .where(BeneficiaryCategoryLink.beneficiary_id.in_(ids))
        ):
            categories[beneficiary_id].add(category)
        assistants = dict(session.execute(
            select(Assignment.beneficiary_id, Assignment.staff_id)
            .where(Assignment.beneficiary_id.in_(ids), Assignment.ended_at.is_(None))
        ).all())
        for beneficiary_id, digest, name, phone, address, village_id in rows:
            found[digest] = BeneficiaryState(
                beneficiary_id, name, phone, address, village_id,
                frozenset(categories[beneficiary_id]), assistants.get(beneficiary_id),
            )
    return found


def load_beneficiary_refs(session: Session, rows: Iterable[tuple[BeneficiaryFields, str]]) -> BeneficiaryRefs:
    """Load, in a few queries, the regions, staff and beneficiaries the checked rows mention."""
    rows = list(rows)
    names = {rules.canonical(f.village_name) for f, _ in rows if f.village_code is None}
    villages_by_name: dict[str, list[RegionRef]] = defaultdict(list)
    if names:
        # Names are compared folded; a city has a few hundred villages, so fold them here.
        for region in _region_refs(session, Region.level == RegionLevel.VILLAGE.value):
            key = rules.canonical(region.name)
            if key in names:
                villages_by_name[key].append(region)
    return BeneficiaryRefs(
        regions_by_code=_regions_by_code(session, (f.village_code for f, _ in rows if f.village_code)),
        villages_by_name=dict(villages_by_name),
        staff_by_no=_staff_by_no(session, (f.assistant_no for f, _ in rows if f.assistant_no)),
        existing_by_hash=_existing_beneficiaries(session, (h for _, h in rows)),
    )


# --- beneficiaries: check and apply ------------------------------------------------------------------


def check_beneficiaries(session: Session, pii: PiiCipher, table: Table, *, progress: Progress | None = None) -> (
    ImportReport
):
    """Check every row of a beneficiary file against the rules and the database; writes nothing."""
    headers = map_headers(table.headers, BENEFICIARY_COLUMNS)
    if "village_code" not in headers and "village_name" not in headers:
        raise ImportFileError(MSG_MISSING_VILLAGE_HEADER)
    results: list[RowResult] = []
    hashes: list[str | None] = []
    parsed: list[tuple[RowResult, BeneficiaryFields, str]] = []
    for done, row in enumerate(table.rows, start=1):
        cells = {key: row.cells.get(header, "") for key, header in headers.items()}
        imprecise = {key for key, header in headers.items() if header in row.imprecise}
        result = RowResult(row.number, OK, None, [], row.cells)
        results.append(result)
        digest = None
        if _is_example(cells):
            result.status, result.messages = SKIPPED, [MSG_EXAMPLE_ROW]
        else:
            fields, messages = parse_beneficiary_cells(cells, imprecise)
            number = id_number.normalize(cells.get("id_number", ""))
            if id_number.is_valid(number) and "id_number" not in imprecise:
                # Duplicates are caught even on rows failing for another reason.
                digest = pii.lookup_hash(number)
            if fields is None:
                result.status, result.messages = ERROR, messages
            else:
                parsed.append((result, fields, digest))
        hashes.append(digest)
        _tick(progress, "检查", done, len(table.rows))
    refs = load_beneficiary_refs(session, ((f, h) for _, f, h in parsed))
    for result, fields, digest in parsed:
        plan, action, messages = resolve_beneficiary(fields, digest, refs)
        if plan is None:
            result.status, result.messages = ERROR, messages
        else:
            result.action, result.plan = action, plan
    _mark_duplicates(results, hashes, MSG_DUPLICATE_ID)
    return ImportReport("beneficiaries", table.filename, list(table.headers), results)


def import_beneficiaries(
    session: Session,
    pii: PiiCipher,
    table: Table,
    *,
    now: datetime,
    actor: Actor,
    accept_good_rows: bool = False,
    progress: Progress | None = None,
    ip: str | None = None,
) -> ImportReport:
    """Check, then upsert the good rows: all or nothing unless `accept_good_rows`; never commits."""
    report = check_beneficiaries(session, pii, table, progress=progress)
    if report.errors and not accept_good_rows:
        return report
    by = _actor_staff(session, actor)
    plans = [r.plan for r in report.rows if r.status == OK and r.action in (CREATE, UPDATE)]
    villages = _load_by_id(session, Region, {p.village_id for p in plans})
    assistants = _load_by_id(session, Staff, {p.assistant_id for p in plans if p.assistant_id is not None})
    done = 0
    for chunk in _chunks(plans):
        updating = _load_by_id(session, Beneficiary, {p.existing.id for p in chunk if p.existing},
                               selectinload(Beneficiary.categories))
        codes = iter(_fresh_bind_codes(session, sum(1 for p in chunk if p.existing is None)))
        for plan in chunk:
            if plan.existing is None:
                _create_beneficiary(session, pii, plan, villages, assistants, next(codes), now, by)
            else:
                _update_beneficiary(session, plan, updating[plan.existing.id], villages, assistants, now, by)
            done += 1
            _tick(progress, "写入", done, len(plans))
        # Flushed objects drop out of the identity map once unreferenced, so memory stays flat.
        session.flush()
    report.applied, report.written = True, len(plans)
    if plans:
        record_audit(session, actor, "import.beneficiaries", {**report.counts(), "format": table.format}, now, ip)
    logger.info("import=beneficiaries written=%s errors=%s", report.written, report.errors)
    return report


def _create_beneficiary(session, pii, plan: BeneficiaryPlan, villages, assistants, code, now, by) -> None:
    f = plan.fields
    person = roster.create_beneficiary(
        session, pii, name=f.name, village=villages[plan.village_id],
        categories=[BeneficiaryCategory(c) for c in f.categories], now=now,
        id_no=f.id_number, phone=f.phone, address=f.address, bind_code=code,
    )
    if plan.assistant_id is not None:
        # A new beneficiary has no assignment to end, so this is what roster.assign_assistant
        # would write, without its flush per row (a city's import is 110,000 rows).
        session.add(Assignment(
            beneficiary=person, staff=assistants[plan.assistant_id], started_at=now,
            assigned_by_staff_id=by.id if by else None, reason=ASSIGNMENT_REASON,
        ))


def _update_beneficiary(session, plan: BeneficiaryPlan, person: Beneficiary, villages, assistants, now, by) -> None:
    f = plan.fields
    person.name = f.name
    if f.phone is not None:
        person.phone = f.phone
    if f.address is not None:
        person.address = f.address
    if person.village_id != plan.village_id:
        person.village = villages[plan.village_id]
    wanted = set(f.categories)
    for link in [link for link in person.categories if link.category not in wanted]:
        person.categories.remove(link)
    have = {link.category for link in person.categories}
    for category in sorted(wanted - have):
        person.categories.append(BeneficiaryCategoryLink(category=category))
    roster.refresh_visit_plan(person)
    person.updated_at = now
    if plan.assistant_id is not None and plan.assistant_id != plan.existing.assistant_id:
        # Through the roster, which ends the old assignment and keeps it as history.
        roster.assign_assistant(session, person, assistants[plan.assistant_id], now, by=by, reason=ASSIGNMENT_REASON)


def _load_by_id(session: Session, model, ids: set[int], *options) -> dict:
    """ORM objects by id, in chunks."""
    found = {}
    for chunk in _chunks(sorted(ids)):
        stmt = select(model).where(model.id.in_(chunk)).options(*options)
        found.update((obj.id, obj) for obj in session.scalars(stmt))
    return found


def _fresh_bind_codes(session: Session, count: int) -> list[str]:
    """`count` bind codes used by nobody: at 110,000 beneficiaries a random code collides now and then."""
    codes: set[str] = set()
    while len(codes) < count:
        candidates = {roster.new_bind_code() for _ in range(count - len(codes))} - codes
        taken = set(session.scalars(select(Beneficiary.bind_code).where(Beneficiary.bind_code.in_(candidates))))
        codes |= candidates - taken
    return list(codes)


# --- staff ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StaffFields:
    """One staff row's values, each checked on its own and normalised."""

    staff_no: str
    name: str
    phone: str
    role: StaffRole
    region_code: str


@dataclass(frozen=True)
class StaffPlan:
    """What applying a good staff row does: create, or update the stored member `existing`."""

    fields: StaffFields
    region_id: int
    existing: StaffRef | None


@dataclass
class StaffRefs:
    """The slice of the database one staff file refers to."""

    regions_by_code: dict[str, RegionRef]
    staff_by_no: dict[str, StaffRef]


def parse_staff_cells(cells: dict[str, str]) -> tuple[StaffFields | None, list[str]]:
    """Check one staff row's cells (keyed by column key) on their own."""
    messages: list[str] = []
    staff_no = rules.normalize_staff_no(cells.get("staff_no"))
    if not staff_no:
        messages.append(MSG_REQUIRED.format(field="工号"))
    elif rules.staff_no_error(staff_no):
        messages.append(MSG_FIELD.format(field="工号", problem=rules.MSG_BAD_STAFF_NO))
    name = _text(cells, "name", "姓名", 64, messages, required=True)
    phone = _phone(cells, messages, required=True)
    role = None
    if not (cells.get("role") or "").strip():
        messages.append(MSG_REQUIRED.format(field="角色"))
    else:
        role = rules.parse_role(cells["role"])
        if role is None:
            messages.append(MSG_ROLE.format(allowed=ROLE_CHOICES))
    region_code = rules.canonical(cells.get("region_code"))
    if not region_code:
        messages.append(MSG_REQUIRED.format(field="所属区域代码"))
    if messages:
        return None, messages
    return StaffFields(staff_no, name, phone, role, region_code), []


def resolve_staff(fields: StaffFields, refs: StaffRefs) -> tuple[StaffPlan | None, str | None, list[str]]:
    """Check a staff row against the database snapshot: the plan and action, or the reasons not."""
    region = refs.regions_by_code.get(fields.region_code)
    if region is None:
        return None, None, [MSG_REGION_UNKNOWN]
    wanted_level = rules.ROLE_LEVEL[fields.role]
    if region.level != wanted_level.value:
        return None, None, [MSG_ROLE_LEVEL.format(
            role=rules.ROLE_LABELS[fields.role], level=rules.LEVEL_LABELS[wanted_level],
            name=region.name, actual=_level_label(region.level))]
    existing = refs.staff_by_no.get(fields.staff_no)
    if existing is None:
        return StaffPlan(fields, region.id, None), CREATE, []
    moves = existing.role != fields.role.value or existing.region_id != region.id
    if moves and existing.caseload:
        # Their beneficiaries would be left with an assistant outside their village.
        return None, None, [MSG_STAFF_HAS_CASELOAD.format(count=existing.caseload)]
    same = not moves and existing.name == fields.name and existing.phone == fields.phone
    return StaffPlan(fields, region.id, existing), (UNCHANGED if same else UPDATE), []


def check_staff(session: Session, table: Table, *, progress: Progress | None = None) -> ImportReport:
    """Check every row of a staff file against the rules and the database; writes nothing."""
    headers = map_headers(table.headers, STAFF_COLUMNS)
    results: list[RowResult] = []
    numbers: list[str | None] = []
    parsed: list[tuple[RowResult, StaffFields]] = []
    for done, row in enumerate(table.rows, start=1):
        cells = {key: row.cells.get(header, "") for key, header in headers.items()}
        result = RowResult(row.number, OK, None, [], row.cells)
        results.append(result)
        number = None
        if _is_example(cells):
            result.status, result.messages = SKIPPED, [MSG_EXAMPLE_ROW]
        else:
            number = rules.normalize_staff_no(cells.get("staff_no")) or None
            fields, messages = parse_staff_cells(cells)
            if fields is None:
                result.status, result.messages = ERROR, messages
            else:
                parsed.append((result, fields))
        numbers.append(number)
        _tick(progress, "检查", done, len(table.rows))
    refs = StaffRefs(
        regions_by_code=_regions_by_code(session, (f.region_code for _, f in parsed)),
        staff_by_no=_staff_by_no(session, (f.staff_no for _, f in parsed), with_caseload=True),
    )
    for result, fields in parsed:
        plan, action, messages = resolve_staff(fields, refs)
        if plan is None:
            result.status, result.messages = ERROR, messages
        else:
            result.action, result.plan = action, plan
    _mark_duplicates(results, numbers, MSG_DUPLICATE_STAFF_NO)
    return ImportReport("staff", table.filename, list(table.headers), results)


def import_staff(
    session: Session,
    table: Table,
    *,
    now: datetime,
    actor: Actor,
    accept_good_rows: bool = False,
    progress: Progress | None = None,
    ip: str | None = None,
) -> ImportReport:
    """Check, then upsert the good staff rows on 工号: all or nothing unless `accept_good_rows`."""
    report = check_staff(session, table, progress=progress)
    if report.errors and not accept_good_rows:
        return report
    plans = [r.plan for r in report.rows if r.status == OK and r.action in (CREATE, UPDATE)]
    regions = _load_by_id(session, Region, {p.region_id for p in plans})
    members = _load_by_id(session, Staff, {p.existing.id for p in plans if p.existing})
    for done, plan in enumerate(plans, start=1):
        f = plan.fields
        if plan.existing is None:
            roster.create_staff(session, staff_no=f.staff_no, name=f.name, phone=f.phone, role=f.role,
                                region=regions[plan.region_id], now=now)
        else:
            member = members[plan.existing.id]
            member.name, member.phone, member.role = f.name, f.phone, f.role.value
            member.region = regions[plan.region_id]
            member.updated_at = now
        _tick(progress, "写入", done, len(plans))
    session.flush()
    report.applied, report.written = True, len(plans)
    if plans:
        record_audit(session, actor, "import.staff", {**report.counts(), "format": table.format}, now, ip)
    logger.info("import=staff written=%s errors=%s", report.written, report.errors)
    return report


# --- actor and audit ----------------------------------------------------------------------------------


def _actor_staff(session: Session, actor: Actor) -> Staff | None:
    """The member of staff behind `actor`, or None for a label such as "cli"."""
    if isinstance(actor, Staff):
        return actor
    if isinstance(actor, int):
        staff = session.get(Staff, actor)
        if staff is None:
            raise ValueError(f"no staff with id {actor}")
        return staff
    return None


def record_audit(session: Session, actor: Actor, action: str, detail: dict, now: datetime,
                 ip: str | None = None) -> None:
    """One audit entry for an import or export; `detail` holds counts and filters, never personal data."""
    by = _actor_staff(session, actor)
    audit.record(session, now, action, staff=by, label=None if by else str(actor)[:64], detail=detail, ip=ip)


# --- templates and the error report -------------------------------------------------------------------

HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="2F5597")
REQUIRED_FILL = PatternFill("solid", fgColor="C00000")
EXAMPLE_FONT = Font(italic=True, color="808080")
# Enough validated rows for any village's list; data validation ranges must be finite.
VALIDATED_ROWS = 5000

BENEFICIARY_EXAMPLE = {
    "name": "示例：张三（导入时会跳过此行）",
    # A well-formed number for a person born 1 Jan 1950; not anyone's real number.
    "id_number": "42108319500101001" + id_number.check_digit("42108319500101001"),
    "phone": "13800000000",
    "categories": "低保、留守老人",
    "village_code": "421083100201",
    "address": "东湾村东头组12号",
    "assistant_no": "A0001",
}
STAFF_EXAMPLE = {
    "staff_no": "A0001",
    "name": "示例：李四（导入时会跳过此行）",
    "phone": "13900000000",
    "role": "协理员",
    "region_code": "421083100201",
}

INSTRUCTIONS = {
    "beneficiaries": [
        "服务对象导入说明",
        "1. 在“服务对象”表中从第3行起逐行填写，第2行是示例，导入时自动跳过（也可以删掉）。",
        "2. 红色列名为必填：姓名、身份证号、对象类别、所属村（社区）代码。",
        "3. 身份证号按文本填写（本模板已设好），18位，最后一位可以是X；同一身份证号只能出现一次。",
        f"4. 对象类别可填多个，用“、”分隔，可选：{CATEGORY_CHOICES}。",
        "5. 所属村（社区）代码填行政区划代码；也可以把列名改为“所属村（社区）”改填村（社区）名称（全市唯一时）。",
        "6. 协理员工号须是该村（社区）在岗协理员；留空则保持现有指派。",
        "7. 已登记过的身份证号会更新姓名、电话、住址、类别和村（社区）；空白格不会覆盖已有信息。",
        "8. 有错误时整份文件都不会导入，请下载错误报告改正后重新导入，或确认只导入正确的行。",
    ],
    "staff": [
        "工作人员导入说明",
        "1. 在“工作人员”表中从第3行起逐行填写，第2行是示例，导入时自动跳过（也可以删掉）。",
        "2. 所有列均为必填；工号已存在时更新该工作人员的姓名、电话、角色和区域。",
        f"3. 角色可选：{ROLE_CHOICES}。",
        "4. 协理员填所在村（社区）代码，乡镇民政助理员填乡镇（街道）代码，市级督办和管理员填市代码。",
        "5. 仍负责服务对象的协理员不能通过导入调整角色或区域，请先在服务地图上转派。",
    ],
}


def _styled_header(sheet, columns: Sequence[Column]) -> None:
    """Header row: coloured, required columns in red, each with its hint as a comment."""
    for i, column in enumerate(columns, start=1):
        cell = sheet.cell(row=1, column=i, value=column.header)
        cell.font = HEADER_FONT
        cell.fill = REQUIRED_FILL if column.required else HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center")
        if column.hint:
            cell.comment = Comment(column.hint, "三直达")
        letter = get_column_letter(i)
        sheet.column_dimensions[letter].width = column.width
        if column.text:
            sheet.column_dimensions[letter].number_format = "@"
    sheet.freeze_panes = "A2"
    sheet.row_dimensions[1].height = 22


def _template(kind: str, title: str, columns: Sequence[Column], example: dict[str, str],
              reference: tuple[str, list[str], list[tuple]] | None) -> bytes:
    """A template workbook: data sheet with header, example and validations, instructions, reference list."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title
    columns = [c for c in columns if c.in_template]
    _styled_header(sheet, columns)
    for i, column in enumerate(columns, start=1):
        cell = sheet.cell(row=2, column=i, value=example.get(column.key, ""))
        cell.font = EXAMPLE_FONT
        if column.text:
            cell.number_format = "@"
    letters = {c.key: get_column_letter(i) for i, c in enumerate(columns, start=1)}
    last = VALIDATED_ROWS + 1
    if "categories" in letters:
        # Several categories are allowed in one cell, so the list suggests but does not refuse.
        rule = DataValidation(type="list", formula1='"' + ",".join(c.value for c in BeneficiaryCategory) + '"',
                              allow_blank=True, showErrorMessage=False, showInputMessage=True,
                              promptTitle="对象类别", prompt="可填多个，用“、”分隔")
        rule.add(f"{letters['categories']}2:{letters['categories']}{last}")
        sheet.add_data_validation(rule)
    if "role" in letters:
        rule = DataValidation(type="list", formula1='"' + ",".join(rules.ROLE_LABELS.values()) + '"',
                              allow_blank=False, showErrorMessage=True, errorTitle="角色",
                              error=f"请选择：{ROLE_CHOICES}")
        rule.add(f"{letters['role']}2:{letters['role']}{last}")
        sheet.add_data_validation(rule)
    notes = workbook.create_sheet("填写说明")
    notes.column_dimensions["A"].width = 110
    for line in INSTRUCTIONS[kind]:
        notes.append([line])
    notes["A1"].font = Font(bold=True, size=14)
    if reference is not None:
        ref_title, ref_headers, ref_rows = reference
        ref = workbook.create_sheet(ref_title)
        ref.append(ref_headers)
        for cell in ref[1]:
            cell.font = Font(bold=True)
        for row in ref_rows:
            ref.append(list(row))
        for i in range(1, len(ref_headers) + 1):
            ref.column_dimensions[get_column_letter(i)].width = 20
        ref.freeze_panes = "A2"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def beneficiary_template(session: Session | None = None) -> bytes:
    """The beneficiary import template (.xlsx); with a session, a sheet of village codes and assistants."""
    reference = None
    if session is not None:
        town = aliased(Region)
        rows = session.execute(
            select(Region.code, Region.name, town.name, Staff.staff_no, Staff.name)
            .join(town, town.id == Region.parent_id)
            .outerjoin(Staff, (Staff.region_id == Region.id) & (Staff.role == StaffRole.ASSISTANT.value)
                       & Staff.active.is_(True))
            .where(Region.level == RegionLevel.VILLAGE.value)
            .order_by(Region.code, Staff.staff_no)
        ).all()
        reference = ("村（社区）代码", ["村（社区）代码", "村（社区）", "乡镇（街道）", "协理员工号", "协理员"],
                     [tuple("" if v is None else v for v in row) for row in rows])
    return _template("beneficiaries", "服务对象", BENEFICIARY_COLUMNS, BENEFICIARY_EXAMPLE, reference)


def staff_template(session: Session | None = None) -> bytes:
    """The staff import template (.xlsx); with a session, a sheet of every region's code."""
    reference = None
    if session is not None:
        parent = aliased(Region)
        rows = session.execute(
            select(Region.code, Region.name, Region.level, parent.name)
            .outerjoin(parent, parent.id == Region.parent_id)
            .order_by(Region.code)
        ).all()
        reference = ("区域代码", ["区域代码", "名称", "级别", "上级区域"],
                     [(code, name, _level_label(level), up or "") for code, name, level, up in rows])
    return _template("staff", "工作人员", STAFF_COLUMNS, STAFF_EXAMPLE, reference)


def error_report(report: ImportReport) -> bytes:
    """The rows at fault as .xlsx: the original columns plus 行号, 结果, 问题; ID numbers masked."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("错误报告")
    # A corrected report imported again already carries these columns: list them once.
    extras = {_header_key(h) for h in REPORT_EXTRA_HEADERS}
    original = [h for h in report.headers if _header_key(h) not in extras]
    headers = [*original, *REPORT_EXTRA_HEADERS]
    for i, header in enumerate(headers, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = 40 if header == "问题" else 16
    sheet.freeze_panes = "A2"
    sheet.append(headers)
    for result in report.error_rows():
        cells = report.masked_cells(result)
        sheet.append([*(cells.get(h, "") for h in original), result.row, RESULT_ERROR,
                      "；".join(result.messages)])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
