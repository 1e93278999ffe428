"""Checks of single rows of the 包联 files, pure: the duty rota, the village split and the
departments' liaisons. Each cell on its own first (`parse_*`), then the row against a snapshot of
the database (`resolve_*`), as `validate` does for beneficiaries and staff.

A blank 副责任人/副联络员 cell keeps what is stored; 默认 hands a place back to the default spread.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from openpyxl.utils.datetime import from_excel

from models.enums import RegionLevel, StaffRole
from services.imports.columns import level_label
from services.imports.report import CREATE, UNCHANGED, UPDATE
from services.imports.validate import RegionRef, StaffRef
from services.imports.wording import (
    DEFAULT_WORD,
    MSG_CHAIN_NOT_A_VILLAGE,
    MSG_CHAIN_VILLAGE_MISMATCH,
    MSG_CHAIN_VILLAGE_UNKNOWN,
    MSG_DEPARTMENT_UNKNOWN,
    MSG_FIELD,
    MSG_NAME_MISMATCH,
    MSG_NOT_LIAISON,
    MSG_NOT_TOWN_OFFICER,
    MSG_OUTSIDE_CITY,
    MSG_REQUIRED,
    MSG_SAME_PERSON,
    MSG_SHIFT_ORDER,
    MSG_SHIFT_OVERLAP_STORED,
    MSG_SHIFT_TOO_LONG,
    MSG_STAFF_UNKNOWN,
    MSG_TIME_UNREADABLE,
    MSG_TOO_LONG,
)
from services.policy import validate as rules

# Excel's serial day numbers of 2000-01-01 and 2100-01-01: a bare number in between is a date.
_EXCEL_SERIALS = (36526, 73051)
_TIME_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d")


def parse_local_time(raw: str, tz: ZoneInfo) -> datetime | None:
    """A local date and time as offices write it ("2026-12-01 17:30", "2026/12/1 8:30", "2026年12月1日
    17:30", an Excel date-time cell, or its serial number), to the minute, aware; None when unreadable."""
    text = (raw or "").strip()
    text = text.replace("年", "-").replace("月", "-").replace("日", " ").replace("/", "-").replace("T", " ")
    text = " ".join(text.split())
    moment = None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        for fmt in _TIME_FORMATS:
            try:
                moment = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
    if moment is None:
        try:
            serial = float(text)
        except ValueError:
            return None
        if not _EXCEL_SERIALS[0] <= serial < _EXCEL_SERIALS[1]:
            return None
        moment = from_excel(serial)
    # Excel keeps times as fractions of a day, which come back a hair off the minute.
    moment = (moment + timedelta(seconds=30)).replace(second=0, microsecond=0)
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def _staff_no(cells: dict[str, str], key: str, label: str, messages: list[str], *, required: bool,
              default_allowed: bool = False) -> str | None:
    """A 工号 cell: normalised, DEFAULT_WORD kept as is, None when blank."""
    raw = (cells.get(key) or "").strip()
    if not raw:
        if required:
            messages.append(MSG_REQUIRED.format(field=label))
        return None
    if default_allowed and raw == DEFAULT_WORD:
        return DEFAULT_WORD
    number = rules.normalize_staff_no(raw)
    if rules.staff_no_error(number):
        messages.append(MSG_FIELD.format(field=label, problem=rules.MSG_BAD_STAFF_NO))
        return None
    return number


# --- the duty rota ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DutyFields:
    """One rota row: who, from when, until when (aware)."""

    staff_no: str
    name: str | None
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class DutyPlan:
    """A good rota row: the shift to add."""

    fields: DutyFields
    staff_id: int


@dataclass(frozen=True)
class StoredShift:
    """A shift already on the rota, as the checks compare rows with it."""

    staff_id: int
    starts_at: datetime
    ends_at: datetime


@dataclass
class DutyRefs:
    """The slice of the database a rota file refers to."""

    staff_by_no: dict[str, StaffRef]
    shifts_by_staff: dict[int, list[StoredShift]]
    # When set, only staff of this city may go on the rota (the importing administrator's city).
    city_id: int | None = None


def parse_duty_cells(cells: dict[str, str], tz: ZoneInfo, max_hours: int) -> tuple[DutyFields | None, list[str]]:
    """Check one rota row's cells on their own."""
    messages: list[str] = []
    staff_no = _staff_no(cells, "staff_no", "工号", messages, required=True)
    times = {}
    for key, label in (("starts_at", "开始时间"), ("ends_at", "结束时间")):
        raw = (cells.get(key) or "").strip()
        if not raw:
            messages.append(MSG_REQUIRED.format(field=label))
            continue
        times[key] = parse_local_time(raw, tz)
        if times[key] is None:
            messages.append(MSG_TIME_UNREADABLE.format(field=label, raw=raw[:30]))
    start, end = times.get("starts_at"), times.get("ends_at")
    if start is not None and end is not None:
        if end <= start:
            messages.append(MSG_SHIFT_ORDER)
        elif end - start > timedelta(hours=max_hours):
            messages.append(MSG_SHIFT_TOO_LONG.format(hours=max_hours))
    if messages:
        return None, messages
    return DutyFields(staff_no, (cells.get("name") or "").strip() or None, start, end), []


def _liaison_problem(staff: StaffRef | None, number: str, label: str, city_id: int | None) -> str | None:
    if staff is None:
        return MSG_STAFF_UNKNOWN.format(field=label, no=number)
    if staff.role != StaffRole.CITY_SUPERVISOR.value or not staff.active:
        return MSG_NOT_LIAISON.format(field=label, no=staff.staff_no, name=staff.name)
    if city_id is not None and staff.region_id != city_id:
        return MSG_OUTSIDE_CITY.format(field=label)
    return None


def resolve_duty(fields: DutyFields, refs: DutyRefs, tz: ZoneInfo) -> tuple[DutyPlan | None, str | None, list[str]]:
    """Check a rota row against the database: a new shift, the very same shift again, or why not."""
    staff = refs.staff_by_no.get(fields.staff_no)
    problem = _liaison_problem(staff, fields.staff_no, "工号", refs.city_id)
    if problem:
        return None, None, [problem]
    if fields.name is not None and rules.canonical(fields.name) != rules.canonical(staff.name):
        return None, None, [MSG_NAME_MISMATCH.format(no=staff.staff_no, name=staff.name, given=fields.name)]
    for shift in refs.shifts_by_staff.get(staff.id, []):
        if (shift.starts_at, shift.ends_at) == (fields.starts_at, fields.ends_at):
            return DutyPlan(fields, staff.id), UNCHANGED, []
        if shift.starts_at < fields.ends_at and shift.ends_at > fields.starts_at:
            local = "%m-%d %H:%M"
            return None, None, [MSG_SHIFT_OVERLAP_STORED.format(
                name=staff.name, start=shift.starts_at.astimezone(tz).strftime(local),
                end=shift.ends_at.astimezone(tz).strftime(local))]
    return DutyPlan(fields, staff.id), CREATE, []


# --- the village split and the departments' liaisons ------------------------------------------------


@dataclass(frozen=True)
class PairFields:
    """One row naming a unit's two people: a village (by code) or a department (by code)."""

    code: str
    name: str | None
    responsible_no: str
    # None: keep what is stored; DEFAULT_WORD: back to the default spread.
    deputy_no: str | None


@dataclass(frozen=True)
class PairPlan:
    """A good row: the unit and who to name (None: by default); `unit_id` is None for a department
    the city does not have yet (created from the policy)."""

    fields: PairFields
    unit_id: int | None
    responsible_id: int | None
    deputy_id: int | None
    name: str | None = None


@dataclass(frozen=True)
class StoredPair:
    """What is stored for a village or a department: its two people (None: by default), its name."""

    unit_id: int
    responsible_id: int | None
    deputy_id: int | None
    name: str | None = None


@dataclass
class VillageOfficerRefs:
    """The slice of the database a village-split file refers to."""

    regions_by_code: dict[str, RegionRef]
    towns: dict[int, RegionRef]
    staff_by_no: dict[str, StaffRef]
    staff_by_id: dict[int, StaffRef]
    stored: dict[int, StoredPair]
    city_id: int | None = None


@dataclass
class DepartmentRefs:
    """The slice of the database a departments file refers to: one city's."""

    city_id: int
    stored_by_code: dict[str, StoredPair]
    policy_names: dict[str, str]
    staff_by_no: dict[str, StaffRef]
    staff_by_id: dict[int, StaffRef] = field(default_factory=dict)


def parse_pair_cells(cells: dict[str, str], code_key: str, labels: tuple[str, str, str]) -> tuple[
    PairFields | None, list[str]
]:
    """Check a village-split or department row's cells on their own; `labels` name the code,
    responsible and deputy columns."""
    messages: list[str] = []
    code = rules.canonical(cells.get(code_key)) or None
    if code is None:
        messages.append(MSG_REQUIRED.format(field=labels[0]))
    responsible = _staff_no(cells, "responsible_no", labels[1], messages, required=True, default_allowed=True)
    deputy = _staff_no(cells, "deputy_no", labels[2], messages, required=False, default_allowed=True)
    if messages:
        return None, messages
    return PairFields(code, (cells.get("name") or "").strip() or None, responsible, deputy), []


def _person(number: str | None, stored_id: int | None, refs, labels: tuple[str, str], check) -> tuple[
    int | None, str | None
]:
    """The id to name for one place (None: by default) from its cell, or the reason not. A blank cell
    keeps the stored person while they may still stand there."""
    if number == DEFAULT_WORD:
        return None, None
    if number is None:
        kept = refs.staff_by_id.get(stored_id) if stored_id is not None else None
        return (stored_id, None) if kept is not None and check(kept, labels[1]) is None else (None, None)
    staff = refs.staff_by_no.get(number)
    problem = check(staff, labels[1]) if staff is not None else MSG_STAFF_UNKNOWN.format(field=labels[1], no=number)
    return (None, problem) if problem else (staff.id, None)


def _pair(fields: PairFields, stored: StoredPair | None, refs, labels: tuple[str, str, str], check) -> tuple[
    int | None, int | None, list[str]
]:
    responsible, problem = _person(fields.responsible_no, None, refs, (labels[0], labels[1]), check)
    deputy, deputy_problem = _person(fields.deputy_no, stored.deputy_id if stored else None, refs,
                                     (labels[0], labels[2]), check)
    messages = [m for m in (problem, deputy_problem) if m]
    if not messages and responsible is not None and responsible == deputy:
        messages.append(MSG_SAME_PERSON.format(field=labels[2], other=labels[1]))
    return responsible, deputy, messages


def _action(stored: StoredPair | None, responsible: int | None, deputy: int | None, name: str | None) -> str:
    if stored is None:
        return CREATE
    same = (stored.responsible_id, stored.deputy_id) == (responsible, deputy) and (name is None or name == stored.name)
    return UNCHANGED if same else UPDATE


VILLAGE_LABELS = ("村（社区）代码", "责任人工号", "副责任人工号")
DEPARTMENT_LABELS = ("部门代码", "负责联络员工号", "副联络员工号")
DEPARTMENT_NAME_MAX = 64


def resolve_village_officers(fields: PairFields, refs: VillageOfficerRefs) -> tuple[
    PairPlan | None, str | None, list[str]
]:
    """Check a village-split row against the database: the village, and town officers of its town."""
    village = refs.regions_by_code.get(fields.code)
    if village is None:
        return None, None, [MSG_CHAIN_VILLAGE_UNKNOWN]
    if village.level != RegionLevel.VILLAGE.value:
        return None, None, [MSG_CHAIN_NOT_A_VILLAGE.format(name=village.name, level=level_label(village.level))]
    if fields.name is not None and rules.canonical(fields.name) != rules.canonical(village.name):
        return None, None, [MSG_CHAIN_VILLAGE_MISMATCH.format(by_code=village.name, name=fields.name)]
    town = refs.towns[village.parent_id]
    if refs.city_id is not None and town.parent_id != refs.city_id:
        return None, None, [MSG_OUTSIDE_CITY.format(field=VILLAGE_LABELS[0])]

    def check(staff: StaffRef, label: str) -> str | None:
        if staff.role != StaffRole.TOWN_OFFICER.value or not staff.active or staff.region_id != town.id:
            return MSG_NOT_TOWN_OFFICER.format(field=label, no=staff.staff_no, name=staff.name, town=town.name)
        return None

    stored = refs.stored.get(village.id)
    responsible, deputy, messages = _pair(fields, stored, refs, VILLAGE_LABELS, check)
    if messages:
        return None, None, messages
    action = _action(stored, responsible, deputy, None)
    if stored is None and responsible is None and deputy is None:
        action = UNCHANGED  # 默认 for a village nobody named: nothing to write
    return PairPlan(fields, village.id, responsible, deputy), action, []


def resolve_department(fields: PairFields, refs: DepartmentRefs) -> tuple[PairPlan | None, str | None, list[str]]:
    """Check a department row against the city's departments (or the policy's) and its liaisons."""
    # Department codes are lower case (they are what CATEGORY_DEPARTMENT names).
    fields = replace(fields, code=fields.code.lower())
    stored = refs.stored_by_code.get(fields.code)
    if stored is None and fields.code not in refs.policy_names:
        return None, None, [MSG_DEPARTMENT_UNKNOWN.format(code=fields.code)]
    if fields.name is not None and len(fields.name) > DEPARTMENT_NAME_MAX:
        return None, None, [MSG_TOO_LONG.format(field="部门名称", max=DEPARTMENT_NAME_MAX)]

    def check(staff: StaffRef, label: str) -> str | None:
        return _liaison_problem(staff, staff.staff_no, label, refs.city_id)

    responsible, deputy, messages = _pair(fields, stored, refs, DEPARTMENT_LABELS, check)
    if messages:
        return None, None, messages
    return (PairPlan(fields, stored.unit_id if stored else None, responsible, deputy, fields.name),
            _action(stored, responsible, deputy, fields.name), [])
