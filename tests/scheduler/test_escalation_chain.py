"""The ladder along the 包联 chain: every rung reaches ONE person, by village, by category and by
the rota; the last urgent rung repeats until someone accepts; an accepted urgent case has rungs of
its own; a missing role walks up the chain with a warning. Jobs are called with a fixed `now`."""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import Engine

from models import OutboxMessage, RequestEvent, ServiceRequest, Staff
from models.enums import BeneficiaryCategory, RequestCategory, Urgency
from scheduler.jobs import escalation_job
from services import casework, reminders, responsibility
from services import requests as service
from services import responsibility_admin as admin
from services.policy.classify import Classification
from tests.scheduler.conftest import at
from tests.support.chain import make_chain_town, name_chain
from tests.support.factories import fresh, make_beneficiary, make_visit, make_wechat_user

TZ = ZoneInfo("Asia/Shanghai")


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """A Shanghai time in December 2026 (the 1st is a Tuesday, the 5th a Saturday)."""
    return datetime(2026, 12, day, hour, minute, tzinfo=TZ)


@pytest.fixture
def world(session, clock):
    """Four officers, four villages, four liaisons; the first village's officers and two
    departments' liaisons named (tests/support/chain.py)."""
    world = make_chain_town(session, clock())
    name_chain(session, world, clock())
    return world


def raise_case(session, app, world, when: datetime, *, village: int = 0, category=RequestCategory.MEDICAL,
               urgency=Urgency.URGENT, assistant: bool = True) -> int:
    """A family member's request about someone in `world.villages[village]`, through the service."""
    fresh(session)  # a snapshot older than another session's commit could not write
    elder = make_beneficiary(session, world.villages[village], when,
                             assistant=world.assistants[village] if assistant else None)
    family = make_wechat_user(session, f"o-family-{elder.id}", when, last_message_at=when)
    request = service.open_request(
        session, app.extensions["sanzhida"].request_env, beneficiary=elder,
        classification=Classification(category, urgency), summary="需要帮助", now=when, user=family,
    )
    session.commit()
    return request.id


def alerted(session, number: int) -> dict[tuple[int, int], set[int]]:
    """(level, repeat) -> the staff the escalation pushes of one request went to."""
    fresh(session)
    rows = session.scalars(select(OutboxMessage).where(
        OutboxMessage.request_id == number, OutboxMessage.idempotency_key.like("escalate%"),
        OutboxMessage.recipient_staff_id.is_not(None)))
    found: dict[tuple[int, int], set[int]] = {}
    for row in rows:
        parts = row.idempotency_key.split(":")
        level, repeat = (int(parts[2]), 0) if parts[0] == "escalate" else (int(parts[2]), int(parts[3]))
        found.setdefault((level, repeat), set()).add(row.recipient_staff_id)
    return found


def ids(*staff: Staff) -> set[int]:
    """Staff ids, for comparing with `alerted`."""
    return {s.id for s in staff}


def accept(app, number: int, when: datetime) -> None:
    """The assistant accepts (接单) the request."""
    with app.extensions["sanzhida"].session_factory() as s:
        request = s.get(ServiceRequest, number)
        casework.acknowledge(s, app.extensions["sanzhida"].request_env, request, request.assignee, when)
        s.commit()


def test_each_rung_reaches_exactly_the_one_responsible_person(app, session, clock, jobs_ctx, world):
    """In office hours: the village's responsible officer (and the assistant's own reminder) at 15
    minutes, the deputy at 30, the health commission's liaison at 45 and again at 55; nobody else of
    the four officers or four liaisons hears of it, and each rung's timeline entry names that one."""
    number = raise_case(session, app, world, at(clock, local(1, 10)))
    for minute, level in ((15, 1), (30, 2), (45, 3), (55, 4)):
        assert escalation_job(jobs_ctx, at(clock, local(1, 10, minute - 1))) == 0
        assert escalation_job(jobs_ctx, at(clock, local(1, 10, minute))) == 1
    officer, deputy = world.officers[1], world.officers[2]
    liaison = world.liaisons[0]
    assert alerted(session, number) == {
        (1, 0): ids(officer, world.assistants[0]), (2, 0): ids(deputy), (3, 0): ids(liaison), (4, 0): ids(liaison),
    }
    pushes = session.scalars(select(RequestEvent).where(RequestEvent.request_id == number, RequestEvent.kind == "push",
                                                        RequestEvent.data["level"].is_not(None))
                             .order_by(RequestEvent.id)).all()
    named = [(e.data["level"], e.data["to_staff_ids"], e.data["roles"]) for e in pushes if "to_staff_ids" in e.data]
    assert named == [
        (1, [officer.id, world.assistants[0].id], ["responsible_officer", "assignee"]),
        (2, [deputy.id], ["deputy_officer"]),
        (3, [liaison.id], ["liaison"]),
        (4, [liaison.id], ["on_duty"]),
    ]
    texts = {row.recipient_staff_id: row.payload["text"] for row in session.scalars(
        select(OutboxMessage).where(OutboxMessage.request_id == number, OutboxMessage.recipient_staff_id.is_not(None),
                                    OutboxMessage.idempotency_key.like("escalate:%:3:%")))}
    assert texts[liaison.id].endswith("您是市卫健委的市级民政联络员。")


def test_defaults_and_the_category_choose_the_people(app, session, clock, jobs_ctx, world):
    """A second village has no named officers: its default ones are alerted. A 政策 case goes to
    civil affairs' named liaison, a 帮购 case to the commerce bureau's default one."""
    policy_case = raise_case(session, app, world, at(clock, local(1, 10)), village=1, category=RequestCategory.POLICY)
    shopping_case = raise_case(session, app, world, local(1, 10), village=1, category=RequestCategory.SHOPPING)
    assert escalation_job(jobs_ctx, at(clock, local(1, 10, 45))) == 6
    officers = responsibility.village_officers(session, world.villages[1].id)
    commerce = responsibility.category_liaisons(session, world.city.id, "帮购")
    assert commerce.name == "市商务局" and commerce.responsible.id != world.liaisons[2].id
    # Each liaison is alerted about their own case, by a push of that case.
    assert alerted(session, policy_case) == {(3, 0): ids(world.liaisons[2])}
    assert alerted(session, shopping_case) == {(3, 0): ids(commerce.responsible)}
    # The officers and the assistant had both cases in the scan: one digest each, nobody else.
    digests = {row.recipient_staff_id for row in session.scalars(
        select(OutboxMessage).where(OutboxMessage.idempotency_key.like("escalate-digest:%")))}
    assert digests == ids(officers.responsible, officers.deputy, world.assistants[1])
    # The default officers are of the village's own town, and two different people.
    assert officers.responsible.region_id == world.town.id and officers.responsible.id != officers.deputy.id


def test_out_of_hours_the_night_shift_across_midnight_stands_in_for_the_liaison(app, session, clock, jobs_ctx, world):
    """Tuesday 23:30, the night shift (17:30-08:30) is C0004's: the liaison's rung at 00:15 and the
    one at 00:25 go to C0004, not to the health liaison C0001, who gets the morning digest."""
    admin.add_duty_shift(session, world.liaisons[3], local(1, 17, 30), local(2, 8, 30), clock())
    session.commit()
    number = raise_case(session, app, world, at(clock, local(1, 23, 30)))
    assert escalation_job(jobs_ctx, at(clock, local(2, 0, 15))) == 3
    assert escalation_job(jobs_ctx, at(clock, local(2, 0, 25))) == 1
    found = alerted(session, number)
    assert found[(3, 0)] == found[(4, 0)] == ids(world.liaisons[3])
    assert all(world.liaisons[0].id not in people for people in found.values())
    event_data = session.scalars(select(RequestEvent.data).where(
        RequestEvent.request_id == number, RequestEvent.kind == "escalated")).all()
    assert [d.get("on_duty_for") for d in event_data] == [None, None, world.liaisons[0].id, world.liaisons[0].id]

    env = app.extensions["sanzhida"].request_env
    reminders.town_digests(session, env, at(clock, local(2, 8, 30)))
    session.commit()
    digest = session.scalars(select(OutboxMessage).where(OutboxMessage.idempotency_key.like("digest-liaison:%"))).one()
    assert digest.idempotency_key == f"digest-liaison:{world.liaisons[0].id}:2026-12-02"
    assert digest.payload["text"].split("\n")[1].startswith(f"{number}号 ")
    assert "值班人员督办" in digest.payload["text"]
    # The next morning there is nothing new to tell.
    reminders.town_digests(session, env, local(3, 8, 30))
    session.commit()
    assert len(session.scalars(select(OutboxMessage).where(OutboxMessage.idempotency_key.like("digest-liaison:%"))).all()) == 1


def test_on_a_weekend_day_the_day_shift_stands_in(app, session, clock, jobs_ctx, world):
    """Saturday 10:00, C0002 is on the day shift: a 吃 case's liaison rung goes to C0002, not to civil
    affairs' liaison C0003; on a weekday at the same hour it goes to C0003."""
    admin.add_duty_shift(session, world.liaisons[1], local(5, 8, 30), local(5, 17, 30), clock())
    session.commit()
    saturday = raise_case(session, app, world, at(clock, local(5, 10)), category=RequestCategory.FOOD)
    escalation_job(jobs_ctx, at(clock, local(5, 10, 45)))
    assert alerted(session, saturday)[(3, 0)] == ids(world.liaisons[1])
    accept(app, saturday, local(5, 10, 50))
    escalation_job(jobs_ctx, at(clock, local(6, 12)))  # its rungs for an accepted, unresolved case
    monday = raise_case(session, app, world, at(clock, local(7, 10)), category=RequestCategory.FOOD)
    escalation_job(jobs_ctx, at(clock, local(7, 10, 45)))
    assert alerted(session, monday)[(3, 0)] == ids(world.liaisons[2])


def test_a_gap_in_the_rota_falls_back_to_the_liaison_with_a_warning(app, session, clock, jobs_ctx, world, caplog):
    """Nobody on the rota at night: the liaison is alerted after all, and a warning says so."""
    number = raise_case(session, app, world, at(clock, local(1, 23)))
    caplog.set_level(logging.WARNING, logger="services.responsibility")
    escalation_job(jobs_ctx, at(clock, local(1, 23, 45)))
    assert alerted(session, number)[(3, 0)] == ids(world.liaisons[0])
    assert f"escalation=fallback request={number} level=3 role=liaison answered_by={world.liaisons[0].id}" in caplog.text


def test_the_last_rung_repeats_until_someone_accepts(app, session, clock, jobs_ctx, world):
    """The person on duty is reminded every ten minutes, one push per repeat and never twice for the
    same repeat; a scheduler down for an hour sends one reminder, not six; after acceptance no more
    reminders, and the next check is the accepted case's 4-hour rung."""
    admin.add_duty_shift(session, world.liaisons[3], local(1, 17, 30), local(2, 8, 30), clock())
    session.commit()
    number = raise_case(session, app, world, at(clock, local(1, 23)))
    assert escalation_job(jobs_ctx, at(clock, local(1, 23, 55))) == 4
    assert escalation_job(jobs_ctx, at(clock, local(2, 0, 9))) == 0
    assert escalation_job(jobs_ctx, at(clock, local(2, 0, 10))) == 1
    assert escalation_job(jobs_ctx, local(2, 0, 10)) == 0
    assert escalation_job(jobs_ctx, at(clock, local(2, 0, 20))) == 1
    assert escalation_job(jobs_ctx, at(clock, local(2, 1, 16))) == 1
    on_duty = world.liaisons[3].id
    repeats = sorted(key for key in session.scalars(select(OutboxMessage.idempotency_key))
                     if key.startswith("escalate-repeat:"))
    assert repeats == sorted(f"escalate-repeat:{number}:4:{k}:{on_duty}" for k in (1, 2, 7))
    fresh(session)
    request = session.get(ServiceRequest, number)
    assert (request.escalation_level, request.escalation_repeats) == (4, 7)
    assert request.next_escalation_at == local(2, 1, 20)
    row = session.scalars(select(OutboxMessage).where(OutboxMessage.idempotency_key == repeats[-1])).one()
    assert "仍无人接单（第7次提醒" in row.payload["text"] and row.next_attempt_at == local(2, 1, 16)

    accept(app, number, local(2, 1, 20))
    assert escalation_job(jobs_ctx, at(clock, local(2, 1, 25))) == 0
    assert escalation_job(jobs_ctx, at(clock, local(2, 2, 55))) == 0
    fresh(session)
    assert session.get(ServiceRequest, number).next_escalation_at == local(2, 3)
    assert len([k for k in session.scalars(select(OutboxMessage.idempotency_key))
                if k.startswith("escalate-repeat:")]) == 3


def test_an_accepted_urgent_case_left_unresolved_has_its_own_rungs(app, session, clock, jobs_ctx, world):
    """Raised 05:00 and accepted at 05:10: nothing at 15-55 minutes; unresolved at 4 hours, the
    responsible officer (not the assistant, not everyone); at 12 hours (17:00, office hours), the
    health liaison; then nothing is left."""
    number = raise_case(session, app, world, at(clock, local(1, 5)))
    accept(app, number, local(1, 5, 10))
    assert escalation_job(jobs_ctx, at(clock, local(1, 6))) == 0
    assert escalation_job(jobs_ctx, at(clock, local(1, 8, 59))) == 0
    assert escalation_job(jobs_ctx, at(clock, local(1, 9))) == 1
    assert escalation_job(jobs_ctx, at(clock, local(1, 17))) == 1
    assert alerted(session, number) == {(5, 0): ids(world.officers[1]), (6, 0): ids(world.liaisons[0])}
    fresh(session)
    request = session.get(ServiceRequest, number)
    assert request.escalation_level == 6 and request.next_escalation_at is None
    body = session.scalars(select(RequestEvent.body).where(RequestEvent.request_id == number,
                                                           RequestEvent.kind == "escalated")).all()
    assert body == ["第5级督办：已等待4小时", "第6级督办：已等待12小时"]


def test_a_town_without_officers_walks_up_to_the_city_with_a_warning(app, session, clock, jobs_ctx, world, caplog):
    """Every officer of the town is inactive: the 15-minute rung goes to the category's liaison,
    logged as a fallback; with nobody reachable at all, a warning says nobody was alerted."""
    for officer in world.officers:
        session.get(Staff, officer.id).active = False
    session.commit()
    number = raise_case(session, app, world, at(clock, local(1, 10)))
    caplog.set_level(logging.WARNING, logger="services.responsibility")
    escalation_job(jobs_ctx, at(clock, local(1, 10, 15)))
    assert alerted(session, number) == {(1, 0): ids(world.liaisons[0], world.assistants[0])}
    assert f"escalation=fallback request={number} level=1 role=responsible_officer" in caplog.text
    for staff in session.scalars(select(Staff)):
        staff.wechat_user = None
    session.commit()
    escalation_job(jobs_ctx, at(clock, local(1, 10, 30)))
    assert f"escalation=nobody request={number} level=2 role=deputy_officer" in caplog.text
    fresh(session)
    assert session.get(ServiceRequest, number).escalation_level == 2, "the rung is taken and recorded all the same"


def test_a_new_request_without_an_assistant_goes_to_the_responsible_officer_alone(app, session, clock, world):
    """No assistant: the village's responsible officer has the case and is the only one pushed."""
    number = raise_case(session, app, world, at(clock, local(1, 10)), assistant=False)
    fresh(session)
    assert session.get(ServiceRequest, number).assignee_staff_id == world.officers[1].id
    tasks = session.scalars(select(OutboxMessage.recipient_staff_id).where(
        OutboxMessage.idempotency_key.like("task:%"))).all()
    assert tasks == [world.officers[1].id]


def test_overdue_visits_go_to_each_village_s_responsible_officer(app, session, clock, world):
    """Visits overdue in two villages: each village's responsible officer hears of their own only."""
    env = app.extensions["sanzhida"].request_env
    now = at(clock, local(10, 8))
    for village in (0, 1):
        person = make_beneficiary(session, world.villages[village], local(1, 8).replace(month=10),
                                  assistant=world.assistants[village], categories=[BeneficiaryCategory.TEKUN])
        make_visit(session, person, world.assistants[village], local(1, 8).replace(month=11))
    session.commit()
    reminders.morning_visits(session, env, now)
    session.commit()
    rows = session.scalars(select(OutboxMessage).where(OutboxMessage.idempotency_key.like("visit-overdue:%"))).all()
    second = responsibility.village_officers(session, world.villages[1].id).responsible
    assert second.id != world.officers[1].id
    # One line of header, one overdue person, and the link to the whole list.
    assert {row.recipient_staff_id: row.payload["text"].count("\n") for row in rows} == {
        world.officers[1].id: 2, second.id: 2}


def test_the_scan_costs_the_same_statements_for_three_cases_or_twelve(app, session, clock, jobs_ctx, world):
    """Set-based: who answers for each town and city is read once per scan, so more due cases in the
    same places add rows to the same statements, not statements."""
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    def scan_statements(when: datetime) -> int:
        statements.clear()
        event.listen(Engine, "before_cursor_execute", count)
        try:
            escalation_job(jobs_ctx, at(clock, when))
        finally:
            event.remove(Engine, "before_cursor_execute", count)
        return len(statements)

    for minute in range(3):
        raise_case(session, app, world, local(1, 9, minute), village=minute % 4)
    few = scan_statements(local(1, 9, 17))
    for number in session.scalars(select(ServiceRequest.id)).all():
        accept(app, number, local(1, 9, 20))
    for minute in range(12):
        raise_case(session, app, world, local(1, 11, minute), village=minute % 4)
    many = scan_statements(local(1, 11, 29))
    assert few == many, "\n\n".join(x[:150] for x in statements)
