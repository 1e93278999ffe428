"""A small hand-built November 2026 for the service figures: cases with known times, escalations,
ratings and visits, in two towns. The expected figures are worked out in the tests by hand."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from models import RequestEvent, ServiceRequest, Staff
from services import daily_checkin_figures, daily_figures, weekly_figures
from models.enums import BeneficiaryCategory, RegionLevel, RequestStatus, StaffRole
from tests.support.factories import Town, make_beneficiary, make_region, make_staff, make_town, make_visit

TZ = ZoneInfo("Asia/Shanghai")
NOVEMBER = (date(2026, 11, 1), date(2026, 11, 30))


def local(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A 2026 Shanghai time."""
    return datetime(2026, month, day, hour, minute, tzinfo=TZ)


@dataclass
class History:
    """Town A (the factory's), town B, and who is who."""

    a: Town
    town_b: object
    assistant_b: Staff
    officer_b: Staff


def _case(session, person, assignee, created, *, accepted=None, resolved=None, rating=None, urgency="normal",
          category="医", rungs=()) -> ServiceRequest:
    status = RequestStatus.RESOLVED if resolved else RequestStatus.ACKNOWLEDGED if accepted else RequestStatus.OPEN
    case = ServiceRequest(
        beneficiary_id=person.id, village_id=person.village_id, town_id=person.village.parent_id,
        category=category, urgency=urgency, status=status.value, summary="求助", assignee_staff_id=assignee.id,
        escalation_level=max(rungs, default=0), created_at=created, updated_at=created,
        acknowledged_at=accepted, resolved_at=resolved, rating=rating,
    )
    session.add(case)
    session.flush()
    for level in rungs:
        session.add(RequestEvent(request_id=case.id, kind="escalated", actor_kind="system", body=f"第{level}级督办",
                                 data={"level": level}, created_at=created))
    return case


def build(session, now: datetime) -> History:
    """Five November cases and one October case; four people with visits, and the daily figures
    computed as the scheduler would; everything committed."""
    registered = local(10, 1, 9)
    a = make_town(session, registered)
    town_b = make_region(session, RegionLevel.TOWN, a.city, registered, name="青湖镇")
    village_b = make_region(session, RegionLevel.VILLAGE, town_b, registered, name="北塘村")
    assistant_b = make_staff(session, StaffRole.ASSISTANT, village_b, registered, name="赵六")
    officer_b = make_staff(session, StaffRole.TOWN_OFFICER, town_b, registered)
    weekly = [BeneficiaryCategory.LIUSHOU_ELDERLY]
    monthly = [BeneficiaryCategory.DIBAO]
    p1 = make_beneficiary(session, a.village, registered, assistant=a.assistant, categories=weekly)
    p2 = make_beneficiary(session, a.village, registered, assistant=a.assistant, categories=monthly)
    p3 = make_beneficiary(session, a.other_village, registered, assistant=a.other_assistant, categories=monthly)
    p4 = make_beneficiary(session, village_b, registered, assistant=assistant_b, categories=monthly)

    # Accept times (wall / service hours): 0.5/0.5, 14/2 (overnight), 34.5/12.5 (over the weekend), 1/1.
    _case(session, p1, a.assistant, local(11, 4, 10), accepted=local(11, 4, 10, 30), resolved=local(11, 4, 16), rating=5)
    _case(session, p1, a.assistant, local(11, 6, 19), accepted=local(11, 7, 9), resolved=local(11, 9, 9), rungs=(1,))
    _case(session, p3, a.other_assistant, local(11, 28, 22), accepted=local(11, 30, 8, 30), urgency="urgent",
          category="吃", rungs=(1, 2))
    _case(session, p3, a.other_assistant, local(11, 10, 10), rungs=(1, 2, 3))
    _case(session, p4, assistant_b, local(11, 5, 10), accepted=local(11, 5, 11), resolved=local(11, 5, 12), rating=1)
    _case(session, p1, a.assistant, local(10, 20, 10), accepted=local(10, 20, 11), rating=2,
          resolved=local(10, 20, 12), rungs=(1,))  # October: outside the period

    for day in (3, 10):
        make_visit(session, p1, a.assistant, local(11, day, 10))
    make_visit(session, p1, a.assistant, local(11, 17, 10), food="problem", food_note="缺粮", helped_daily_care=True)
    make_visit(session, p2, a.assistant, local(11, 5, 10))
    make_visit(session, p2, a.assistant, local(11, 20, 10), medical="problem", medical_note="药没了", helped_policy=True)
    make_visit(session, p4, assistant_b, local(11, 15, 10), helped_shopping=True)
    make_visit(session, p4, assistant_b, local(12, 1, 8))  # December: outside the period
    session.flush()
    # What the scheduler's figures job keeps up to date, from the registrations on.
    daily_figures.rebuild(session, registered.date(), now.astimezone(TZ).date(), TZ, now)
    daily_checkin_figures.rebuild(session, registered.date(), now.astimezone(TZ).date(), TZ, now)
    weekly_figures.rebuild(session, now.astimezone(TZ).date(), TZ, now)
    session.commit()
    return History(a, town_b, assistant_b, officer_b)


def build_for_sign_in(session, now: datetime, *extra: Staff) -> History:
    """The history, with town A's supervisor, officer and assistant (and `extra` staff) able to sign
    in to the dashboard with the tests' password; committed."""
    from services import accounts
    from tests.support.office import PASSWORD

    built = build(session, now)
    for staff in (built.a.supervisor, built.a.officer, built.a.assistant, *extra):
        accounts.set_password(session.get(Staff, staff.id), PASSWORD, now)
    session.commit()
    return built
