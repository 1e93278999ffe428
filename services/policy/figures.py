"""Pure arithmetic behind the service figures: percentiles, service-hour durations, shares, rungs reached,
and the standard periods the figures page offers."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
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


def _seconds_of_day(moment) -> float:
    """Seconds since local midnight of a local datetime or time."""
    return moment.hour * 3600 + moment.minute * 60 + moment.second + moment.microsecond / 1_000_000


def service_duration(start: datetime, end: datetime, tz: ZoneInfo, hours: tuple[time, time]) -> timedelta:
    """How much of [start, end) fell inside the daily service hours (local time).

    Worked out on local clock seconds, in constant time whatever the span: the figures add up tens
    of thousands of these. (A daylight-saving change inside the service hours would be off by its hour.)
    """
    if end <= start:
        return timedelta(0)
    opens, closes = _seconds_of_day(hours[0]), _seconds_of_day(hours[1])
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    begin, finish = _seconds_of_day(local_start), _seconds_of_day(local_end)
    days = (local_end.date() - local_start.date()).days
    if days == 0:
        return timedelta(seconds=max(min(finish, closes) - max(begin, opens), 0))
    first = max(closes - max(begin, opens), 0)
    last = max(min(finish, closes) - opens, 0)
    return timedelta(seconds=first + last + (days - 1) * max(closes - opens, 0))


def share(part: int, whole: int) -> float | None:
    """part / whole, or None when there is nothing to divide."""
    return part / whole if whole else None


def reached(highest: Iterable[int], rungs: Iterable[int]) -> dict[int, int]:
    """How many requests reached each rung or beyond."""
    levels = list(highest)
    return {rung: sum(1 for level in levels if level >= rung) for rung in rungs}


def hours(duration: timedelta | None) -> float | None:
    """A duration in hours, for tables."""
    return None if duration is None else duration / timedelta(hours=1)


@dataclass(frozen=True)
class Preset:
    """A standard period the figures page offers with one tap."""

    key: str
    label: str
    start: date
    end: date


def presets(today: date) -> list[Preset]:
    """This month so far, last month, and the last 26 weeks (to today)."""
    last_month_end = today.replace(day=1) - timedelta(days=1)
    return [Preset("month", "本月", today.replace(day=1), today),
            Preset("last_month", "上月", last_month_end.replace(day=1), last_month_end),
            Preset("half_year", "近半年", today - timedelta(weeks=26), today)]


@dataclass(frozen=True)
class Refresh:
    """What one run of the figures job recomputes: the daily visit and check-in figures from these
    local days to today, and the weekly request figures of this many weeks up to today's."""

    full: bool
    visits_from: date
    checkins_from: date
    weeks: int


def refresh_plan(today: date, full_at: datetime | None, now: datetime, *, recent_days: int, weeks: int,
                 full_every: timedelta, earliest_visit: date | None = None,
                 earliest_checkin: date | None = None) -> Refresh:
    """Everything (`recent_days` days, `weeks` weeks) when the last full refresh is older than
    `full_every` or unknown; else yesterday and today, this week and last, reaching back to the
    earliest day a visit or check-in recorded since that refresh was for (never past `recent_days`).

    Between full refreshes only what was recorded lately changes the figures of past days; an edit or
    a change of plan or assignment reaches them at the next full refresh."""
    oldest = today - timedelta(days=recent_days)
    if full_at is None or not timedelta(0) <= now - full_at < full_every:
        return Refresh(True, oldest, oldest, weeks)
    yesterday = today - timedelta(days=1)

    def since(earliest: date | None) -> date:
        return max(oldest, min(yesterday, earliest or yesterday))

    return Refresh(False, since(earliest_visit), since(earliest_checkin), min(2, weeks))
