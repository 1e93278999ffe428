"""The daily 报平安 figures table: every day's row equals a count straight from the check-ins and
silences, rebuilt in pieces it equals rebuilt whole, and the figures summed from it for any period,
level and scope equal the same straight count.

The world is random but seeded: two towns, people on daily, weekly or no plans registered over two
months, one inactive, one moved to another assistant, one with nobody assigned, check-ins at any
hour (several on some days, around midnight on others) and silences reminded, ended and raised.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from models import Beneficiary, Checkin, DailyCheckinFigures, Silence
from models.enums import CheckinPlan, CheckinSource, ContactKind, RegionLevel, StaffRole
from services import checkin_figures, daily_checkin_figures, roster
from services.policy import checkin_rate
from services.policy.silence import period_start
from services.scope import scope_for
from tests.support.factories import make_beneficiary, make_region, make_staff, make_town
from tests.support.figures_history import TZ

FIRST, LAST = date(2026, 9, 21), date(2026, 11, 30)
NOW = datetime(2026, 11, 30, 20, tzinfo=TZ)
TODAY = NOW.date()
PLANS = [CheckinPlan.DAILY.value] * 3 + [CheckinPlan.WEEKLY.value] * 2 + [CheckinPlan.OFF.value]
LEVELS = ("town", "village", "assistant")


@dataclass
class World:
    """Who sees what: the city supervisor, both town officers, and the assistants."""

    viewers: list
    town_a: int


def _local_day(moment: datetime) -> date:
    """The Shanghai date of an instant."""
    return moment.astimezone(TZ).date()


@pytest.fixture
def world(session):
    """Twenty-four people in three villages of two towns, with two months of check-ins and silences."""
    rng = random.Random(29)
    start = datetime(2026, 9, 1, 9, tzinfo=TZ)
    a = make_town(session, start)
    town_b = make_region(session, RegionLevel.TOWN, a.city, start, name="青湖镇")
    village_b = make_region(session, RegionLevel.VILLAGE, town_b, start, name="北塘村")
    assistant_b = make_staff(session, StaffRole.ASSISTANT, village_b, start, name="赵六", openid="o-b-assistant")
    officer_b = make_staff(session, StaffRole.TOWN_OFFICER, town_b, start, openid="o-b-officer")
    places = [(a.village, a.assistant), (a.other_village, a.other_assistant), (village_b, assistant_b)]
    people = []
    for n in range(24):
        village, assistant = places[n % 3]
        registered = start + timedelta(days=rng.randrange(0, 75), hours=rng.randrange(-8, 12))
        person = make_beneficiary(session, village, registered, assistant=None if n == 4 else assistant)
        person.checkin_plan, person.checkin_plan_by_staff = PLANS[n % len(PLANS)], True
        person.active = n != 7
        people.append((person, registered))
    # One person moved to the other village's assistant: counted with them now.
    roster.assign_assistant(session, people[0][0], a.other_assistant, NOW - timedelta(days=3))
    for person, registered in people:
        day = max(_local_day(registered), FIRST - timedelta(days=3))
        reliable = rng.random()
        while day <= TODAY:
            if rng.random() < reliable:
                for _ in range(rng.choice((1, 1, 1, 2))):
                    at = datetime.combine(day, datetime.min.time(), TZ) + timedelta(minutes=rng.randrange(0, 1440))
                    if at > registered and at < NOW:
                        session.add(Checkin(beneficiary_id=person.id, village_id=person.village_id,
                                            source=CheckinSource.MENU.value, checked_at=at))
            elif person.checkin_plan != CheckinPlan.OFF.value and rng.random() < 0.5:
                _silence(session, rng, person, day)
            day += timedelta(days=1)
    session.commit()
    viewers = [a.supervisor, a.officer, officer_b, a.assistant, a.other_assistant, assistant_b]
    return World(viewers, a.town.id)


def _silence(session, rng, person, day: date) -> None:
    """A silence of `person` in the period of `day`: reminded, then ended or raised (or neither)."""
    start = period_start(person.checkin_plan, day)
    if session.scalar(select(Silence.id).where(Silence.beneficiary_id == person.id, Silence.period_start == start)):
        return
    morning = datetime.combine(day, datetime.min.time(), TZ)
    reminded = morning + timedelta(hours=10) if rng.random() < 0.8 else None
    raised = morning + timedelta(hours=16) if rng.random() < 0.3 else None
    ended = None if rng.random() < 0.3 else morning + timedelta(hours=rng.choice((11, 15, 18)))
    session.add(Silence(beneficiary_id=person.id, village_id=person.village_id, town_id=person.village.parent_id,
                        plan=person.checkin_plan, period_start=start, reminded_at=reminded, raised_at=raised,
                        ended_at=ended, ended_by=ContactKind.MESSAGE.value if ended else None,
                        created_at=morning + timedelta(hours=10)))
    session.flush()


def _straight_count(session) -> dict[tuple, list[int]]:
    """Per (day, town, village, staff): the table's counts worked out person by person in Python."""
    rows: dict[tuple, list[int]] = defaultdict(lambda: [0] * len(daily_checkin_figures.COUNTS))
    checkins: dict[int, set[date]] = defaultdict(set)
    for person_id, at in session.execute(select(Checkin.beneficiary_id, Checkin.checked_at)):
        checkins[person_id].add(_local_day(at))
    staff_of = {}
    for person in session.scalars(select(Beneficiary)):
        current = roster.current_assignment(session, person)
        staff_of[person.id] = current.staff_id if current else None
        if not person.active or person.checkin_plan not in checkin_rate.PLANS:
            continue
        registered = _local_day(person.created_at)
        day = max(registered, FIRST)
        while day <= LAST:
            row = rows[day, person.village.parent_id, person.village_id, staff_of[person.id]]
            row[0] += 1
            if day in checkin_rate.check_days(person.checkin_plan, day, day):
                row[1] += 1
                first, last = checkin_rate.window(person.checkin_plan, day)
                row[2] += any(first <= made <= last for made in checkins[person.id])
            day += timedelta(days=1)
    for silence in session.scalars(select(Silence).where(Silence.reminded_at.is_not(None))):
        day = _local_day(silence.reminded_at)
        if FIRST <= day <= LAST:
            row = rows[day, silence.town_id, silence.village_id, staff_of[silence.beneficiary_id]]
            row[3] += 1
            row[4] += silence.raised_at is None and silence.ended_at is not None
    return {key: counts for key, counts in rows.items() if any(counts)}


def _table(session) -> dict[tuple, list[int]]:
    """The table's rows by (day, town, village, staff)."""
    return {(r.day, r.town_id, r.village_id, r.staff_id): [getattr(r, c) for c in daily_checkin_figures.COUNTS]
            for r in session.scalars(select(DailyCheckinFigures))}


def test_every_days_row_equals_a_straight_count(session, world):
    """Each day, village and assistant: people on a plan, expected, received, reminded, ended."""
    written = daily_checkin_figures.rebuild(session, FIRST, LAST, TZ, NOW)
    expected = _straight_count(session)
    assert written == len(expected) and sum(c[2] for c in expected.values()) > 200
    assert _table(session) == expected


def test_rebuilt_in_pieces_equals_rebuilt_whole(session, world):
    """Month by month, and the scheduler's recent window over it, give the same rows as one pass."""
    daily_checkin_figures.rebuild(session, FIRST, LAST, TZ, NOW)
    whole = _table(session)
    day = FIRST
    while day <= LAST:
        end = min(day + timedelta(days=30), LAST)
        daily_checkin_figures.rebuild(session, day, end, TZ, NOW)
        day = end + timedelta(days=1)
    daily_checkin_figures.rebuild_recent(session, NOW, TZ)
    assert _table(session) == whole


@pytest.mark.parametrize("start,end", [(date(2026, 10, 1), date(2026, 10, 31)), (date(2026, 11, 2), date(2026, 11, 8)),
                                       (date(2026, 11, 16), TODAY), (date(2026, 11, 29), date(2026, 11, 29))])
def test_period_figures_equal_a_straight_count(session, world, start, end):
    """Summed from the table for every level and viewer, the figures equal the straight count of the
    same people, check-ins and silences (today not counted in the rate)."""
    daily_checkin_figures.rebuild(session, FIRST, LAST, TZ, NOW)
    straight = _straight_count(session)
    last_counted = min(end, TODAY - timedelta(days=1))
    town_a_seen = False
    for viewer in world.viewers:
        scope = scope_for(viewer)
        for level in LEVELS:
            numbers = checkin_figures.period_numbers(session, scope, start, end, TZ, level, today=TODAY)
            want: dict = defaultdict(lambda: [0] * 5)
            for (day, town, village, staff), counts in straight.items():
                if scope.kind == "town" and town != scope.town_id or scope.kind == "own" and staff != scope.staff_id:
                    continue
                if not start <= day <= end:
                    continue
                key = {"town": town, "village": village, "assistant": staff}[level]
                for bucket in (key, checkin_figures.TOTAL):
                    if day == min(end, TODAY):
                        want[bucket][0] += counts[0]
                    if day <= last_counted:
                        want[bucket][1] += counts[1]
                        want[bucket][2] += counts[2]
                    want[bucket][3] += counts[3]
                    want[bucket][4] += counts[4]
            got = {key: [n.on_plan, n.expected, n.received, n.reminded, n.ended_by_reminder]
                   for key, n in numbers.items()}
            assert {k: v for k, v in got.items() if any(v)} == {k: v for k, v in want.items() if any(v)}, \
                (viewer.role, level)
            town_a_seen |= scope.kind == "town" and scope.town_id == world.town_a and any(want)
    assert town_a_seen
