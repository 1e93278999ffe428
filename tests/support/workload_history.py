"""A small hand-built roster for the workload figures, on 1 December 2026: whom each assistant
serves, when each person was last visited, and the cases open with each. The expected numbers
are worked out in the tests by hand."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from models import ServiceRequest, Staff
from models.enums import BeneficiaryCategory, RegionLevel, RequestStatus, StaffRole
from tests.support.factories import Town, make_beneficiary, make_region, make_staff, make_town, make_visit

TZ = ZoneInfo("Asia/Shanghai")
WEEKLY = [BeneficiaryCategory.LIUSHOU_ELDERLY]
MONTHLY = [BeneficiaryCategory.DIBAO]


def local(month: int, day: int, hour: int = 10) -> datetime:
    """A 2026 Shanghai time."""
    return datetime(2026, month, day, hour, tzinfo=TZ)


@dataclass
class Roster:
    """Town A (the factory's) with its two assistants, an assistant in town B, one who left."""

    a: Town
    assistant_b: Staff
    officer_b: Staff
    former: Staff


def _case(session, person, assignee, status: RequestStatus, *, rung: int = 0) -> ServiceRequest:
    """A request raised on 28 November, in `status`, escalated to `rung`."""
    created = local(11, 28)
    case = ServiceRequest(
        beneficiary_id=person.id, village_id=person.village_id, town_id=person.village.parent_id, category="医",
        urgency="normal", status=status.value, summary="求助", assignee_staff_id=assignee.id,
        escalation_level=rung, created_at=created, updated_at=created,
    )
    session.add(case)
    return case


def build(session) -> Roster:
    """Everything committed; see the tests for what each assistant carries."""
    registered = local(10, 1, 9)
    a = make_town(session, registered)
    town_b = make_region(session, RegionLevel.TOWN, a.city, registered, name="青湖镇")
    village_b = make_region(session, RegionLevel.VILLAGE, town_b, registered, name="北塘村")
    assistant_b = make_staff(session, StaffRole.ASSISTANT, village_b, registered, name="赵六")
    officer_b = make_staff(session, StaffRole.TOWN_OFFICER, town_b, registered)
    former = make_staff(session, StaffRole.ASSISTANT, a.village, registered, name="钱七")
    former.active = False

    # 王芳: four people (and one no longer served); two overdue, one due within a week.
    late_weekly = make_beneficiary(session, a.village, registered, assistant=a.assistant, categories=WEEKLY)
    make_visit(session, late_weekly, a.assistant, local(11, 20))  # a week is up on 27 Nov
    due_soon = make_beneficiary(session, a.village, registered, assistant=a.assistant, categories=WEEKLY)
    make_visit(session, due_soon, a.assistant, local(11, 28))  # due by 5 Dec
    fine = make_beneficiary(session, a.village, registered, assistant=a.assistant, categories=MONTHLY)
    make_visit(session, fine, a.assistant, local(11, 25))  # due by 25 Dec
    make_beneficiary(session, a.village, registered, assistant=a.assistant, categories=MONTHLY)  # never visited
    gone = make_beneficiary(session, a.village, registered, assistant=a.assistant, categories=WEEKLY)
    gone.active = False
    _case(session, late_weekly, a.assistant, RequestStatus.OPEN, rung=1)
    _case(session, due_soon, a.assistant, RequestStatus.ACKNOWLEDGED)
    _case(session, fine, a.assistant, RequestStatus.RESOLVED, rung=2)

    # 李强: one person, registered yesterday, with six cases open: more than the limit of five.
    newcomer = make_beneficiary(session, a.other_village, local(11, 30), assistant=a.other_assistant,
                                categories=WEEKLY)
    for n in range(6):
        _case(session, newcomer, a.other_assistant, RequestStatus.OPEN, rung=1 if n < 3 else 0)

    # 赵六 in town B: one person, visited this morning.
    person_b = make_beneficiary(session, village_b, registered, assistant=assistant_b, categories=MONTHLY)
    make_visit(session, person_b, assistant_b, local(12, 1, 8))
    session.commit()
    return Roster(a, assistant_b, officer_b, former)
