"""Daily jobs: visit digests, overdue alerts, digests; `tick` exactly once; catch-up after a restart;
a simulated day driven by ticks with every push queued exactly once."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from models import JobRun, OutboxMessage, RequestEvent, ServiceRequest
from models.enums import BeneficiaryCategory, RequestCategory, Urgency
from scheduler import calendar
from services import casework
from services import requests as service
from services.policy.classify import Classification
from tests.scheduler.conftest import at
from tests.support.factories import fresh, make_beneficiary, make_visit, make_wechat_user

TZ = ZoneInfo("Asia/Shanghai")
GRACE = timedelta(minutes=180)


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """A Shanghai time in December 2026."""
    return datetime(2026, 12, day, hour, minute, tzinfo=TZ)


def outbox_keys(session) -> list[str]:
    """Every idempotency key in the outbox."""
    fresh(session)
    return sorted(session.scalars(select(OutboxMessage.idempotency_key)))


def registered_long_ago(session, town, clock, categories, days_ago: int, visited_days_ago: int | None = None):
    """A beneficiary of the town's assistant, registered `days_ago` days before now."""
    when = clock() - timedelta(days=days_ago)
    person = make_beneficiary(session, town.village, when, assistant=town.assistant, categories=categories)
    if visited_days_ago is not None:
        make_visit(session, person, town.assistant, clock() - timedelta(days=visited_days_ago))
    session.commit()
    return person


def test_morning_digest_lists_due_and_overdue_most_overdue_first(session, clock, jobs_ctx, town):
    """One digest per assistant at 08:00: overdue first, then due today; nobody not yet due."""
    at(clock, local(10, 8))
    due_today = registered_long_ago(session, town, clock, [BeneficiaryCategory.TEKUN], 7)
    very_late = registered_long_ago(session, town, clock, [BeneficiaryCategory.DIBAO], 60, visited_days_ago=40)
    registered_long_ago(session, town, clock, [BeneficiaryCategory.LIUSHOU_ELDERLY], 20, visited_days_ago=2)
    assert calendar.tick(jobs_ctx, TZ, local(10, 8), GRACE)["visit_reminders"] == "ran"
    fresh(session)
    digest = session.scalars(select(OutboxMessage).where(OutboxMessage.idempotency_key == f"remind:{town.assistant.id}:2026-12-10")).one()
    text = digest.payload["text"]
    assert "2 户到期或超期" in text
    assert text.index(very_late.name) < text.index(due_today.name)
    assert "超期10天" in text and "今天到期" in text
    assert "任务" in text or "走访 对象编号" in text


def test_overdue_beyond_slack_alerts_town_officers_once_per_period(session, clock, jobs_ctx, town):
    """A visit 10 days late (slack 7) is reported once; the next day it is not reported again;
    after a new visit and a new lapse, it is reported again."""
    at(clock, local(10, 8))
    late = registered_long_ago(session, town, clock, [BeneficiaryCategory.TEKUN], 40, visited_days_ago=17)
    calendar.tick(jobs_ctx, TZ, local(10, 8), GRACE)
    assert f"visit-overdue:{town.officer.id}:2026-12-10" in outbox_keys(session)
    calendar.tick(jobs_ctx, TZ, at(clock, local(11, 8)), GRACE)
    assert f"visit-overdue:{town.officer.id}:2026-12-11" not in outbox_keys(session)
    make_visit(session, late, town.assistant, local(11, 10))
    session.commit()
    calendar.tick(jobs_ctx, TZ, at(clock, local(26, 8)), GRACE)  # due 18th, 8 days late on the 26th
    assert f"visit-overdue:{town.officer.id}:2026-12-26" in outbox_keys(session)


def test_tick_runs_each_job_once_per_due_instant(session, clock, jobs_ctx, town):
    """The same tick twice: the second finds every calendar job already done."""
    at(clock, local(7, 9))  # a Monday
    registered_long_ago(session, town, clock, [BeneficiaryCategory.TEKUN], 8)
    first = calendar.tick(jobs_ctx, TZ, local(7, 9), GRACE)
    keys = outbox_keys(session)
    second = calendar.tick(jobs_ctx, TZ, local(7, 9), GRACE)
    assert first == {"outbox_dispatch": first["outbox_dispatch"], "escalation_scan": 0, "media_retention": 0,
                     "message_retention": 0, "figures": first["figures"],
                     "visit_reminders": "ran", "town_digest": "ran", "city_summary": "ran",
                     # Due on the 1st, six days before: far beyond the grace.
                     "monthly_report": "skipped",
                     # Due yesterday at 10:00 and 16:00, and today at 03:30: beyond the grace too.
                     "checkin_reminders": "skipped", "checkin_silences": "skipped", "archive": "skipped"}
    assert {k: v for k, v in second.items() if k not in ("outbox_dispatch", "escalation_scan", "media_retention",
                                                                "message_retention", "figures")} == {
        "visit_reminders": "already", "town_digest": "already", "city_summary": "already", "monthly_report": "already",
        "checkin_reminders": "already", "checkin_silences": "already", "archive": "already"}
    assert outbox_keys(session) == keys
    assert f"digest-city:{town.supervisor.id}:2026-W50" in keys
    assert f"digest-town:{town.officer.id}:2026-12-07" in keys


def test_a_restart_after_a_missed_0800_sends_that_days_reminders_once(session, clock, jobs_ctx, town, caplog):
    """Down at 08:00, back at 10:00 (within the grace): reminders once. Back at 12:00 the next day
    (beyond it): skipped, with the reason in the log."""
    at(clock, local(10, 10))
    registered_long_ago(session, town, clock, [BeneficiaryCategory.TEKUN], 8)
    visits_job = calendar.calendar_jobs(TZ)[0]
    assert calendar.run_calendar_job(jobs_ctx, visits_job, local(10, 10), GRACE) == "ran"
    assert calendar.run_calendar_job(jobs_ctx, visits_job, local(10, 10, 1), GRACE) == "already"
    assert outbox_keys(session).count(f"remind:{town.assistant.id}:2026-12-10") == 1
    caplog.set_level(logging.WARNING)
    assert calendar.run_calendar_job(jobs_ctx, visits_job, at(clock, local(11, 12)), GRACE) == "skipped"
    assert f"remind:{town.assistant.id}:2026-12-11" not in outbox_keys(session)
    assert "reason=missed_beyond_grace" in caplog.text and "job=visit_reminders" in caplog.text
    fresh(session)
    assert session.scalars(select(JobRun.status).where(JobRun.job_id == "visit_reminders").order_by(JobRun.id)).all() == ["done", "skipped"]


def test_a_simulated_day_of_ticks_queues_every_push_exactly_once(app, session, clock, jobs_ctx, town):
    """Ticks every 5 minutes from 00:00 to 24:00, each instant ticked twice (two processes):
    the outbox holds exactly the expected pushes, none missing, none doubled. The urgent case climbs
    to the person on duty, is reminded once, is accepted at 10:12, and then takes its own rungs for
    an accepted case still unresolved at 4 and 12 hours."""
    env = app.extensions["sanzhida"].request_env
    day = 8  # a Tuesday
    at(clock, local(day, 0))
    registered_long_ago(session, town, clock, [BeneficiaryCategory.TEKUN], 8)
    elder = make_beneficiary(session, town.village, local(day, 0), assistant=town.assistant)
    family = make_wechat_user(session, "o-family", local(day, 0), last_message_at=local(day, 0))
    session.commit()

    def raise_at(when, urgency):
        with app.extensions["sanzhida"].session_factory() as s:
            request = service.open_request(
                s, env, beneficiary=s.get(type(elder), elder.id),
                classification=Classification(RequestCategory.FOOD, urgency), summary="求助", now=when,
                user=s.get(type(family), family.id),
            )
            s.commit()
            return request.id

    def accept_at(when, number):
        with app.extensions["sanzhida"].session_factory() as s:
            request = s.get(ServiceRequest, number)
            casework.acknowledge(s, env, request, request.assignee, when)
            s.commit()
            return s.scalars(select(RequestEvent.id).where(RequestEvent.request_id == number,
                                                           RequestEvent.kind == "acknowledged")).one()

    planned = {local(day, 9, 2): Urgency.URGENT, local(day, 14, 1): Urgency.NORMAL}
    accepted_at = local(day, 10, 12)
    numbers, ack_event = {}, None
    moment = local(day, 0)
    while moment <= local(day + 1, 0):
        for when, urgency in planned.items():
            if moment - timedelta(minutes=5) < when <= moment and when not in numbers:
                numbers[when] = raise_at(when, urgency)
        if moment - timedelta(minutes=5) < accepted_at <= moment:
            ack_event = accept_at(accepted_at, numbers[local(day, 9, 2)])
        at(clock, moment)
        calendar.tick(jobs_ctx, TZ, moment, GRACE)
        calendar.tick(jobs_ctx, TZ, moment, GRACE)
        moment += timedelta(minutes=5)

    urgent, normal = numbers[local(day, 9, 2)], numbers[local(day, 14, 1)]
    a, o, s = town.assistant.id, town.officer.id, town.supervisor.id
    expected = sorted([
        f"remind:{a}:2026-12-08",
        f"digest-town:{o}:2026-12-08",
        f"task:{urgent}:{a}", f"task:{normal}:{a}",
        f"escalate:{urgent}:1:{o}", f"escalate:{urgent}:1:{a}", f"escalate:{urgent}:1:requester",
        # A one-officer town has no deputy: the 30-minute rung walks up to the liaison.
        f"escalate:{urgent}:2:{s}",
        f"escalate:{urgent}:3:{s}", f"escalate:{urgent}:3:requester",
        f"escalate:{urgent}:4:{s}", f"escalate-repeat:{urgent}:4:1:{s}",
        f"ack:{ack_event}",
        f"escalate:{urgent}:5:{o}", f"escalate:{urgent}:5:requester",
        f"escalate:{urgent}:6:{s}", f"escalate:{urgent}:6:requester",
        f"escalate:{normal}:1:{o}", f"escalate:{normal}:1:requester",
    ])
    assert outbox_keys(session) == expected
    fresh(session)
    assert session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status != "sent")) == 0


def test_what_a_tick_queues_goes_out_in_that_same_tick(app, session, clock, jobs_ctx, town, fake_wechat):
    """The 08:00 tick queues the visit digest (a calendar job) and an escalation (an interval job), and
    sends both before it returns: the outbox dispatch runs last, so nothing waits for the next tick."""
    env = app.extensions["sanzhida"].request_env
    at(clock, local(10, 7, 40))
    registered_long_ago(session, town, clock, [BeneficiaryCategory.TEKUN], 7)
    elder = make_beneficiary(session, town.village, clock(), assistant=town.assistant)
    session.commit()
    with app.extensions["sanzhida"].session_factory() as s:
        number = service.open_request(
            s, env, beneficiary=s.get(type(elder), elder.id),
            classification=Classification(RequestCategory.FOOD, Urgency.URGENT), summary="求助", now=clock(),
        ).id
        s.commit()

    results = calendar.tick(jobs_ctx, TZ, at(clock, local(10, 8)), GRACE)

    assert results["visit_reminders"] == "ran" and results["escalation_scan"] == 1
    fresh(session)
    rows = {row.idempotency_key: row.status for row in session.scalars(select(OutboxMessage))}
    queued_by_the_tick = [f"remind:{town.assistant.id}:2026-12-10", f"escalate:{number}:1:{town.officer.id}"]
    assert {key: rows[key] for key in queued_by_the_tick} == dict.fromkeys(queued_by_the_tick, "sent")
    assert set(rows.values()) == {"sent"}
    assert results["outbox_dispatch"] == len(rows)
    delivered_to = [c["body"]["touser"] for c in fake_wechat.state.calls
                    if c["outcome"] == "delivered" and c["path"].startswith("message/")]
    # The officer's one push is the escalation this tick queued.
    assert delivered_to.count("o-officer") == 1
