"""The daily 四查四帮 figures table: rebuilt in pieces it equals rebuilt whole, and every day's row
equals a count straight from the visits."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from models import DailyVisitFigures
from models.enums import BeneficiaryCategory
from services import daily_figures
from services.policy import visit_plan
from services.scope import scope_for
from tests.support.factories import make_beneficiary, make_town, make_visit

TZ = ZoneInfo("Asia/Shanghai")
FIRST, LAST = date(2026, 8, 1), date(2026, 11, 30)
NOW = datetime(2026, 12, 1, 9, tzinfo=TZ)
CATEGORIES = [BeneficiaryCategory.TEKUN, BeneficiaryCategory.LIUSHOU_CHILD, BeneficiaryCategory.DIBAO]


@pytest.fixture
def people(session):
    """Twelve people in two villages, registered at different times, visited at random for five months."""
    rng = random.Random(17)
    world = make_town(session, datetime(2026, 6, 1, tzinfo=TZ))
    history = []
    for n in range(12):
        registered = datetime(2026, 6, 20, 9, tzinfo=TZ) + timedelta(days=rng.randrange(0, 140), hours=rng.randrange(10))
        village, assistant = (world.village, world.assistant) if n % 3 else (world.other_village, None)
        person = make_beneficiary(session, village, registered, assistant=assistant,
                                  categories=[CATEGORIES[n % 3]])
        visits = []
        at = registered + timedelta(days=rng.randrange(0, 10))
        while at < NOW:
            checks = {"food": "problem"} if rng.random() < 0.2 else {}
            visits.append(make_visit(session, person, world.assistant, at, helped_policy=rng.random() < 0.3, **checks))
            at += timedelta(days=rng.randrange(2, 40), hours=rng.randrange(-5, 6))
        history.append((person, visits))
    session.flush()
    return world, history


def _rows(session):
    return {(r.day, r.village_id, r.staff_id): tuple(getattr(r, c) for c in daily_figures.COUNTS)
            for r in session.scalars(select(DailyVisitFigures))}


def test_rebuilt_in_pieces_equals_rebuilt_whole(session, people):
    """Month by month, and the scheduler's recent window over it, give the same rows as one pass."""
    daily_figures.rebuild(session, FIRST, LAST, TZ, NOW)
    whole = _rows(session)
    assert whole
    day = FIRST
    while day <= LAST:
        end = min(day + timedelta(days=30), LAST)
        daily_figures.rebuild(session, day, end, TZ, NOW)
        day = end + timedelta(days=1)
    daily_figures.rebuild_recent(session, datetime(2026, 11, 30, 20, tzinfo=TZ), TZ)
    assert _rows(session) == whole


def test_each_day_matches_the_visits(session, people):
    """People, overdue, periods due and covered, visits and findings: counted straight from the visits."""
    world, history = people
    daily_figures.rebuild(session, FIRST, LAST, TZ, NOW)
    rows = _rows(session)
    day = FIRST
    while day <= LAST:
        start = datetime.combine(day, datetime.min.time(), TZ)
        for village, staff in ((world.village.id, world.assistant.id), (world.other_village.id, None)):
            expected = [0] * len(daily_figures.COUNTS)
            for person, visits in history:
                if person.village_id != village or person.created_at.astimezone(TZ).date() > day:
                    continue
                expected[0] += 1
                done = [v for v in visits if v.visited_at.astimezone(TZ).date() <= day]
                seen = max((v.visited_at for v in done), default=person.created_at)
                every = person.visit_every_days
                expected[1] += (start - seen) > timedelta(days=every)
                period = visit_plan.plan_period(day, every)
                if period[1] == day and person.created_at.astimezone(TZ).date() <= period[0]:
                    expected[2] += 1
                    expected[3] += any(period[0] <= v.visited_at.astimezone(TZ).date() <= day for v in visits)
                today = [v for v in visits if v.visited_at.astimezone(TZ).date() == day]
                expected[4] += len(today)
                expected[5] += sum(v.food == "problem" for v in today)
                expected[-1] += sum(v.helped_policy for v in today)
            assert rows.get((day, village, staff), (0,) * len(expected)) == tuple(expected), (day, village)
        day += timedelta(days=1)


def test_period_sums_and_scope(session, people):
    """A town officer's November: periods and visits summed, people and overdue on the last day."""
    world, history = people
    daily_figures.rebuild(session, FIRST, LAST, TZ, NOW)
    rows = daily_figures.daily(session, scope_for(world.officer), date(2026, 11, 1), LAST, "village")
    numbers = daily_figures.period_numbers(rows, date(2026, 11, 1), LAST)
    mine = numbers[world.village.id]
    november = [v for person, visits in history if person.village_id == world.village.id for v in visits
                if date(2026, 11, 1) <= v.visited_at.astimezone(TZ).date() <= LAST]
    assert mine.visits_made == len(november)
    assert mine.problems["food"] == sum(v.food == "problem" for v in november)
    assert mine.beneficiaries == sum(1 for p, _ in history if p.village_id == world.village.id)
    own = daily_figures.daily(session, scope_for(world.assistant), date(2026, 11, 1), LAST, "village")
    assert {key for _, key, *_ in own} == {world.village.id}  # the other village's people have no assistant
