"""Service hours and quiet hours in local time, as pure functions of an instant."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


def in_window(moment: datetime, tz: ZoneInfo, start: time, end: time) -> bool:
    """True when the local time of `moment` is in [start, end); windows may wrap midnight."""
    local = moment.astimezone(tz).time()
    if start <= end:
        return start <= local < end
    return local >= start or local < end


def window_end(moment: datetime, tz: ZoneInfo, start: time, end: time) -> datetime:
    """When the window containing `moment` ends (the next local `end`), as an aware UTC-comparable time."""
    local = moment.astimezone(tz)
    candidate = datetime.combine(local.date(), end, tzinfo=tz)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), end, tzinfo=tz)
    return candidate


def release_time(moment: datetime, tz: ZoneInfo, quiet: tuple[time, time]) -> datetime:
    """When a non-urgent push made at `moment` may go: now, or when quiet hours end."""
    if in_window(moment, tz, *quiet):
        return window_end(moment, tz, *quiet)
    return moment


def add_service_time(start: datetime, duration: timedelta, tz: ZoneInfo, hours: tuple[time, time]) -> datetime:
    """The instant at which `duration` of service hours have passed since `start`."""
    open_at, close_at = hours
    remaining = duration
    cursor = start.astimezone(tz)
    for _ in range(3660):  # a bound far beyond any ladder step (10 years of days)
        day_open = datetime.combine(cursor.date(), open_at, tzinfo=tz)
        day_close = datetime.combine(cursor.date(), close_at, tzinfo=tz)
        if cursor < day_open:
            cursor = day_open
        if cursor >= day_close:
            cursor = datetime.combine(cursor.date() + timedelta(days=1), open_at, tzinfo=tz)
            continue
        available = day_close - cursor
        if remaining <= available:
            return cursor + remaining
        remaining -= available
        cursor = datetime.combine(cursor.date() + timedelta(days=1), open_at, tzinfo=tz)
    raise ValueError("service hours never accumulate the requested duration")


def waited(since: datetime, now: datetime) -> str:
    """How long something has waited, as people say it: 15分钟, 2小时, 2天3小时."""
    minutes = max(int((now - since) / timedelta(minutes=1)), 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}天{hours}小时" if hours else f"{days}天"
    if hours:
        return f"{hours}小时{mins}分钟" if mins else f"{hours}小时"
    return f"{mins}分钟"
