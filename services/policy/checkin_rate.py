"""The 报平安 rate as pure rules: which days of a period count, and how many check-ins each plan expects.

The rate is check-ins received over check-ins expected, which a town officer can check by hand:
a daily plan expects one check-in on every counted day, a weekly plan one on every counted check
day (`policy.CHECKIN_WEEKLY_DAY`), made from the week's Monday up to that day, as the silence scan
reads it. For a steady roll this is the daily rate averaged over the days, and it also weighs in the
weekly plans and people registered part-way through. Only days already over count: today's rate
would read low every morning merely because the day is not done.
"""

from __future__ import annotations

from datetime import date, timedelta

from models.enums import CheckinPlan
from services.policy.silence import checked_today, period_start

PLANS = (CheckinPlan.DAILY.value, CheckinPlan.WEEKLY.value)


def counted_days(start: date, end: date, today: date | None) -> tuple[date, date] | None:
    """The days of [start, end] that are over by `today` (all of them without one); None when none are."""
    last = end if today is None else min(end, today - timedelta(days=1))
    return (start, last) if start <= last else None


def check_days(plan: str, first: date, last: date) -> list[date]:
    """The days of [first, last] on which `plan` expects a check-in."""
    days = (first + timedelta(days=n) for n in range((last - first).days + 1))
    return [day for day in days if checked_today(plan, day)]


def window(plan: str, check_day: date) -> tuple[date, date]:
    """The local days [from, to] a check-in counts for the check on `check_day`: the day itself, or
    the week's Monday up to it."""
    return period_start(plan, check_day), check_day


def expected(plan: str, registered: date | None, first: date, last: date) -> int:
    """Check-ins one person on `plan` owes over [first, last]: none before the day they were
    registered (None: before `first`)."""
    if registered is not None and registered > first:
        first = registered
    return len(check_days(plan, first, last)) if first <= last else 0
