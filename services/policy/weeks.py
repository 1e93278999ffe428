"""Calendar weeks for the trends: the last N weeks (Monday to Sunday, local days) and which week a
day or a row falls in, so that one read of a long span can be split into weeks without more queries."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Week:
    """One calendar week; the current one is still in progress."""

    start: date
    end: date
    in_progress: bool = False

    def last_day(self, today: date) -> date:
        """The week's last day so far: Sunday, or today for the week in progress."""
        return min(self.end, today)


def monday(day: date) -> date:
    """The Monday of the week `day` falls in."""
    return day - timedelta(days=day.weekday())


def last_weeks(today: date, count: int) -> list[Week]:
    """The `count` weeks ending with the week of `today` (that one flagged in progress), oldest first."""
    current = monday(today)
    weeks = []
    for back in range(count - 1, -1, -1):
        start = current - timedelta(weeks=back)
        weeks.append(Week(start, start + timedelta(days=6), in_progress=back == 0))
    return weeks


def week_index(day: date, first: date) -> int:
    """Which week `day` falls in, counted from the week starting on `first` (negative: before it)."""
    return (day - first).days // 7


def split_by_week(items: Iterable[T], day_of: Callable[[T], date], first: date, count: int) -> list[list[T]]:
    """The items in each of `count` weeks from the Monday `first`; items outside them are left out."""
    weeks: list[list[T]] = [[] for _ in range(count)]
    for item in items:
        index = week_index(day_of(item), first)
        if 0 <= index < count:
            weeks[index].append(item)
    return weeks
