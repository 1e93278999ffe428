"""PostgreSQL's request figures equal the Python tally's, request for request, on a random history
with overnight, weekend and multi-day cases, ratings and escalations."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from models import RequestEvent, ServiceRequest
from services import request_tally, request_tally_sql
from services.request_tally import TOTAL
from services.scope import EVERYWHERE, scope_for
from tests.conftest import using_postgres
from tests.support.factories import make_beneficiary, make_town

TZ = ZoneInfo("Asia/Shanghai")
SINCE, UNTIL = datetime(2026, 10, 1, tzinfo=TZ), datetime(2026, 12, 1, tzinfo=TZ)

pytestmark = pytest.mark.skipif(not using_postgres(), reason="the database path is PostgreSQL's")


@pytest.fixture
def world(session):
    """Two villages, 150 requests at random times with random outcomes."""
    rng = random.Random(11)
    town = make_town(session, datetime(2026, 9, 1, tzinfo=TZ))
    people = [make_beneficiary(session, village, datetime(2026, 9, 1, tzinfo=TZ), assistant=assistant)
              for village, assistant in ((town.village, town.assistant), (town.other_village, town.other_assistant))
              for _ in range(3)]
    for n in range(150):
        person = rng.choice(people)
        created = SINCE - timedelta(days=3) + timedelta(minutes=rng.randrange(0, 64 * 24 * 60))
        accepted = created + timedelta(minutes=rng.choice([1, 30, 200, 900, 3000, 9000])) if rng.random() < .9 else None
        resolved = accepted + timedelta(minutes=rng.randrange(10, 20000)) if accepted and rng.random() < .8 else None
        status = "resolved" if resolved else "acknowledged" if accepted else "open"
        case = ServiceRequest(
            beneficiary_id=person.id, village_id=person.village_id, town_id=town.town.id,
            category=rng.choice(["医", "吃", "住", "其他"]), urgency=rng.choice(["normal", "urgent"]), status=status,
            summary="求助", assignee_staff_id=rng.choice([town.assistant.id, town.other_assistant.id, None]),
            channel=rng.choice(["wechat", "wechat", "phone"]),
            created_at=created, updated_at=created, acknowledged_at=accepted, resolved_at=resolved,
            rating=rng.randint(1, 5) if resolved and rng.random() < .6 else None)
        session.add(case)
        session.flush()
        for level in range(1, rng.choice([0, 0, 1, 2, 4]) + 1):
            session.add(RequestEvent(request_id=case.id, kind="escalated", actor_kind="system", body="督办",
                                     data={"level": level}, created_at=created))
    session.flush()
    return town


@pytest.mark.parametrize(("level", "channel"), [("town", None), ("village", None), ("assistant", None),
                                                 ("village", "phone")])
def test_same_numbers_as_the_python_tally(session, world, level, channel):
    """Every group and the total: counts, categories, percentiles, rungs reached and still open (all
    requests, or those of one channel)."""
    scope = scope_for(world.supervisor)
    cases, highest = request_tally.read_cases(session, scope, SINCE, UNTIL, level, channel=channel)
    python = request_tally.tally(cases, highest, TZ, lambda case: (case.key, TOTAL))
    database = request_tally_sql.period_numbers(session, scope, SINCE, UNTIL, level, TZ, channel=channel)
    assert set(database) == set(python) and python[TOTAL].raised > (20 if channel else 100)
    for bucket, tallied in python.items():
        numbers = database[bucket]
        assert (numbers.raised, numbers.resolved, numbers.rated, numbers.rating_sum) == (
            tallied.raised, tallied.resolved, tallied.rated, tallied.rating_sum), bucket
        assert (dict(numbers.by_category), dict(numbers.by_urgency)) == (
            dict(tallied.by_category), dict(tallied.by_urgency))
        assert (numbers.escalated, numbers.open_past) == (tallied.escalated(), tallied.open_past())
        for mine, theirs in ((numbers.accept, tallied.accept.times()), (numbers.resolve, tallied.resolve.times())):
            assert mine.count == theirs.count
            assert [mine.p50_wall, mine.p90_wall, mine.p50_service, mine.p90_service] == pytest.approx(
                [theirs.p50_wall, theirs.p90_wall, theirs.p50_service, theirs.p90_service], abs=1e-6)


@pytest.mark.parametrize("days", [61, 5])
def test_a_whole_province_gets_the_same_numbers_either_way(session, world, days):
    """Province-wide, a long period groups every escalation and a short one looks each case's rungs up:
    both give the Python tally's numbers."""
    since = UNTIL - timedelta(days=days)
    cases, highest = request_tally.read_cases(session, EVERYWHERE, since, UNTIL, "town")
    python = request_tally.tally(cases, highest, TZ, lambda case: (case.key, TOTAL))
    database = request_tally_sql.period_numbers(session, EVERYWHERE, since, UNTIL, "town", TZ)
    assert set(database) == set(python) and python[TOTAL].raised > 5
    for bucket, tallied in python.items():
        assert (database[bucket].raised, database[bucket].escalated, database[bucket].open_past) == (
            tallied.raised, tallied.escalated(), tallied.open_past()), bucket


def test_scope_narrows_the_database_path_too(session, world):
    """An assistant's own figures count only their cases and their people's."""
    scope = scope_for(world.assistant)
    cases, highest = request_tally.read_cases(session, scope, SINCE, UNTIL, "assistant")
    database = request_tally_sql.period_numbers(session, scope, SINCE, UNTIL, "assistant", TZ)
    assert database[TOTAL].raised == len(cases) < 150
