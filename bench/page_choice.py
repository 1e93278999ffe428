"""Which member of staff `bench/pages.py` signs in as for each role, and which pages it times for them.

Where there is a choice, the busiest: the town officer of the town with the most open requests, the
assistant with the most people, the village with the most people, the request with the longest
timeline, the beneficiary with the most visits. A province administrator gets the pages twice: the
whole province, then one city chosen with the header's chooser (`?city=`), last, because the choice
is kept for the rest of the sign-in.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Assignment, Beneficiary, Region, RequestEvent, ServiceRequest, Staff, Visit
from models.enums import RegionLevel, StaffRole
from services import scope as scoping
from services.policy import figures as calc
from services.dashboard import OPEN
from services.scope import Scope

SHANGHAI = ZoneInfo("Asia/Shanghai")
# The pages a province administrator also times with one city chosen.
CITY_VIEW_PAGES = ("/office/map", "/office/cases", "/office/visits", "/office/figures",
                   "/office/figures?level=village", "/office/trends")


def pick_staff(session: Session, role: StaffRole) -> Staff | None:
    """The active member of staff timed for `role` (None when the database has nobody in it)."""
    active = select(Staff).where(Staff.role == role.value, Staff.active.is_(True))
    if role == StaffRole.TOWN_OFFICER:
        open_requests = (
            select(func.count()).where(ServiceRequest.town_id == Staff.region_id, ServiceRequest.status.in_(OPEN))
            .scalar_subquery()
        )
        active = active.order_by(open_requests.desc(), Staff.staff_no)
    elif role == StaffRole.ASSISTANT:
        people = (
            select(func.count()).where(Assignment.staff_id == Staff.id, Assignment.ended_at.is_(None))
            .scalar_subquery()
        )
        active = active.order_by(people.desc(), Staff.staff_no)
    else:
        active = active.order_by(Staff.staff_no)
    return session.scalars(active.limit(1)).first()


def pages_for(session: Session, staff: Staff, scope: Scope) -> list[str]:
    """The pages timed for one member of staff, in the order they are fetched."""
    village = busiest_village(session, staff, scope)
    case = _busiest_case(session, scope)
    # Province-wide, counting the visits of 3.3 million people would take minutes: the most visited
    # person of the busiest village stands in (the page reads their latest 20 visits either way).
    people = scoping.beneficiaries(scope, select(Beneficiary.id)).where(Beneficiary.active.is_(True))
    if scope.is_province and village is not None:
        people = people.where(Beneficiary.village_id == village)
    person = session.scalar(
        people.order_by(
            select(func.count()).where(Visit.beneficiary_id == Beneficiary.id).scalar_subquery().desc(),
            Beneficiary.id,
        ).limit(1)
    )
    missing = [name for name, value in (("village", village), ("request", case), ("beneficiary", person))
               if value is None]
    if missing:
        raise SystemExit(f"{staff.staff_no} ({staff.role}) has no {', '.join(missing)} in scope")
    # The figures of last month (what the monthly report shows) and of the last 26 weeks: the page's
    # own standard periods (its links), which a province's scheduler keeps computed.
    periods = {p.key: p for p in calc.presets(datetime.now(SHANGHAI).date())}
    last_month_start, last_month_end = periods["last_month"].start, periods["last_month"].end
    half_year_ago = periods["half_year"].start
    pages = [
        "/office/map",
        f"/office/villages/{village}",
        "/office/cases",
        "/office/cases?escalated=1",
        "/office/cases?page=5",
        f"/office/cases/{case}",
        f"/office/beneficiaries/{person}",
        "/office/visits",
        "/office/figures",
        "/office/figures?level=village",
        "/office/figures?level=assistant",
        f"/office/figures?from={last_month_start}&to={last_month_end}",
        f"/office/figures?from={half_year_ago}",
        "/office/trends",
    ]
    if scope.kind != "own":
        pages.append("/office/reports")
    if scope.is_city:
        town = session.scalar(
            scoping.beneficiaries(scope, select(Region.parent_id).join(Beneficiary, Beneficiary.village_id == Region.id))
            .group_by(Region.parent_id)
            .order_by(func.count().desc(), Region.parent_id)
            .limit(1)
        )
        pages.append(f"/office/visits?town={town}")
        pages.append(f"/office/trends?town={town}")
        pages.append(f"/office/figures?level=assistant&town={town}")
    if staff.role in (StaffRole.ADMIN.value, StaffRole.PROVINCE_ADMIN.value):
        pages.append("/office/audit")
    if scope.is_province:
        city = session.scalar(select(Region.parent_id).where(
            Region.id == select(Region.parent_id).where(Region.id == village).scalar_subquery()))
        pages += [f"{page}{'&' if '?' in page else '?'}city={city}" for page in CITY_VIEW_PAGES]
    return pages


def _busiest_case(session: Session, scope: Scope) -> int | None:
    """An open request with the longest timeline when there is one, else the latest request."""
    events = select(func.count()).where(RequestEvent.request_id == ServiceRequest.id).scalar_subquery()
    # Open requests first, on their own: ranking every request of a province by its events takes minutes.
    found = session.scalar(
        scoping.requests(scope, select(ServiceRequest.id)).where(ServiceRequest.status.in_(OPEN))
        .order_by(events.desc(), ServiceRequest.id.desc()).limit(1)
    )
    if found is not None:
        return found
    return session.scalar(scoping.requests(scope, select(ServiceRequest.id))
                          .order_by(ServiceRequest.id.desc()).limit(1))


def busiest_village(session: Session, staff: Staff, scope: Scope) -> int | None:
    """The village with the most active people in scope (an assistant's own)."""
    if scope.kind == "own":
        return staff.region_id
    stmt = (
        select(Region.id)
        .join(Beneficiary, Beneficiary.village_id == Region.id)
        .where(Region.level == RegionLevel.VILLAGE.value, Beneficiary.active.is_(True))
        .group_by(Region.id)
        .order_by(func.count().desc(), Region.id)
        .limit(1)
    )
    if scope.kind == "town":
        stmt = stmt.where(Region.parent_id == scope.town_id)
    elif scope.kind == "city":
        stmt = stmt.where(Region.parent_id.in_(scoping.city_towns(scope.city_id)))
    return session.scalar(stmt)
