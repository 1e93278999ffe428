"""Checking and importing the 包联 files: the duty rota, the village split and the departments' liaisons.

`check_*` read every row, load the slice of the database they mention and plan each row; `import_*`
check, then write the good rows through `services.responsibility_admin` (which checks and audits
each change again) and add one audit entry for the import. Nothing here commits.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from config import policy
from models import Department, Region, Staff, VillageOfficers
from services import audit
from services import responsibility_admin as chain_admin
from services import responsibility_views as views
from services.errors import DomainError
from services.imports.apply import Progress, _load_by_id, _tick
from services.imports.chain_checks import (
    DEFAULT_WORD,
    DEPARTMENT_LABELS,
    VILLAGE_LABELS,
    DepartmentRefs,
    DutyFields,
    DutyRefs,
    PairFields,
    StoredPair,
    StoredShift,
    VillageOfficerRefs,
    parse_duty_cells,
    parse_pair_cells,
    resolve_department,
    resolve_duty,
    resolve_village_officers,
)
from services.imports.columns import DEPARTMENT_COLUMNS, DUTY_COLUMNS, VILLAGE_OFFICER_COLUMNS, Column
from services.imports.read import ImportFileError, Table, map_headers
from services.imports.report import CREATE, ERROR, OK, SKIPPED, UPDATE, ImportReport, RowResult
from services.imports.snapshot import _regions_by_code, _staff_by_no, chunks
from services.imports.validate import RegionRef, is_example, mark_duplicates
from services.imports.wording import (
    MSG_DUPLICATE_DEPARTMENT,
    MSG_DUPLICATE_VILLAGE,
    MSG_EXAMPLE_ROW,
    MSG_NO_CITY,
    MSG_SEVERAL_CITIES,
    MSG_SHIFT_OVERLAP_ROWS,
)
from services.policy import validate as rules

logger = logging.getLogger("services.imports")


def _parse_rows(table: Table, columns: Sequence[Column], parse: Callable, key: Callable,
                progress: Progress | None) -> tuple[list[RowResult], list[str | None], list[tuple[RowResult, object]]]:
    """Every row's cells checked on their own: the results, each row's key for duplicates, the parsed rows."""
    headers = map_headers(table.headers, columns)
    results, keys, parsed = [], [], []
    for done, row in enumerate(table.rows, start=1):
        cells = {name: row.cells.get(header, "") for name, header in headers.items()}
        result = RowResult(row.number, OK, None, [], row.cells)
        results.append(result)
        if is_example(cells):
            result.status, result.messages = SKIPPED, [MSG_EXAMPLE_ROW]
            keys.append(None)
        else:
            keys.append(key(cells))
            fields, messages = parse(cells)
            if fields is None:
                result.status, result.messages = ERROR, messages
            else:
                parsed.append((result, fields))
        _tick(progress, "检查", done, len(table.rows))
    return results, keys, parsed


def _resolve(parsed: list[tuple[RowResult, object]], resolve: Callable) -> None:
    for result, fields in parsed:
        plan, action, messages = resolve(fields)
        if plan is None:
            result.status, result.messages = ERROR, messages
        else:
            result.action, result.plan = action, plan


def _staff_by_id(session: Session, ids: Iterable[int]) -> dict:
    """Staff by id, as the checks see them."""
    ids = sorted(set(ids))
    numbers = []
    for chunk in chunks(ids):
        numbers += session.scalars(select(Staff.staff_no).where(Staff.id.in_(chunk))).all()
    return {ref.id: ref for ref in _staff_by_no(session, numbers).values()}


def _numbers(fields: Iterable[PairFields]) -> set[str]:
    return {n for f in fields for n in (f.responsible_no, f.deputy_no) if n and n != DEFAULT_WORD}


def _writes(report: ImportReport) -> list:
    return [r.plan for r in report.rows if r.status == OK and r.action in (CREATE, UPDATE)]


def _finish(session: Session, report: ImportReport, written: int, actor: audit.Actor, table: Table,
            now: datetime, ip: str | None) -> ImportReport:
    report.applied, report.written = True, written
    if written:
        audit.record_by(session, actor, f"import.{report.kind}", {**report.counts(), "format": table.format}, now, ip)
    logger.info("import=%s written=%s errors=%s", report.kind, report.written, report.errors)
    return report


def _actor_city(session: Session, actor: audit.Actor) -> tuple[Staff | None, int | None]:
    """The member of staff importing, and the city they may change (None: any, e.g. the CLI)."""
    by = audit.actor_staff(session, actor)
    city = views.city_of(session, by.region_id) if by is not None else None
    return by, city.id if city else None


# --- the duty rota ---------------------------------------------------------------------------------


def _mark_overlapping_rows(parsed: list[tuple[RowResult, DutyFields]]) -> None:
    """Fail rows putting one person on duty twice at once, naming the other rows."""
    by_staff: dict[str, list[tuple[RowResult, DutyFields]]] = defaultdict(list)
    for result, fields in parsed:
        by_staff[fields.staff_no].append((result, fields))
    for rows in by_staff.values():
        for result, fields in rows:
            others = [o.row for o, f in rows if o is not result
                      and f.starts_at < fields.ends_at and f.ends_at > fields.starts_at]
            if others:
                result.error(MSG_SHIFT_OVERLAP_ROWS.format(rows="、".join(map(str, others))))


def check_duty(session: Session, table: Table, *, tz: ZoneInfo, city_id: int | None = None,
               progress: Progress | None = None) -> ImportReport:
    """Check every row of a rota file (工号, 开始时间, 结束时间; local times in `tz`); writes nothing."""
    results, _, parsed = _parse_rows(
        table, DUTY_COLUMNS, lambda cells: parse_duty_cells(cells, tz, policy.DUTY_SHIFT_MAX_HOURS),
        lambda _cells: None, progress)
    fields = [f for _, f in parsed]
    staff = _staff_by_no(session, (f.staff_no for f in fields))
    shifts: dict[int, list[StoredShift]] = defaultdict(list)
    if fields and staff:
        start, end = min(f.starts_at for f in fields), max(f.ends_at for f in fields)
        for shift in views.shifts_between(session, start, end):
            if shift.staff_id in {s.id for s in staff.values()}:
                shifts[shift.staff_id].append(StoredShift(shift.staff_id, shift.starts_at, shift.ends_at))
    refs = DutyRefs(staff, dict(shifts), city_id)
    _resolve(parsed, lambda f: resolve_duty(f, refs, tz))
    _mark_overlapping_rows(parsed)
    return ImportReport("duty", table.filename, list(table.headers), results)


def import_duty(session: Session, table: Table, *, tz: ZoneInfo, now: datetime, actor: audit.Actor,
                accept_good_rows: bool = False, progress: Progress | None = None,
                ip: str | None = None) -> ImportReport:
    """Check, then add the good rows' shifts: all or nothing unless `accept_good_rows`; never commits.
    A shift already on the rota exactly as in the file is left alone."""
    by, city_id = _actor_city(session, actor)
    report = check_duty(session, table, tz=tz, city_id=city_id, progress=progress)
    if report.errors and not accept_good_rows:
        return report
    plans = _writes(report)
    staff = _load_by_id(session, Staff, {p.staff_id for p in plans})
    try:
        for done, plan in enumerate(plans, start=1):
            chain_admin.add_duty_shift(session, staff[plan.staff_id], plan.fields.starts_at, plan.fields.ends_at,
                                       now, by=by)
            _tick(progress, "写入", done, len(plans))
    except DomainError as refused:
        # The checks mirror the service's; this is a change made meanwhile by someone else.
        raise ImportFileError(refused.message) from None
    return _finish(session, report, len(plans), actor, table, now, ip)


# --- the village split -------------------------------------------------------------------------------


def check_village_officers(session: Session, table: Table, *, city_id: int | None = None,
                           progress: Progress | None = None) -> ImportReport:
    """Check every row of a village-split file (村（社区）代码, 责任人工号, 副责任人工号); writes nothing."""
    results, keys, parsed = _parse_rows(
        table, VILLAGE_OFFICER_COLUMNS, lambda cells: parse_pair_cells(cells, "village_code", VILLAGE_LABELS),
        lambda cells: rules.canonical(cells.get("village_code")) or None, progress)
    fields = [f for _, f in parsed]
    regions = _regions_by_code(session, (f.code for f in fields))
    village_ids = [r.id for r in regions.values()]
    towns = {r.id: r for r in _regions_by_id(session, {r.parent_id for r in regions.values() if r.parent_id})}
    stored = {}
    for chunk in chunks(village_ids):
        for row in session.scalars(select(VillageOfficers).where(VillageOfficers.village_id.in_(chunk))):
            stored[row.village_id] = StoredPair(row.village_id, row.responsible_staff_id, row.deputy_staff_id)
    refs = VillageOfficerRefs(regions, towns, _staff_by_no(session, _numbers(fields)),
                              _staff_by_id(session, (s.deputy_id for s in stored.values() if s.deputy_id)),
                              stored, city_id)
    _resolve(parsed, lambda f: resolve_village_officers(f, refs))
    mark_duplicates(results, keys, MSG_DUPLICATE_VILLAGE)
    return ImportReport("village_officers", table.filename, list(table.headers), results)


def _regions_by_id(session: Session, ids: set[int]) -> list[RegionRef]:
    return [RegionRef(r.id, r.code, r.name, r.level, r.parent_id) for r in _load_by_id(session, Region, ids).values()]


def import_village_officers(session: Session, table: Table, *, now: datetime, actor: audit.Actor,
                            accept_good_rows: bool = False, progress: Progress | None = None,
                            ip: str | None = None) -> ImportReport:
    """Check, then name each good row's responsible officer and deputy; all or nothing unless
    `accept_good_rows`; never commits."""
    by, city_id = _actor_city(session, actor)
    report = check_village_officers(session, table, city_id=city_id, progress=progress)
    if report.errors and not accept_good_rows:
        return report
    plans = _writes(report)
    villages = _load_by_id(session, Region, {p.unit_id for p in plans})
    staff = _load_by_id(session, Staff, {i for p in plans for i in (p.responsible_id, p.deputy_id) if i})
    try:
        for done, plan in enumerate(plans, start=1):
            chain_admin.set_village_officers(session, villages[plan.unit_id], staff.get(plan.responsible_id),
                                             staff.get(plan.deputy_id), now, by=by)
            _tick(progress, "写入", done, len(plans))
    except DomainError as refused:
        raise ImportFileError(refused.message) from None
    return _finish(session, report, len(plans), actor, table, now, ip)


# --- the departments' liaisons --------------------------------------------------------------------------


def _the_city(session: Session, city_id: int | None) -> Region:
    """The city whose departments a file sets: the importer's, else the only one there is."""
    if city_id is not None:
        return session.get(Region, city_id)
    found = views.cities(session)
    if not found:
        raise ImportFileError(MSG_NO_CITY)
    if len(found) > 1:
        raise ImportFileError(MSG_SEVERAL_CITIES)
    return found[0]


def check_departments(session: Session, table: Table, *, city_id: int | None = None,
                      progress: Progress | None = None) -> ImportReport:
    """Check every row of a departments file (部门代码, 部门名称, 负责联络员工号, 副联络员工号); writes nothing."""
    city = _the_city(session, city_id)
    results, keys, parsed = _parse_rows(
        table, DEPARTMENT_COLUMNS, lambda cells: parse_pair_cells(cells, "code", DEPARTMENT_LABELS),
        lambda cells: rules.canonical(cells.get("code")).lower() or None, progress)
    stored = {d.code: StoredPair(d.id, d.responsible_staff_id, d.deputy_staff_id, d.name)
              for d in session.scalars(select(Department).where(Department.city_id == city.id))}
    refs = DepartmentRefs(city.id, stored, dict(policy.DEPARTMENTS),
                          _staff_by_no(session, _numbers(f for _, f in parsed)),
                          _staff_by_id(session, (s.deputy_id for s in stored.values() if s.deputy_id)))
    _resolve(parsed, lambda f: resolve_department(f, refs))
    mark_duplicates(results, keys, MSG_DUPLICATE_DEPARTMENT)
    return ImportReport("departments", table.filename, list(table.headers), results)


def import_departments(session: Session, table: Table, *, now: datetime, actor: audit.Actor,
                       accept_good_rows: bool = False, progress: Progress | None = None,
                       ip: str | None = None) -> ImportReport:
    """Check, then add, rename and name the liaisons of each good row's department; never commits."""
    by, city_id = _actor_city(session, actor)
    report = check_departments(session, table, city_id=city_id, progress=progress)
    if report.errors and not accept_good_rows:
        return report
    city = _the_city(session, city_id)
    plans = _writes(report)
    departments = _load_by_id(session, Department, {p.unit_id for p in plans if p.unit_id})
    staff = _load_by_id(session, Staff, {i for p in plans for i in (p.responsible_id, p.deputy_id) if i})
    try:
        for done, plan in enumerate(plans, start=1):
            department = departments.get(plan.unit_id) or views.department_to_change(
                session, city, plan.fields.code, now, by=by)
            name = plan.name
            if name is not None and name != department.name:
                chain_admin.rename_department(session, department, name, now, by=by)
            chain_admin.set_department_liaisons(session, department, staff.get(plan.responsible_id),
                                                staff.get(plan.deputy_id), now, by=by)
            _tick(progress, "写入", done, len(plans))
    except DomainError as refused:
        raise ImportFileError(refused.message) from None
    return _finish(session, report, len(plans), actor, table, now, ip)
