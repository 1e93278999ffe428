"""Pure arithmetic behind the service figures: percentiles, service-hour durations, shares, visits due."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th quantile (0..1) by linear interpolation between closest ranks; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def service_duration(start: datetime, end: datetime, tz: ZoneInfo, hours: tuple[time, time]) -> timedelta:
    """How much of [start, end) fell inside the daily service hours (local time)."""
    if end <= start:
        return timedelta(0)
    open_at, close_at = hours
    total = timedelta(0)
    day = start.astimezone(tz).date()
    last = end.astimezone(tz).date()
    while day <= last:
        window_open = datetime.combine(day, open_at, tzinfo=tz)
        window_close = datetime.combine(day, close_at, tzinfo=tz)
        overlap = min(end, window_close) - max(start, window_open)
        if overlap > timedelta(0):
            total += overlap
        day += timedelta(days=1)
    return total


def share(part: int, whole: int) -> float | None:
    """part / whole, or None when there is nothing to divide."""
    return part / whole if whole else None


def period_days(start: date, end: date) -> int:
    """Days in a period from `start` to `end`, both included."""
    return max((end - start).days + 1, 1)


def visits_due(days: int, every_days: int) -> int:
    """Visits due in a period: one for every started visit period (at least one)."""
    return max(math.ceil(days / every_days), 1)


def highest_rungs(levels: Iterable[tuple[int, int]]) -> dict[int, int]:
    """The highest rung each request reached, from (request id, rung) pairs."""
    highest: dict[int, int] = {}
    for request_id, level in levels:
        highest[request_id] = max(level, highest.get(request_id, 0))
    return highest


def reached(highest: Iterable[int], rungs: Iterable[int]) -> dict[int, int]:
    """How many requests reached each rung or beyond."""
    levels = list(highest)
    return {rung: sum(1 for level in levels if level >= rung) for rung in rungs}


def hours(duration: timedelta | None) -> float | None:
    """A duration in hours, for tables."""
    return None if duration is None else duration / timedelta(hours=1)
