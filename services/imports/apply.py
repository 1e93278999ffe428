"""Checking a whole file against the database, and writing its good rows: the entry points of an import.

`check_*` read the file's rows, load the snapshot they mention and plan every row; `import_*`
check, then create or update in chunks and record one audit entry. Nothing here commits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from models import Assignment, Beneficiary, BeneficiaryCategoryLink, Region, Staff
from models.enums import BeneficiaryCategory
from services import audit, checkins, roster
from services.imports.columns import BENEFICIARY_COLUMNS, STAFF_COLUMNS
from services.imports.read import ImportFileError, Table, map_headers
from services.imports.report import CREATE, ERROR, OK, SKIPPED, UPDATE, ImportReport, RowResult
from services.imports.snapshot import chunks, load_beneficiary_refs, load_staff_refs
from services.imports.validate import (
    BeneficiaryFields,
    BeneficiaryPlan,
    StaffFields,
    is_example,
    mark_duplicates,
    parse_beneficiary_cells,
    parse_staff_cells,
    resolve_beneficiary,
    resolve_staff,
)
from services.imports.wording import (
    MSG_DUPLICATE_ID,
    MSG_DUPLICATE_STAFF_NO,
    MSG_EXAMPLE_ROW,
    MSG_MISSING_VILLAGE_HEADER,
    MSG_OUTSIDE_SCOPE,
)
from services.pii import PiiCipher
from services.scope import EVERYWHERE, Scope, scope_for
from services.scope import regions as regions_in
from services.policy import id_number
from services.policy import validate as rules

# The package's name, as before the split: log lines read logger=services.imports.
logger = logging.getLogger("services.imports")

Progress = Callable[[str, int], None]
PROGRESS_EVERY = 1000
ASSIGNMENT_REASON = "import"


def _tick(progress: Progress | None, phase: str, done: int, total: int) -> None:
    """Report every PROGRESS_EVERY rows and at the end."""
    if progress is not None and (done % PROGRESS_EVERY == 0 or done == total):
        progress(phase, done)


# --- beneficiaries ---------------------------------------------------------------------------------


def _importer_scope(session: Session, actor: audit.Actor) -> Scope:
    """Where the importing member of staff may write (a city's administrator: their city); the CLI anywhere."""
    by = audit.actor_staff(session, actor)
    return scope_for(by) if by is not None else EVERYWHERE


def _refuse_outside(session: Session, scope: Scope, rows: list[tuple[RowResult, set[int]]]) -> None:
    """Fail the rows that would write to, or move someone from, a region outside the scope."""
    if scope.is_province or not rows:
        return
    wanted = set().union(*(ids for _, ids in rows))
    inside = set(session.scalars(regions_in(scope, select(Region.id).where(Region.id.in_(wanted)))))
    for result, ids in rows:
        if not ids <= inside:
            result.error(MSG_OUTSIDE_SCOPE)


def check_beneficiaries(session: Session, pii: PiiCipher, table: Table, *, progress: Progress | None = None,
                        scope: Scope = EVERYWHERE) -> ImportReport:
    """Check every row of a beneficiary file against the rules, the database and the importer's
    scope; writes nothing."""
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
        if is_example(cells):
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
    _refuse_outside(session, scope, [
        (r, {r.plan.village_id} | ({r.plan.existing.village_id} if r.plan.existing else set()))
        for r, _, _ in parsed if r.plan is not None])
    mark_duplicates(results, hashes, MSG_DUPLICATE_ID)
    return ImportReport("beneficiaries", table.filename, list(table.headers), results)


def import_beneficiaries(
    session: Session,
    pii: PiiCipher,
    table: Table,
    *,
    now: datetime,
    actor: audit.Actor,
    accept_good_rows: bool = False,
    progress: Progress | None = None,
    ip: str | None = None,
) -> ImportReport:
    """Check, then upsert the good rows: all or nothing unless `accept_good_rows`; never commits."""
    report = check_beneficiaries(session, pii, table, progress=progress, scope=_importer_scope(session, actor))
    if report.errors and not accept_good_rows:
        return report
    by = audit.actor_staff(session, actor)
    plans = [r.plan for r in report.rows if r.status == OK and r.action in (CREATE, UPDATE)]
    villages = _load_by_id(session, Region, {p.village_id for p in plans})
    assistants = _load_by_id(session, Staff, {p.assistant_id for p in plans if p.assistant_id is not None})
    done = 0
    for chunk in chunks(plans):
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
        audit.record_by(session, actor, "import.beneficiaries", {**report.counts(), "format": table.format}, now, ip)
    logger.info("import=beneficiaries written=%s errors=%s", report.written, report.errors)
    return report


def _create_beneficiary(session, pii, plan: BeneficiaryPlan, villages, assistants, code, now, by) -> None:
    """Add the planned new beneficiary, and its assignment when the row names an assistant."""
    f = plan.fields
    person = roster.create_beneficiary(
        session, pii, name=f.name, village=villages[plan.village_id],
        categories=[BeneficiaryCategory(c) for c in f.categories], now=now,
        id_no=f.id_number, phone=f.phone, address=f.address, bind_code=code, lives_alone=bool(f.lives_alone),
    )
    if f.checkin_plan is not None:
        # A plan written in the file is the office's choice, kept whatever the categories.
        checkins.set_plan(session, person, f.checkin_plan, staff=None, now=now)
    if plan.assistant_id is not None:
        # A new beneficiary has no assignment to end, so this is what roster.assign_assistant
        # would write, without its flush per row (a city's import is 110,000 rows).
        session.add(Assignment(
            beneficiary=person, staff=assistants[plan.assistant_id], started_at=now,
            assigned_by_staff_id=by.id if by else None, reason=ASSIGNMENT_REASON,
        ))


def _update_beneficiary(session, plan: BeneficiaryPlan, person: Beneficiary, villages, assistants, now, by) -> None:
    """Bring a stored beneficiary in line with the row; blank optional cells keep what is stored."""
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
    if f.lives_alone is not None:
        person.lives_alone = f.lives_alone
    if f.checkin_plan is not None:
        checkins.set_plan(session, person, f.checkin_plan, staff=None, now=now)
    else:
        checkins.refresh_default_plan(person)
    person.updated_at = now
    if plan.assistant_id is not None and plan.assistant_id != plan.existing.assistant_id:
        # Through the roster, which ends the old assignment and keeps it as history.
        roster.assign_assistant(session, person, assistants[plan.assistant_id], now, by=by, reason=ASSIGNMENT_REASON)


def _load_by_id(session: Session, model, ids: set[int], *options) -> dict:
    """ORM objects by id, in chunks."""
    found = {}
    for chunk in chunks(sorted(ids)):
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


# --- staff ----------------------------------------------------------------------------------------


def check_staff(session: Session, table: Table, *, progress: Progress | None = None,
                scope: Scope = EVERYWHERE) -> ImportReport:
    """Check every row of a staff file against the rules, the database and the importer's scope
    (a city's administrator places staff in their city only); writes nothing."""
    headers = map_headers(table.headers, STAFF_COLUMNS)
    results: list[RowResult] = []
    numbers: list[str | None] = []
    parsed: list[tuple[RowResult, StaffFields]] = []
    for done, row in enumerate(table.rows, start=1):
        cells = {key: row.cells.get(header, "") for key, header in headers.items()}
        result = RowResult(row.number, OK, None, [], row.cells)
        results.append(result)
        number = None
        if is_example(cells):
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
    refs = load_staff_refs(session, (f for _, f in parsed))
    for result, fields in parsed:
        plan, action, messages = resolve_staff(fields, refs)
        if plan is None:
            result.status, result.messages = ERROR, messages
        else:
            result.action, result.plan = action, plan
    _refuse_outside(session, scope, [
        (r, {r.plan.region_id} | ({r.plan.existing.region_id} if r.plan.existing else set()))
        for r, _ in parsed if r.plan is not None])
    mark_duplicates(results, numbers, MSG_DUPLICATE_STAFF_NO)
    return ImportReport("staff", table.filename, list(table.headers), results)


def import_staff(
    session: Session,
    table: Table,
    *,
    now: datetime,
    actor: audit.Actor,
    accept_good_rows: bool = False,
    progress: Progress | None = None,
    ip: str | None = None,
) -> ImportReport:
    """Check, then upsert the good staff rows on 工号: all or nothing unless `accept_good_rows`."""
    report = check_staff(session, table, progress=progress, scope=_importer_scope(session, actor))
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
        audit.record_by(session, actor, "import.staff", {**report.counts(), "format": table.format}, now, ip)
    logger.info("import=staff written=%s errors=%s", report.written, report.errors)
    return report
