"""报平安 silences as pure rules: which plans are checked on a day, where their period starts, who is silent.

A daily plan's period is the local day; a weekly plan's is the ISO week (Monday to Sunday), checked
only on `policy.CHECKIN_WEEKLY_DAY`. Someone is silent when their last sign of life of any kind
(check-in, message, visit, staff contact) is older than the start of the period, or there is none.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from config import policy
from models.enums import CheckinPlan


def period_start(plan: str, local_date: date) -> date:
    """The local date the plan's period containing `local_date` starts: that day, or the week's Monday."""
    if plan == CheckinPlan.DAILY.value:
        return local_date
    if plan == CheckinPlan.WEEKLY.value:
        return local_date - timedelta(days=local_date.weekday())
    raise ValueError(f"no check-in period for plan {plan!r}")


def checked_today(plan: str, local_date: date) -> bool:
    """Whether the scans look at people on `plan` on `local_date`: daily every day, weekly on the set weekday."""
    if plan == CheckinPlan.DAILY.value:
        return True
    if plan == CheckinPlan.WEEKLY.value:
        return local_date.weekday() == policy.CHECKIN_WEEKLY_DAY
    return False


def plans_checked(local_date: date) -> list[str]:
    """The plans the scans look at on `local_date`, daily first."""
    return [plan.value for plan in (CheckinPlan.DAILY, CheckinPlan.WEEKLY) if checked_today(plan.value, local_date)]


def period_start_at(plan: str, local_date: date, tz: ZoneInfo) -> datetime:
    """The instant the period starts: local midnight of its first day."""
    return datetime.combine(period_start(plan, local_date), time.min, tz)


def silent(last_contact_at: datetime | None, since: datetime) -> bool:
    """Whether someone last heard from at `last_contact_at` (None: never) is silent in a period starting `since`."""
    return last_contact_at is None or last_contact_at < since
