"""四查四帮 home visits: record a visit, open a request for a problem found, list visits due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from config import policy
from models import Assignment, Beneficiary, Region, Staff, Visit
from models.db import local_date
from models.enums import ContactKind, PushKind, RequestCategory, RequestChannel, RequestSource, StaffRole, Urgency
from services import requests as request_service
from services import checkins, roster, texts
from services.errors import DomainError
from services.notify import sms_text
from services.policy import permissions
from services.policy.classify import Classification
from services.policy.commands import VisitReport
from services.policy.sms import FALLBACK_PHONE
from services.scope import city_villages

CHECK_CATEGORY = {
    "food": RequestCategory.FOOD,
    "clothing": RequestCategory.CLOTHING,
    "housing": RequestCategory.HOUSING,
    "medical": RequestCategory.MEDICAL,
}
CHECK_LABEL = {"food": "吃", "clothing": "穿", "housing": "住", "medical": "医"}


@dataclass(frozen=True)
class DuePerson:
    """What a visit digest shows of a beneficiary: id, name and village."""

    id: int
    name: str
    village: Region


@dataclass(frozen=True)
class DueVisit:
    """A beneficiary whose visit is due on or before a given day."""

    beneficiary: DuePerson
    due: date
    last_visit: date | None
    staff_id: int | None


def _may_visit(session: Session, staff: Staff, beneficiary: Beneficiary) -> bool:
    town_id = beneficiary.village.parent_id
    if staff.role == StaffRole.ASSISTANT.value:
        assignment = roster.current_assignment(session, beneficiary)
        return assignment is not None and assignment.staff_id == staff.id
    return permissions.may_reassign(staff.role, staff.region_id, town_id, beneficiary.village.parent.parent_id)


def record_visit(
    session: Session, env: request_service.RequestEnv, staff: Staff, report: VisitReport, now: datetime
) -> str:
    """Record a visit; problems found open one request on the beneficiary; family gets a notice."""
    beneficiary = session.get(Beneficiary, report.beneficiary_id)
    if beneficiary is None or not beneficiary.active or not _may_visit(session, staff, beneficiary):
        raise DomainError(texts.BENEFICIARY_NOT_FOUND.format(id=report.beneficiary_id))
    visit = Visit(beneficiary=beneficiary, staff=staff, visited_at=now, created_at=now, notes=report.notes or None)
    for name in CHECK_CATEGORY:
        result, note = report.check(name)
        setattr(visit, name, result)
        setattr(visit, f"{name}_note", note)
    for help_field in report.helps:
        setattr(visit, help_field, True)
    session.add(visit)
    if beneficiary.last_visited_at is None or beneficiary.last_visited_at < now:
        beneficiary.last_visited_at = now
    session.flush()
    checkins.note_contact(session, beneficiary.id, now, ContactKind.VISIT, env=env, staff=staff)

    summary = "；".join(f"{CHECK_LABEL[k]}：{v}" for k, v in report.problems.items())
    opened = ""
    if report.problems:
        first = next(iter(report.problems))
        request = request_service.open_request(
            session, env, beneficiary=beneficiary,
            classification=Classification(CHECK_CATEGORY[first], Urgency.NORMAL),
            summary=f"走访发现：{summary}", now=now, staff=staff,
            source=RequestSource.VISIT, channel=RequestChannel.HOME, visit_id=visit.id, data={"visit_id": visit.id},
        )
        opened = texts.VISIT_PROBLEMS_OPENED.format(number=request.id)
    family_summary = summary if report.problems else texts.VISIT_ALL_FINE
    request_service.notify_family(
        session, env, beneficiary, now,
        kind=PushKind.FAMILY_VISIT, ref=visit.id,
        text=texts.PUSH_FAMILY_VISIT.format(staff=staff.name, name=beneficiary.name, summary=family_summary),
        what=f"走访 {family_summary}", who=staff.name,
        # The template ends the result with its own full stop.
        sms=sms_text("visited", name=staff.name, result=family_summary.rstrip("。"),
                     phone=staff.phone or FALLBACK_PHONE),
    )
    return texts.VISIT_RECORDED.format(name=beneficiary.name, problems=opened or texts.VISIT_ALL_FINE)


def _due_by(tz, today: date):
    """The SQL condition: an active beneficiary's visit is due by `today` (local dates in `tz`)."""
    since = func.coalesce(Beneficiary.last_visited_at, Beneficiary.created_at)
    tomorrow = datetime.combine(today + timedelta(days=1), time.min, tz)
    # Due when the last visit's local date + period <= today, i.e. it happened before tomorrow - period.
    return and_(Beneficiary.active.is_(True), or_(*[
        and_(Beneficiary.visit_every_days == days, since < tomorrow - timedelta(days=days))
        for days in sorted(set(policy.VISIT_FREQUENCY_DAYS.values()))
    ]))


def due_visits(
    session: Session,
    tz,
    today: date,
    *,
    staff_id: int | None = None,
    town_id: int | None = None,
    city_id: int | None = None,
) -> list[DueVisit]:
    """Active beneficiaries due for a visit by `today` (of one assistant or one town), most overdue first.

    The database picks the due ones from each beneficiary's visit period and latest visit (kept on
    the beneficiary), so a city of 110,000 costs one indexed pass, not a scan of every visit. Only
    the columns a digest needs are read; the villages are loaded once each.
    """
    # Local dates computed by the database: a province's morning converts two million timestamps.
    at = datetime.combine(today, time.min, tz)
    stmt = (
        select(Beneficiary.id, Beneficiary.name, Beneficiary.village_id,
               local_date(Beneficiary.last_visited_at, tz, at).label("last_day"),
               local_date(Beneficiary.created_at, tz, at).label("created_day"),
               Beneficiary.visit_every_days, Assignment.staff_id)
        .outerjoin(Assignment, (Assignment.beneficiary_id == Beneficiary.id) & Assignment.ended_at.is_(None))
        .where(_due_by(tz, today))
    )
    if staff_id is not None:
        stmt = stmt.where(Assignment.staff_id == staff_id)
    if town_id is not None:
        stmt = stmt.join(Region, Region.id == Beneficiary.village_id).where(Region.parent_id == town_id)
    elif city_id is not None:
        stmt = stmt.where(Beneficiary.village_id.in_(city_villages(city_id)))
    rows = session.execute(stmt).all()
    villages = {v.id: v for v in session.scalars(select(Region).where(Region.id.in_({r.village_id for r in rows})))}
    due: list[DueVisit] = []
    for row in rows:
        person = DuePerson(row.id, row.name, villages[row.village_id])
        start = row.last_day or row.created_day
        due.append(DueVisit(person, start + timedelta(days=row.visit_every_days), row.last_day, row.staff_id))
    due.sort(key=lambda d: (d.due, d.beneficiary.id))
    return due


def overdue_by_town(session: Session, tz, today: date) -> dict[int, int]:
    """How many active beneficiaries are due for a visit by `today`, per town id, counted in SQL."""
    town = Region.parent_id
    return dict(session.execute(
        select(town, func.count()).select_from(Beneficiary).join(Region, Region.id == Beneficiary.village_id)
        .where(_due_by(tz, today)).group_by(town)
    ).all())


def visits_due(session: Session, staff: Staff, today: date, tz, limit: int = 10) -> tuple[list[DueVisit], int]:
    """The assistant's beneficiaries due for a visit by `today`, most overdue first, and the total."""
    due = due_visits(session, tz, today, staff_id=staff.id)
    return due[:limit], len(due)


def refresh_last_visits(session: Session) -> None:
    """Recompute every beneficiary's latest visit from the visits (after bulk loads)."""
    latest = select(func.max(Visit.visited_at)).where(Visit.beneficiary_id == Beneficiary.id).scalar_subquery()
    session.execute(update(Beneficiary).values(last_visited_at=latest))
