"""The 包联 responsibility chain: who answers for a village, for a kind of case, and out of hours.

Responsibility is personal at every level: each village has one responsible town officer and a
deputy; each request category belongs to one city department with a responsible liaison and a
deputy; outside office hours the city supervisor on the rota stands in for the liaisons. Where no
one is named, `services.policy.chain` spreads villages and departments evenly among the people
there, deterministically.

The lookups take a `cache` dict, one per unit of work: an escalation scan handles hundreds of
requests but only a few towns and one city, so each town's officers and villages, the city's
departments and supervisors, and the rota at an instant are each read once. The setters the
office screens call are in `services.responsibility_admin`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from config import policy
from models import Department, DutyShift, Region, Staff, VillageOfficers
from models.enums import RegionLevel, StaffRole
from services.policy import chain

logger = logging.getLogger(__name__)

# The places of the chain, from the village up; a role with nobody in it walks up from its place.
CHAIN = ("responsible_officer", "deputy_officer", "liaison", "deputy_liaison", "city_staff")
# Who stands in outside office hours for an urgent case: the person on the rota.
ROTA = "rota"
OFFICER_PLACES = ("responsible_officer", "deputy_officer")


@dataclass(frozen=True)
class Officers:
    """The town officers answering for one village."""

    responsible: Staff | None
    deputy: Staff | None


@dataclass(frozen=True)
class Liaisons:
    """One department of the city and its two liaisons."""

    code: str
    name: str
    responsible: Staff | None
    deputy: Staff | None


@dataclass
class _City:
    """What a scan needs to know about one city, read once."""

    supervisors: list[Staff]
    departments: dict[str, Liaisons]
    admins: list[Staff] | None = None
    rota: dict[datetime, Staff | None] = field(default_factory=dict)


def _staff(session: Session, role: StaffRole, region_id: int) -> list[Staff]:
    """Active staff of a role in a region, by 工号, with their WeChat accounts."""
    return list(session.scalars(
        select(Staff)
        .where(Staff.role == role.value, Staff.region_id == region_id, Staff.active.is_(True))
        .order_by(Staff.staff_no, Staff.id)
        .options(joinedload(Staff.wechat_user))
    ))


def town_officers(session: Session, town_id: int, *, cache: dict | None = None) -> dict[int, Officers]:
    """Every village of the town and who answers for it: as named, else by the default spread
    (the town's active officers by 工号, villages by code)."""
    cache = {} if cache is None else cache
    key = ("town", town_id)
    if key not in cache:
        officers = _staff(session, StaffRole.TOWN_OFFICER, town_id)
        rows = session.execute(
            select(Region.id, VillageOfficers.responsible_staff_id, VillageOfficers.deputy_staff_id)
            .outerjoin(VillageOfficers, VillageOfficers.village_id == Region.id)
            .where(Region.parent_id == town_id, Region.level == RegionLevel.VILLAGE.value)
            .order_by(Region.code, Region.id)
        ).all()
        by_id = {s.id: s for s in officers}
        pairs = chain.fill([tuple(row) for row in rows], [s.id for s in officers])
        cache[key] = {
            village_id: Officers(by_id.get(pair.responsible), by_id.get(pair.deputy))
            for village_id, pair in pairs.items()
        }
    return cache[key]


def village_officers(session: Session, village_id: int, *, town_id: int | None = None,
                     cache: dict | None = None) -> Officers:
    """The responsible town officer of a village and the deputy (None where the town has nobody)."""
    if town_id is None:
        town_id = session.get(Region, village_id).parent_id
    return town_officers(session, town_id, cache=cache).get(village_id, Officers(None, None))


def _city(session: Session, city_id: int, cache: dict) -> _City:
    key = ("city", city_id)
    if key not in cache:
        supervisors = _staff(session, StaffRole.CITY_SUPERVISOR, city_id)
        rows = session.execute(
            select(Department.code, Department.name, Department.responsible_staff_id, Department.deputy_staff_id)
            .where(Department.city_id == city_id)
            .order_by(Department.code, Department.id)
        ).all()
        if rows:
            names = {row.code: row.name for row in rows}
            named = [(row.code, row.responsible_staff_id, row.deputy_staff_id) for row in rows]
        else:
            # A city nobody has set up yet has the policy's departments, none named.
            names = dict(policy.DEPARTMENTS)
            named = [(code, None, None) for code in sorted(names)]
        by_id = {s.id: s for s in supervisors}
        pairs = chain.fill(named, [s.id for s in supervisors])
        cache[key] = _City(supervisors, {
            code: Liaisons(code, names[code], by_id.get(pair.responsible), by_id.get(pair.deputy))
            for code, pair in pairs.items()
        })
    return cache[key]


def city_departments(session: Session, city_id: int, *, cache: dict | None = None) -> list[Liaisons]:
    """The city's departments by code, each with its two liaisons as named or by default."""
    return list(_city(session, city_id, {} if cache is None else cache).departments.values())


def category_liaisons(session: Session, city_id: int, category: str, *, cache: dict | None = None) -> Liaisons:
    """The department that handles a request category (CATEGORY_DEPARTMENT) and its liaisons."""
    departments = _city(session, city_id, {} if cache is None else cache).departments
    code = policy.CATEGORY_DEPARTMENT.get(category, policy.DEFAULT_DEPARTMENT)
    found = departments.get(code) or departments.get(policy.DEFAULT_DEPARTMENT)
    return found or Liaisons(code, dict(policy.DEPARTMENTS).get(code, code), None, None)


def on_duty(session: Session, city_id: int, now: datetime, *, cache: dict | None = None) -> Staff | None:
    """The city supervisor on the rota at `now` (None when the rota has a gap)."""
    city = _city(session, city_id, {} if cache is None else cache)
    if now not in city.rota:
        shifts = session.execute(
            select(DutyShift.id, DutyShift.staff_id, DutyShift.starts_at, DutyShift.ends_at)
            .join(Staff, Staff.id == DutyShift.staff_id)
            .where(DutyShift.ends_at > now, DutyShift.starts_at <= now, Staff.region_id == city_id,
                   Staff.role == StaffRole.CITY_SUPERVISOR.value, Staff.active.is_(True))
        ).all()
        staff_id = chain.on_duty([chain.Shift(*row) for row in shifts], now)
        city.rota[now] = next((s for s in city.supervisors if s.id == staff_id), None)
    return city.rota[now]


def in_office_hours(now: datetime, tz: ZoneInfo) -> bool:
    """Whether the city's departments are at work at `now` (OFFICE_HOURS on OFFICE_DAYS)."""
    return chain.in_office_hours(now, tz, policy.OFFICE_HOURS, policy.OFFICE_DAYS)


# --- who is alerted ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """What the chain needs to know about a request."""

    village_id: int
    town_id: int
    city_id: int
    category: str
    urgent: bool


@dataclass(frozen=True)
class Target:
    """Whom a role of a rung reaches, and in whose place in the chain."""

    staff: Staff | None
    role: str
    # The place that answered: the role's own ("responsible_officer", "liaison" …), "rota", or a
    # place further up when the role had nobody ("city_staff" last).
    place: str | None
    # The department's liaison the person on duty stood in for (for the liaison's morning digest).
    on_duty_for: Staff | None = None
    # Whether the role's own person was missing and someone further up answered.
    fell_back: bool = False
    department: Liaisons | None = None


def places(role: str, case: Case, now: datetime, tz: ZoneInfo) -> tuple[str, ...]:
    """The places of the chain that may answer for `role`: first the role's own, then walking up.

    Out of office hours the person on the rota stands in for the liaisons of an urgent case, and
    "on_duty" is the rota (in office hours, the liaison); with a gap in the rota, the liaison
    answers after all.
    """
    after_hours = not in_office_hours(now, tz)
    if role == "on_duty":
        own = CHAIN[CHAIN.index("liaison"):]
        return (ROTA, *own) if after_hours else own
    if role not in CHAIN:
        raise ValueError(f"unknown ladder role {role!r}")
    own = CHAIN[CHAIN.index(role):]
    if not (case.urgent and after_hours):
        return own
    at = next(i for i, place in enumerate(own) if place not in OFFICER_PLACES)
    return (*own[:at], ROTA, *own[at:])


def _people(session: Session, case: Case, place: str, now: datetime, cache: dict) -> list[Staff]:
    """Who is at a place of the chain for this case: one person, or for "city_staff" every active
    supervisor of the city by 工号 and then the administrators."""
    if place in OFFICER_PLACES:
        officers = village_officers(session, case.village_id, town_id=case.town_id, cache=cache)
        person = officers.responsible if place == "responsible_officer" else officers.deputy
    elif place in ("liaison", "deputy_liaison"):
        liaisons = category_liaisons(session, case.city_id, case.category, cache=cache)
        person = liaisons.responsible if place == "liaison" else liaisons.deputy
    elif place == ROTA:
        person = on_duty(session, case.city_id, now, cache=cache)
    else:
        city = _city(session, case.city_id, cache)
        if city.admins is None:
            city.admins = _staff(session, StaffRole.ADMIN, case.city_id)
        return [*city.supervisors, *city.admins]
    return [person] if person is not None else []


def reachable(staff: Staff, *, by_sms: bool = False) -> bool:
    """Whether a push to this member of staff can arrive: bound to WeChat and still following, or
    (`by_sms`: SMS is configured) with a phone to text."""
    if by_sms and staff.phone:
        return True
    return staff.wechat_user is not None and bool(staff.wechat_user.subscribed)


def alert_target(session: Session, case: Case, role: str, now: datetime, tz: ZoneInfo, *, cache: dict,
                 reachable_only: bool = True, by_sms: bool = False) -> Target:
    """The ONE person a rung's `role` reaches for this case: the role's own, else the first one up
    the chain who can be reached (with `reachable_only=False`: who exists; `by_sms`: a phone will do)."""
    wanted = places(role, case, now, tz)
    for place in wanted:
        person = next((s for s in _people(session, case, place, now, cache)
                       if not reachable_only or reachable(s, by_sms=by_sms)), None)
        if person is None:
            continue
        department = on_duty_for = None
        if place not in OFFICER_PLACES:
            department = category_liaisons(session, case.city_id, case.category, cache=cache)
            if place == ROTA:
                on_duty_for = department.responsible
        return Target(person, role, place, on_duty_for, fell_back=place != wanted[0], department=department)
    return Target(None, role, None, fell_back=True)


def chain_people(session: Session, case: Case, now: datetime, tz: ZoneInfo, *, cache: dict) -> Iterator[Staff]:
    """Everyone up the chain from the village's responsible officer, in order, each once: whom to
    try next when the people before could not be reached."""
    seen = set()
    for place in places("responsible_officer", case, now, tz):
        for staff in _people(session, case, place, now, cache):
            if staff.id not in seen:
                seen.add(staff.id)
                yield staff


def case_of(session: Session, request, *, cache: dict) -> Case:
    """The chain's view of a service request (or of anything with the same attributes)."""
    key = ("city-of", request.town_id)
    if key not in cache:
        cache[key] = session.get(Region, request.town_id).parent_id
    return Case(request.village_id, request.town_id, cache[key], request.category, request.urgency == "urgent")


def log_fallback(request_id: int, target: Target, level: int | str) -> None:
    """A warning whenever a rung did not reach the role's own person: never alert nobody silently."""
    if target.staff is None:
        logger.warning("escalation=nobody request=%s level=%s role=%s", request_id, level, target.role)
    elif target.fell_back:
        logger.warning("escalation=fallback request=%s level=%s role=%s answered_by=%s place=%s",
                       request_id, level, target.role, target.staff.id, target.place)
