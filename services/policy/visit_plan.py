"""四查四帮 plan periods and overdue stretches: pure date arithmetic behind the visit figures.

A person visited every 7 days is due a visit each calendar week (Monday to Sunday), every 14 days
each half-month (1st–15th, 16th–end), every 30 days each calendar month: the periods offices count
in (每周、每半月、每月). A period is due when it has ended, for people registered by its first day,
and covered when a visit fell inside it. Any other frequency counts in windows of that many days.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Iterator
from datetime import date, timedelta

WINDOW_EPOCH = date(2000, 1, 3)  # a Monday


def plan_period(day: date, every_days: int) -> tuple[date, date]:
    """The plan period (first and last day) that contains `day`."""
    if every_days == 7:
        first = day - timedelta(days=day.weekday())
        return first, first + timedelta(days=6)
    if every_days == 14:
        if day.day <= 15:
            return day.replace(day=1), day.replace(day=15)
        return day.replace(day=16), day.replace(day=calendar.monthrange(day.year, day.month)[1])
    if every_days == 30:
        return day.replace(day=1), day.replace(day=calendar.monthrange(day.year, day.month)[1])
    offset = (day - WINDOW_EPOCH).days // every_days * every_days
    first = WINDOW_EPOCH + timedelta(days=offset)
    return first, first + timedelta(days=every_days - 1)


def periods_ending(first: date, last: date, every_days: int) -> Iterator[tuple[date, date]]:
    """The plan periods whose last day falls in [first, last], in order."""
    period = plan_period(first, every_days)
    while period[1] < first:
        period = plan_period(period[1] + timedelta(days=1), every_days)
    while period[1] <= last:
        yield period
        period = plan_period(period[1] + timedelta(days=1), every_days)


def overdue_stretches(registered: date, visits: Iterable[date], every_days: int) -> Iterator[tuple[date, date | None]]:
    """The local days on which a person was overdue, as (first, last) stretches (last None: still).

    A person is overdue on day d when the last visit on or before d (before any visit, the
    registration) is more than `every_days` days before d: the visits page's rule (older than the
    period at the start of the day), in local days.
    """
    seen = registered
    for visit in sorted(visits):
        starts = seen + timedelta(days=every_days + 1)
        ends = visit - timedelta(days=1)
        if starts <= ends:
            yield starts, ends
        seen = visit
    yield seen + timedelta(days=every_days + 1), None
