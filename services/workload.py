"""Each assistant's workload now, within the viewer's scope: people served (active assignments of
active people), cases open and assigned to them (and how many of those escalated), people overdue
for a visit and people falling due in the next 7 days, counted as the 走访覆盖 page counts them.

One grouped query for all the assistants in reach, whatever their number; the most loaded first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from config import policy
from models import Assignment, Beneficiary, Region, ServiceRequest, Staff
from models.enums import OPEN_STATUSES, StaffRole
from services.policy.workload import Limits, load_share, over_limits
from services import scope as scoping
from services.scope import Scope

LIMITS = Limits(people=policy.ASSISTANT_PEOPLE_LIMIT, open_cases=policy.ASSISTANT_OPEN_CASES_LIMIT,
                overdue=policy.ASSISTANT_OVERDUE_VISITS_LIMIT)
DUE_SOON_DAYS = 7
OPEN = tuple(s.value for s in OPEN_STATUSES)


@dataclass
class Load:
    """One assistant's load and the limits it passes."""

    staff_id: int
    name: str
    staff_no: str
    village_id: int
    village: str
    people: int = 0
    open_cases: int = 0
    escalated_open: int = 0
    overdue: int = 0
    due_soon: int = 0
    over: tuple[str, ...] = ()
    share: float = 0.0  # the largest share of any limit reached

    @property
    def overloaded(self) -> bool:
        """Above at least one limit."""
        return bool(self.over)


def _not_seen_since(cutoff: datetime):
    """A person whose last visit (or registration, never visited) is older than their plan period
    at `cutoff`: the 走访覆盖 page's rule. Only a few periods exist, so the database compares timestamps."""
    since = func.coalesce(Beneficiary.last_visited_at, Beneficiary.created_at)
    return or_(*[and_(Beneficiary.visit_every_days == days, since < cutoff - timedelta(days=days))
                 for days in sorted(set(policy.VISIT_FREQUENCY_DAYS.values()))])


def workload(session: Session, scope: Scope, now: datetime, tz: ZoneInfo, town_id: int | None = None,
             limits: Limits = LIMITS) -> list[Load]:
    """The active assistants in reach (one town's if given to a city viewer), most loaded first."""
    village = Region.__table__.alias("village")
    assistants = (select(Staff.id).join(village, village.c.id == Staff.region_id)
                  .where(Staff.role == StaffRole.ASSISTANT.value, Staff.active.is_(True)))
    if scope.kind == "town":
        assistants = assistants.where(village.c.parent_id == scope.town_id)
    elif scope.kind == "own":
        assistants = assistants.where(Staff.id == scope.staff_id)
    else:
        if scope.kind == "city":
            # The towns as a list: behind a subquery PostgreSQL guessed an average town's staff.
            assistants = assistants.where(village.c.parent_id.in_(scoping.city_town_ids(session, scope.city_id)))
        if town_id:
            assistants = assistants.where(village.c.parent_id == town_id)
    narrowed = not scope.is_province or town_id
    today = datetime.combine(now.astimezone(tz).date(), datetime.min.time(), tz)
    overdue = _not_seen_since(today)
    soon = and_(_not_seen_since(today + timedelta(days=DUE_SOON_DAYS)), ~overdue)
    people = (select(Assignment.staff_id.label("staff_id"), func.count().label("people"),
                     func.sum(case((overdue, 1), else_=0)).label("overdue"),
                     func.sum(case((soon, 1), else_=0)).label("soon"))
              .join(Beneficiary, Beneficiary.id == Assignment.beneficiary_id)
              .where(Assignment.ended_at.is_(None), Beneficiary.active.is_(True))
              .group_by(Assignment.staff_id))
    cases = (select(ServiceRequest.assignee_staff_id.label("staff_id"), func.count().label("open"),
                    func.sum(case((ServiceRequest.escalation_level > 0, 1), else_=0)).label("escalated"))
             .where(ServiceRequest.status.in_(OPEN))
             .group_by(ServiceRequest.assignee_staff_id))
    if narrowed:
        # Count only for the assistants in reach, instead of for the whole city and then joining.
        people = people.where(Assignment.staff_id.in_(assistants))
        cases = cases.where(ServiceRequest.assignee_staff_id.in_(assistants))
    people, cases = people.subquery(), cases.subquery()
    rows = session.execute(
        select(Staff.id, Staff.name, Staff.staff_no, village.c.id, village.c.name,
               func.coalesce(people.c.people, 0), func.coalesce(cases.c.open, 0), func.coalesce(cases.c.escalated, 0),
               func.coalesce(people.c.overdue, 0), func.coalesce(people.c.soon, 0))
        .join(village, village.c.id == Staff.region_id)
        .outerjoin(people, people.c.staff_id == Staff.id)
        .outerjoin(cases, cases.c.staff_id == Staff.id)
        .where(Staff.id.in_(assistants))
    )
    loads = []
    for staff_id, name, staff_no, village_id, village_name, *counts in rows:
        load = Load(staff_id, name, staff_no, village_id, village_name, *(int(n) for n in counts))
        load.over = over_limits(load.people, load.open_cases, load.overdue, limits)
        load.share = load_share(load.people, load.open_cases, load.overdue, limits)
        loads.append(load)
    return sorted(loads, key=lambda load: (not load.overloaded, -load.share, load.staff_no))
