"""The demos' seven months of history: enough, and consistent enough, to show every service figure.

Both demos are seeded once per module into databases of their own (read-only afterwards): the small
town played through the services (seed 7) and the generated city in a tiny shape (seed 11).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta
from statistics import mean, median
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from config import policy
from devtools import demo, demo_city, demo_history
from models import (
    Assignment,
    Beneficiary,
    DailyVisitFigures,
    FamilyLink,
    Region,
    RequestEvent,
    ServiceRequest,
    Staff,
    VillageOfficers,
    Visit,
    WeChatUser,
)
from models.db import make_engine, make_session_factory
from models.enums import OPEN_STATUSES, RegionLevel, StaffRole
from models.migrate import upgrade
from services import requests as request_service
from services.notify import Templates
from services.pii import PiiCipher
from tests.conftest import START

PII = PiiCipher("k" * 40)
TZ = ZoneInfo("Asia/Shanghai")
ENV = request_service.RequestEnv(tz=TZ, templates=Templates(task="tpl-task", progress="tpl-progress"))
NOW = START
TINY = demo_city.CityShape(
    towns=2, villages=5, communities=1, assistants=20, town_officers=9, supervisors=3, admins=1,
    beneficiaries=300, requests=300,
)
OPEN = {s.value for s in OPEN_STATUSES}
CHECKS = ("food", "clothing", "housing", "medical")
HELPS = demo_history.HELP_FIELDS


def _seeded(databases, seed_into):
    """A database of the module's own, seeded by `seed_into(session)` and committed; yields a session."""
    url = databases.new()
    upgrade(url)
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        seed_into(session)
        session.commit()
        yield session
    engine.dispose()


@pytest.fixture(scope="module")
def small(databases):
    """The small demo with its history."""
    yield from _seeded(databases, lambda s: demo.seed_small(s, PII, NOW, seed=7, env=ENV))


@pytest.fixture(scope="module")
def city(databases):
    """The generated city, in a tiny shape."""
    yield from _seeded(databases, lambda s: demo_city.seed_city(s, PII, NOW, tz=TZ, seed=11, shape=TINY))


@pytest.fixture(params=["small", "city"])
def seeded(request):
    """Each demo in turn."""
    return request.getfixturevalue(request.param)


def rungs_reached(session) -> dict[int, set[int]]:
    """The rungs each request's escalated events name."""
    reached = defaultdict(set)
    for request_id, data in session.execute(select(RequestEvent.request_id, RequestEvent.data)
                                            .where(RequestEvent.kind == "escalated")):
        reached[request_id].add(int(data["level"]))
    return reached


# --- both demos --------------------------------------------------------------------------------------


def test_nothing_happens_after_now_and_every_timeline_holds_together(seeded):
    """No time after the seed's clock; accepted after raised, resolved after accepted, closed when
    rated; statuses match the times; events in order, starting with `created`; numbers in time order."""
    session = seeded
    for column in (Visit.visited_at, Visit.created_at, ServiceRequest.created_at, ServiceRequest.updated_at,
                   ServiceRequest.acknowledged_at, ServiceRequest.resolved_at, ServiceRequest.closed_at,
                   ServiceRequest.cancelled_at, RequestEvent.created_at, FamilyLink.created_at,
                   WeChatUser.created_at, Beneficiary.last_visited_at, Assignment.started_at):
        assert session.scalar(select(func.max(column))) <= NOW, column
    events = defaultdict(list)
    for event in session.scalars(select(RequestEvent).order_by(RequestEvent.id)):
        events[event.request_id].append(event)
    for case in session.scalars(select(ServiceRequest)):
        timeline = events[case.id]
        assert timeline[0].kind == "created" and timeline[0].created_at == case.created_at
        assert [e.created_at for e in timeline] == sorted(e.created_at for e in timeline)
        assert case.updated_at >= case.created_at
        if case.acknowledged_at:
            assert case.acknowledged_at >= case.created_at
        if case.resolved_at:
            assert case.resolved_at >= (case.acknowledged_at or case.created_at)
        kinds = {e.kind for e in timeline}
        expected = {"open": set(), "acknowledged": {"acknowledged"}, "resolved": {"resolved"},
                    "closed": {"resolved", "rated"}, "cancelled": {"cancelled"}}[case.status]
        assert expected <= kinds, case.id
        assert (case.status == "closed") == (case.closed_at is not None and case.rating is not None)
        assert (case.status in ("resolved", "closed")) == (case.resolved_at is not None)
        if case.status in OPEN:
            assert case.resolved_at is None and case.cancelled_at is None
    # Request numbers follow time, as the running system hands them out.
    numbered = session.execute(select(ServiceRequest.created_at).order_by(ServiceRequest.id)).scalars().all()
    assert numbered == sorted(numbered)


def test_requests_fill_every_one_of_the_last_26_weeks(seeded):
    """Every week of the last 26 (counted back from now, and each calendar week) has requests."""
    times = seeded.scalars(select(ServiceRequest.created_at)).all()
    for week in range(26):
        start, end = NOW - timedelta(days=7 * (week + 1)), NOW - timedelta(days=7 * week)
        assert any(start <= t < end for t in times), f"no request {week} weeks back"
    monday = NOW.astimezone(TZ).date() - timedelta(days=NOW.astimezone(TZ).weekday())
    weeks = Counter((t.astimezone(TZ).date() - monday).days // 7 for t in times)
    assert all(weeks[-w] > 0 for w in range(1, 27))


def test_escalated_events_name_the_rung_the_request_stands_on(seeded):
    """Each request's level is the highest rung of its escalated events, taken at the ladder's times;
    the next rung is scheduled as the ladder says."""
    reached = rungs_reached(seeded)
    for case in seeded.scalars(select(ServiceRequest)):
        assert case.escalation_level == max(reached.get(case.id, {0})), case.id
        assert case.next_escalation_at == request_service.next_escalation(case, TZ)
    for case_id, created, at, data in seeded.execute(
        select(ServiceRequest.id, ServiceRequest.created_at, RequestEvent.created_at, RequestEvent.data)
        .join(RequestEvent, RequestEvent.request_id == ServiceRequest.id)
        .where(RequestEvent.kind == "escalated", ServiceRequest.urgency == "urgent")
    ):
        step = next(s for s in policy.ESCALATION_LADDER["urgent"] if s.level == data["level"])
        assert at - created >= step.after, case_id  # never before the rung was due


def test_categories_urgency_and_sources_are_plausible(seeded):
    """Several categories, a few percent urgent, visits among the sources."""
    rows = seeded.execute(select(ServiceRequest.category, ServiceRequest.urgency, ServiceRequest.source)).all()
    categories = Counter(r.category for r in rows)
    assert len(categories) >= 6
    assert categories.most_common(1)[0][1] < 0.4 * len(rows)
    urgent = sum(r.urgency == "urgent" for r in rows)
    assert 0 < urgent < 0.1 * len(rows)
    assert {"visit"} < {r.source for r in rows}


def test_response_times_are_minutes_to_hours_with_a_slow_tail(seeded):
    """Most accepted within a couple of hours, some the next day; resolved within hours to days."""
    rows = seeded.execute(select(ServiceRequest.created_at, ServiceRequest.acknowledged_at,
                                 ServiceRequest.resolved_at).where(ServiceRequest.source != "visit",
                                                                   ServiceRequest.acknowledged_at.is_not(None))).all()
    accept = sorted((r.acknowledged_at - r.created_at) / timedelta(hours=1) for r in rows)
    resolve = sorted((r.resolved_at - r.created_at) / timedelta(hours=1) for r in rows if r.resolved_at)
    assert median(accept) < 2 and accept[int(0.9 * len(accept))] > 3 and accept[-1] > 12
    assert 2 < median(resolve) < 36 and resolve[-1] > 48


def test_most_resolved_cases_are_rated_mostly_well(seeded):
    """About two thirds of resolved cases rated, mostly 4-5, some low; the rater is bound to the person."""
    rows = seeded.execute(select(ServiceRequest.rating).where(ServiceRequest.resolved_at.is_not(None))).all()
    ratings = [r.rating for r in rows if r.rating]
    assert 0.55 <= len(ratings) / len(rows) <= 0.8
    assert 3.9 <= mean(ratings) <= 4.6
    assert sum(r >= 4 for r in ratings) > 0.7 * len(ratings) and min(ratings) <= 2
    unlinked = seeded.scalar(
        select(func.count()).select_from(RequestEvent)
        .join(ServiceRequest, ServiceRequest.id == RequestEvent.request_id)
        .outerjoin(FamilyLink, (FamilyLink.wechat_user_id == RequestEvent.actor_wechat_user_id)
                   & (FamilyLink.beneficiary_id == ServiceRequest.beneficiary_id))
        .where(RequestEvent.kind == "rated", FamilyLink.id.is_(None))
    )
    assert unlinked == 0


def test_visits_follow_each_plan_with_findings_and_help(seeded):
    """About one visit per plan period by the person's assistant; a few percent find a problem (each
    opened a case), every 四帮 kind is given; last_visited_at is the last visit."""
    session = seeded
    window = demo_history.Window(NOW, TZ)
    people = session.execute(
        select(Beneficiary.id, Beneficiary.visit_every_days, Beneficiary.created_at, Beneficiary.last_visited_at,
               Staff.active).join(Assignment, Assignment.beneficiary_id == Beneficiary.id)
        .join(Staff, Staff.id == Assignment.staff_id)
    ).all()
    made = Counter(session.scalars(select(Visit.beneficiary_id)))
    last = dict(session.execute(select(Visit.beneficiary_id, func.max(Visit.visited_at))
                                .group_by(Visit.beneficiary_id)).all())
    ratios = [made[p.id] * p.visit_every_days / window.days for p in people
              if p.active and p.created_at < NOW - timedelta(days=window.days)]
    assert 0.75 <= median(ratios) <= 1.3
    assert all(p.last_visited_at == last.get(p.id) for p in people)
    mismatched = session.scalar(
        select(func.count()).select_from(Visit)
        .join(Assignment, (Assignment.beneficiary_id == Visit.beneficiary_id) & Assignment.ended_at.is_(None))
        .where(Assignment.staff_id != Visit.staff_id)
    )
    assert mismatched == 0
    total = sum(made.values())
    found = {c: session.scalar(select(func.count()).select_from(Visit).where(getattr(Visit, c) == "problem"))
             for c in CHECKS}
    problems = session.scalar(select(func.count()).select_from(Visit).where(
        (Visit.food == "problem") | (Visit.clothing == "problem") | (Visit.housing == "problem")
        | (Visit.medical == "problem")))
    assert 0.005 < problems / total < 0.08 and sum(n > 0 for n in found.values()) >= 3
    assert session.scalar(select(func.count()).select_from(ServiceRequest)
                          .where(ServiceRequest.source == "visit")) == problems
    for help_field in HELPS:
        share = session.scalar(select(func.count()).select_from(Visit).where(getattr(Visit, help_field).is_(True)))
        assert 0.05 < share / total < 0.5, help_field


def test_some_people_are_overdue_now_and_the_daily_figures_cover_the_history(seeded):
    """A few people are overdue today, as the visits page counts them (more where an assistant left);
    the daily figures are filled from the first day of the history to today."""
    session = seeded
    today = NOW.astimezone(TZ).date()
    today_start = NOW.astimezone(TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    people = session.execute(select(Beneficiary.visit_every_days, Beneficiary.last_visited_at,
                                    Beneficiary.created_at)).all()
    overdue = sum((p.last_visited_at or p.created_at) < today_start - timedelta(days=p.visit_every_days)
                  for p in people)
    assert 0.02 * len(people) < overdue < 0.35 * len(people)
    first, last = session.execute(select(func.min(DailyVisitFigures.day), func.max(DailyVisitFigures.day))).one()
    assert first == demo_history.Window(NOW, TZ).first and last == today


def test_an_assistant_left_and_nobody_has_their_people_yet(seeded):
    """A village has an assistant no longer active whose people are still assigned to them (routing
    passes them up the chain); nothing they did comes after they left, and what their people asked
    since went to the village's responsible officer (or a colleague it was handed to)."""
    session = seeded
    leavers = session.scalars(select(Staff).where(Staff.active.is_(False))).all()
    assert leavers and all(s.role == StaffRole.ASSISTANT.value for s in leavers)
    for leaver in leavers:
        left_at = leaver.updated_at
        people = session.scalars(select(Assignment.beneficiary_id).where(Assignment.staff_id == leaver.id,
                                                                          Assignment.ended_at.is_(None))).all()
        assert people
        assert session.scalar(select(func.max(Visit.visited_at)).where(Visit.staff_id == leaver.id)) < left_at
        acted = session.scalar(select(func.max(RequestEvent.created_at))
                               .where(RequestEvent.actor_staff_id == leaver.id))
        assert acted is None or acted < left_at
        officer = session.scalar(select(VillageOfficers.responsible_staff_id)
                                 .where(VillageOfficers.village_id == leaver.region_id))
        for case in session.scalars(select(ServiceRequest).where(ServiceRequest.beneficiary_id.in_(people),
                                                                 ServiceRequest.created_at >= left_at)):
            assert case.assignee_staff_id == officer, case.id
        assert session.scalar(select(func.count()).select_from(ServiceRequest).where(
            ServiceRequest.assignee_staff_id == leaver.id, ServiceRequest.status.in_(OPEN))) == 0


# --- the small town ---------------------------------------------------------------------------------


def test_small_demo_escalates_on_every_rung_of_both_ladders(small):
    """Urgent cases reached each of the six rungs, repeats of the fourth included; normal ones each of three."""
    reached = rungs_reached(small)
    urgency = dict(small.execute(select(ServiceRequest.id, ServiceRequest.urgency)).all())
    by_ladder = defaultdict(set)
    for case_id, levels in reached.items():
        by_ladder[urgency[case_id]] |= levels
    assert by_ladder["urgent"] == {1, 2, 3, 4, 5, 6}
    assert by_ladder["normal"] == {1, 2, 3}
    repeats = small.scalar(select(func.count()).select_from(RequestEvent).where(
        RequestEvent.kind == "escalated", RequestEvent.data["repeat"].as_integer() >= 1))
    assert repeats >= 1
    # A few are still open past a rung, as the scripted cases of the last days leave them.
    hanging = small.scalars(select(ServiceRequest).where(ServiceRequest.status.in_(OPEN),
                                                         ServiceRequest.escalation_level >= 1)).all()
    assert 2 <= len(hanging) <= 6


def test_small_demo_villages_keep_to_plan_differently(small):
    """Over the last 26 weeks, 东湾村 covers its visit plan best and 南岭村 worst; a weak month shows."""
    first = NOW.astimezone(TZ).date() - timedelta(weeks=26)
    rows = small.execute(
        select(Region.name, func.sum(DailyVisitFigures.visits_covered), func.sum(DailyVisitFigures.visits_due))
        .join(Region, Region.id == DailyVisitFigures.village_id)
        .where(DailyVisitFigures.day >= first).group_by(Region.name)
    ).all()
    coverage = {name: covered / due for name, covered, due in rows}
    assert coverage["南岭村"] < coverage["新街社区"] and coverage["南岭村"] < coverage["东湾村"]
    assert coverage["东湾村"] > 0.85 and coverage["南岭村"] < 0.85
    # The busiest town office still takes a call every few days: about three a week in all.
    raised = small.scalar(select(func.count()).select_from(ServiceRequest).where(ServiceRequest.source == "office"))
    assert 2.5 <= raised / (demo_history.HISTORY_DAYS / 7) <= 4


# --- the city -----------------------------------------------------------------------------------------


def test_city_towns_keep_to_plan_differently_and_a_weak_month_shows(city):
    """Coverage of the last 26 weeks differs between the towns (one weak); a weak month dips."""
    first = NOW.astimezone(TZ).date() - timedelta(weeks=26)
    rows = city.execute(
        select(DailyVisitFigures.town_id, func.sum(DailyVisitFigures.visits_covered),
               func.sum(DailyVisitFigures.visits_due))
        .where(DailyVisitFigures.day >= first).group_by(DailyVisitFigures.town_id)
    ).all()
    coverage = sorted(covered / due for _, covered, due in rows)
    assert len(coverage) == TINY.towns
    assert coverage[0] < 0.82 and coverage[-1] - coverage[0] > 0.05
    by_month = defaultdict(lambda: [0, 0])
    for day, covered, due in city.execute(select(DailyVisitFigures.day, DailyVisitFigures.visits_covered,
                                                 DailyVisitFigures.visits_due).where(DailyVisitFigures.day >= first)):
        by_month[day.month][0] += covered
        by_month[day.month][1] += due
    shares = {month: covered / due for month, (covered, due) in by_month.items() if due}
    weak = [shares[m] for m in demo_history.WEAK_MONTHS if m in shares]
    usual = [shares[m] for m in shares if m not in demo_history.WEAK_MONTHS]
    assert weak and min(weak) < median(usual)


def test_city_events_are_numbered_in_time_order(city):
    """Event ids follow time across the city, as the scheduler and the services would have written them."""
    times = city.scalars(select(RequestEvent.created_at).order_by(RequestEvent.id)).all()
    assert times == sorted(times)


def test_city_gaps_show_on_the_map(city):
    """One assistant of a village carries most of its people; an assistant left; every village of the
    city keeps three assistants on record."""
    shares = []
    for village_id in city.scalars(select(Region.id).where(Region.level == RegionLevel.VILLAGE.value)):
        loads = city.execute(
            select(func.count()).select_from(Assignment).join(Staff, Staff.id == Assignment.staff_id)
            .where(Staff.region_id == village_id, Assignment.ended_at.is_(None)).group_by(Staff.id)
        ).scalars().all()
        shares.append(max(loads) / sum(loads))
    assert max(shares) > 0.4 and median(shares) < 0.4
    assert city.scalar(select(func.count()).select_from(Staff).where(Staff.active.is_(False))) >= 1
