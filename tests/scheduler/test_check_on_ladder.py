"""A 联系 case (someone on a 报平安 plan went silent) climbs its own ladder, `check_on`, on a fixed clock:
the town officer after two service hours unaccepted, the deputy after 24 hours unresolved; made
urgent, it climbs the urgent ladder like any urgent case."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from config import policy
from models import OutboxMessage, ServiceRequest
from models.enums import RequestCategory, RequestChannel, RequestSource, StaffRole, Urgency
from scheduler.jobs import escalation_job
from services import casework
from services import requests as service
from services.policy.classify import Classification
from tests.scheduler.conftest import at
from tests.support.factories import fresh, make_beneficiary, make_staff

TZ = ZoneInfo("Asia/Shanghai")


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """A Shanghai time in December 2026."""
    return datetime(2026, 12, day, hour, minute, tzinfo=TZ)


def raise_check_on(session, app, town, when: datetime, urgency: Urgency = Urgency.NORMAL) -> int:
    """A 联系 case as the 16:00 scan opens it: no requester, routed to the assistant."""
    person = make_beneficiary(session, town.village, local(1, 9), assistant=town.assistant)
    request = service.open_request(
        session, app.extensions["sanzhida"].request_env, beneficiary=person,
        classification=Classification(RequestCategory.CHECK_ON, urgency), summary="今天没有报平安", now=when,
        source=RequestSource.SILENCE, channel=RequestChannel.OTHER,
    )
    session.commit()
    return request.id


def escalations(session, number: int) -> list[str]:
    """The escalation pushes queued for the case."""
    fresh(session)
    return sorted(session.scalars(select(OutboxMessage.idempotency_key).where(
        OutboxMessage.request_id == number, OutboxMessage.idempotency_key.like("escalate%"))))


def test_a_check_on_case_climbs_to_the_officer_then_the_deputy(app, session, clock, jobs_ctx, town):
    """Raised 16:00: the responsible officer at 18:00; accepted at 18:30 but not resolved, the deputy
    officer at 16:00 next day; nothing further, the ladder has two rungs. No requester to tell."""
    assert [s.level for s in policy.ESCALATION_LADDER["check_on"]] == [1, 2]
    deputy = make_staff(session, StaffRole.TOWN_OFFICER, town.town, local(1, 9), openid="o-officer-2")
    session.commit()
    number = raise_check_on(session, app, town, at(clock, local(8, 16)))
    assert escalation_job(jobs_ctx, at(clock, local(8, 17, 59))) == 0
    assert escalation_job(jobs_ctx, at(clock, local(8, 18))) == 1
    assert escalations(session, number) == [f"escalate:{number}:1:{town.officer.id}"]
    with app.extensions["sanzhida"].session_factory() as s:
        request = s.get(ServiceRequest, number)
        casework.acknowledge(s, app.extensions["sanzhida"].request_env, request, request.assignee, local(8, 18, 30))
        s.commit()
    assert escalation_job(jobs_ctx, at(clock, local(9, 15, 59))) == 0
    assert escalation_job(jobs_ctx, at(clock, local(9, 16))) == 1
    assert escalations(session, number) == [f"escalate:{number}:1:{town.officer.id}",
                                            f"escalate:{number}:2:{deputy.id}"]
    fresh(session)
    request = session.get(ServiceRequest, number)
    assert (request.escalation_level, request.next_escalation_at) == (2, None)
    assert escalation_job(jobs_ctx, at(clock, local(12, 16))) == 0


def test_a_check_on_case_raised_late_counts_service_hours(app, session, clock, jobs_ctx, town):
    """Raised 19:30 (a scan run late): half an hour tonight, an hour and a half tomorrow, 09:30."""
    number = raise_check_on(session, app, town, at(clock, local(8, 19, 30)))
    fresh(session)
    assert session.get(ServiceRequest, number).next_escalation_at == local(9, 9, 30)
    assert escalation_job(jobs_ctx, at(clock, local(9, 9, 29))) == 0
    assert escalation_job(jobs_ctx, at(clock, local(9, 9, 30))) == 1


def test_an_urgent_check_on_case_climbs_the_urgent_ladder(app, session, clock, jobs_ctx, town):
    """Made urgent, a 联系 case is an urgent case: the officer and the assistant at 15 minutes."""
    number = raise_check_on(session, app, town, at(clock, local(8, 16)), Urgency.URGENT)
    assert escalation_job(jobs_ctx, at(clock, local(8, 16, 15))) == 1
    assert escalations(session, number) == sorted([f"escalate:{number}:1:{town.officer.id}",
                                                   f"escalate:{number}:1:{town.assistant.id}"])
