"""The rules of 报平安 silences, table-tested: periods, the days each plan is checked, who is silent,
and which ladder a 联系 case climbs."""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from config import policy
from services.policy import silence
from services.policy.ladder import ladder_key

TZ = ZoneInfo("Asia/Shanghai")
# December 2026: the 7th is a Monday, the 11th the Friday (CHECKIN_WEEKLY_DAY), the 13th a Sunday.
MON, FRI, SUN = date(2026, 12, 7), date(2026, 12, 11), date(2026, 12, 13)


@pytest.mark.parametrize("plan, day, start", [
    ("daily", MON, MON),
    ("daily", FRI, FRI),
    ("daily", date(2027, 1, 1), date(2027, 1, 1)),
    ("weekly", MON, MON),
    ("weekly", FRI, MON),
    ("weekly", SUN, MON),
    # An ISO week across the new year starts in December.
    ("weekly", date(2027, 1, 1), date(2026, 12, 28)),
])
def test_period_start(plan, day, start):
    assert silence.period_start(plan, day) == start


def test_a_plan_that_is_off_has_no_period():
    with pytest.raises(ValueError):
        silence.period_start("off", MON)


@pytest.mark.parametrize("plan, day, checked", [
    ("daily", MON, True),
    ("daily", SUN, True),
    ("weekly", MON, False),
    ("weekly", FRI, True),
    ("weekly", SUN, False),
    ("off", FRI, False),
])
def test_checked_today(plan, day, checked):
    assert policy.CHECKIN_WEEKLY_DAY == 4
    assert silence.checked_today(plan, day) is checked


def test_plans_checked_lists_weekly_only_on_its_day():
    assert silence.plans_checked(MON) == ["daily"]
    assert silence.plans_checked(FRI) == ["daily", "weekly"]


def test_period_start_at_is_local_midnight():
    assert silence.period_start_at("daily", FRI, TZ) == datetime(2026, 12, 10, 16, 0, tzinfo=timezone.utc)
    assert silence.period_start_at("weekly", FRI, TZ) == datetime(2026, 12, 6, 16, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("last, is_silent", [
    (None, True),
    (datetime(2026, 12, 10, 23, 59, tzinfo=TZ), True),
    (datetime(2026, 12, 11, 0, 0, tzinfo=TZ), False),
    (datetime(2026, 12, 11, 9, 30, tzinfo=TZ), False),
])
def test_silent_since_the_period_began(last, is_silent):
    assert silence.silent(last, silence.period_start_at("daily", FRI, TZ)) is is_silent


@pytest.mark.parametrize("category, urgency, key", [
    ("联系", "normal", "check_on"),
    # A 联系 case someone made urgent climbs the urgent ladder, as any urgent case.
    ("联系", "urgent", "urgent"),
    ("医", "normal", "normal"),
    ("医", "urgent", "urgent"),
    ("联系亲人", "normal", "normal"),
])
def test_ladder_key(category, urgency, key):
    assert ladder_key(category, urgency) == key
    assert key in policy.ESCALATION_LADDER
