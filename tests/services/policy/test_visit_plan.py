"""Plan periods and overdue stretches: the calendar periods offices count in, and the visits page's rule."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from services.policy import visit_plan

TZ = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(("day", "every", "period"), [
    (date(2026, 11, 4), 7, (date(2026, 11, 2), date(2026, 11, 8))),  # Wednesday: Monday to Sunday
    (date(2026, 11, 8), 7, (date(2026, 11, 2), date(2026, 11, 8))),
    (date(2026, 11, 15), 14, (date(2026, 11, 1), date(2026, 11, 15))),
    (date(2026, 11, 16), 14, (date(2026, 11, 16), date(2026, 11, 30))),
    (date(2027, 2, 20), 14, (date(2027, 2, 16), date(2027, 2, 28))),
    (date(2028, 2, 29), 30, (date(2028, 2, 1), date(2028, 2, 29))),
    (date(2000, 1, 3), 10, (date(2000, 1, 3), date(2000, 1, 12))),
    (date(2000, 1, 13), 10, (date(2000, 1, 13), date(2000, 1, 22))),
])
def test_plan_period(day, every, period):
    """Weeks, half-months, months; other frequencies in windows of their length."""
    assert visit_plan.plan_period(day, every) == period


def test_periods_ending_in_november():
    """November 2026: five weeks end in it (1st … 29th), two half-months, one month."""
    ends = [end for _, end in visit_plan.periods_ending(date(2026, 11, 1), date(2026, 11, 30), 7)]
    assert ends == [date(2026, 11, d) for d in (1, 8, 15, 22, 29)]
    assert len(list(visit_plan.periods_ending(date(2026, 11, 1), date(2026, 11, 30), 14))) == 2
    assert list(visit_plan.periods_ending(date(2026, 11, 2), date(2026, 11, 29), 30)) == []


def local(month, day, hour=10):
    """A 2026 Shanghai time."""
    return datetime(2026, month, day, hour, tzinfo=TZ)


def test_overdue_stretches():
    """Weekly: registered 1 Nov 10:00 (overdue from the 9th), visited 12th and 13th, then from the 21st."""
    stretches = list(visit_plan.overdue_stretches(date(2026, 11, 1), [date(2026, 11, 13), date(2026, 11, 12)], 7))
    assert stretches == [(date(2026, 11, 9), date(2026, 11, 11)), (date(2026, 11, 21), None)]


def test_overdue_matches_the_rule_day_by_day():
    """Every day of two months against the rule itself: last visit before the day's end older than the period."""
    visits = [local(10, 3), local(10, 20, 23), local(11, 2, 0), local(11, 30, 8)]
    registered, every = local(9, 28), 14
    stretches = list(visit_plan.overdue_stretches(registered.date(), [v.date() for v in visits], every))
    day = date(2026, 10, 1)
    while day <= date(2026, 12, 31):
        start = datetime(day.year, day.month, day.day, tzinfo=TZ)
        seen = max([v for v in visits if v.astimezone(TZ).date() <= day], default=registered)
        expected = (start - seen).total_seconds() > every * 86400
        inside = any(first <= day and (last is None or day <= last) for first, last in stretches)
        assert inside == expected, day
        day = date.fromordinal(day.toordinal() + 1)
