"""How long ago something happened, as staff read it on a page (今天 09:12, 昨天 18:30, 3天前), whether
someone on a daily 报平安 plan has given no sign of life yet today, and why a 联系 case was raised.
Local days, not 24-hour spans."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from models.enums import CheckinPlan

# Past this many days the date itself says more than a count.
DAYS_COUNTED = 30


def since(moment: datetime | None, now: datetime, tz: ZoneInfo) -> str:
    """`moment` (UTC) relative to `now` in local days: 今天 09:12, 昨天 18:30, 3天前, or 2026-10-01 when long ago."""
    if moment is None:
        return "—"
    local = moment.astimezone(tz)
    days = (now.astimezone(tz).date() - local.date()).days
    if days <= 0:
        # A moment later today (or a clock a little ahead) still reads as today.
        return f"今天 {local:%H:%M}"
    if days == 1:
        return f"昨天 {local:%H:%M}"
    if days < DAYS_COUNTED:
        return f"{days}天前"
    return f"{local:%Y-%m-%d}"


def local_midnight(now: datetime, tz: ZoneInfo) -> datetime:
    """The start of today, local time, as an aware datetime."""
    return datetime.combine(now.astimezone(tz).date(), time(0), tzinfo=tz)


def silent_today(plan: str, last_contact_at: datetime | None, now: datetime, tz: ZoneInfo) -> bool:
    """On a daily plan and no sign of life (check-in, message, visit, staff contact) since local midnight."""
    if plan != CheckinPlan.DAILY.value:
        return False
    return last_contact_at is None or last_contact_at < local_midnight(now, tz)


def silence_reason(plan: str, period_start: date | None, today: date) -> str:
    """Why a 联系 case exists, in words: 今天没有报平安, 昨天…, 本周…, or the day or week it was."""
    if period_start is None:
        return "没有按计划报平安"
    if plan == CheckinPlan.WEEKLY.value:
        if today - period_start < timedelta(days=7):
            return "本周没有报平安"
        return f"{period_start.month}月{period_start.day}日那一周没有报平安"
    if period_start == today:
        return "今天没有报平安"
    if period_start == today - timedelta(days=1):
        return "昨天没有报平安"
    return f"{period_start.month}月{period_start.day}日没有报平安"
