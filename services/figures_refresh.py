"""One run of the scheduler's figures job: which days and weeks to recompute, then recomputing them.

Recomputing every recent day and week of a province takes minutes of a core. Once an hour
(`FIGURES_FULL_EVERY`) the job does it all: the daily 四查四帮 and 报平安 figures of the last
`RECENT_DAYS` days and the trends' 26 weeks. The runs in between recompute yesterday and today, this
week and last, and every day from the earliest one that a visit or a check-in recorded since the
last full refresh was for (a visit recorded today for last Tuesday changes Tuesday's figures and the
overdue counts of every day after it). The newest visit and check-in ids at the full refresh are
kept with its time in a view snapshot (`figures:full`).
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from config.policy import FIGURES_FULL_EVERY
from models import Checkin, ViewSnapshot, Visit
from services import daily_checkin_figures, daily_figures, province_views, weekly_figures
from services.policy import figures as calc

MARKER = "figures:full"


def refresh(session: Session, now: datetime, tz: ZoneInfo) -> int:
    """Recompute what this run should (in full once an hour); the rows written."""
    today = now.astimezone(tz).date()
    marker = session.scalar(select(ViewSnapshot).where(ViewSnapshot.key == MARKER))
    seen = marker.body if marker is not None else {}
    plan = calc.refresh_plan(
        today, marker.computed_at if marker is not None else None, now,
        recent_days=daily_figures.RECENT_DAYS, weeks=weekly_figures.WEEKS, full_every=FIGURES_FULL_EVERY,
        earliest_visit=_earliest(session, Visit.id, Visit.visited_at, seen.get("visits"), tz),
        earliest_checkin=_earliest(session, Checkin.id, Checkin.checked_at, seen.get("checkins"), tz))
    # Read before counting: whatever is recorded while this run counts is looked at again by the next.
    newest = {"visits": session.scalar(select(func.max(Visit.id))) or 0,
              "checkins": session.scalar(select(func.max(Checkin.id))) or 0} if plan.full else None
    written = (daily_figures.rebuild(session, plan.visits_from, today, tz, now)
               + daily_checkin_figures.rebuild(session, plan.checkins_from, today, tz, now)
               + weekly_figures.rebuild(session, today, tz, now, count=plan.weeks))
    if newest is not None:
        province_views.put(session, MARKER, newest, now)
    return written


def _earliest(session: Session, id_column, at_column, after: int | None, tz: ZoneInfo) -> date | None:
    """The earliest local day of the rows with an id above `after` (None: none, or nothing to compare with)."""
    if not isinstance(after, int):
        return None
    at = session.scalar(select(func.min(at_column)).where(id_column > after))
    return at.astimezone(tz).date() if at is not None else None
