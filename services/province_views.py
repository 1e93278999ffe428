"""A province's standard views, computed by the scheduler and read by the province administrator's pages.

Thirty cities' requests of a month are a quarter of a million, of half a year one and a half
million: their exact medians and 90th percentiles take the database seconds, far too long for a
page. So with more than one city, the figures job also computes, every ten minutes, what the
province administrator opens most: the figures per town of the standard periods (this month, last
month, the last 26 weeks: services/policy/figures.presets) and the weekly trends with the most
loaded assistants. The pages read these snapshots while they are fresh, say when they were
computed, and compute anything else (another period, a channel, one city) live as before.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from models import ViewSnapshot
from models.db import dialect_insert
from services import figures, trends, workload
from services import scope as scoping
from services.policy import figures as calc
from services.workload import Load

logger = logging.getLogger(__name__)

# Older than this, a snapshot is not shown (the scheduler has stopped): the page computes live.
FRESH_FOR = timedelta(minutes=30)
# The most loaded assistants kept for the trends page: as many as it lists for a whole city or
# province (bot/office/trends.CITY_ROWS); `?all=1` counts them all live.
TOP_LOADS = 50


def figures_key(level: str, start: date, end: date) -> str:
    """The snapshot key of a province's figures for one level and period."""
    return f"figures:province:{level}:{start.isoformat()}:{end.isoformat()}"


def trends_key(today: date) -> str:
    """The snapshot key of a province's trends and workload as of one day (its weeks end today)."""
    return f"trends:province:{today.isoformat()}"


def is_province(session: Session) -> bool:
    """Whether the deployment holds more than one city (one city's pages are fast live)."""
    return len(scoping.city_ids(session)) > 1


def refresh(session: Session, tz: ZoneInfo, now: datetime) -> int:
    """Recompute the province's standard views (nothing for a single city); returns the snapshots written."""
    if not is_province(session):
        return 0
    today = now.astimezone(tz).date()
    written = 0
    for preset in calc.presets(today):
        result = figures.service_figures(session, scoping.EVERYWHERE, preset.start, preset.end, tz,
                                         level="town", today=today)
        put(session, figures_key("town", preset.start, preset.end), figures.as_json(result), now)
        written += 1
    series = trends.as_json(trends.weekly_trends(session, scoping.EVERYWHERE, today, tz))
    loads = workload.workload(session, scoping.EVERYWHERE, now, tz)
    put(session, trends_key(today), {"series": series, "loads": [asdict(load) for load in loads[:TOP_LOADS]],
                              "load_count": len(loads), "overloaded": sum(load.overloaded for load in loads)}, now)
    # Yesterday's periods are not asked for again.
    session.execute(delete(ViewSnapshot).where(ViewSnapshot.computed_at < now - timedelta(days=1)))
    return written + 1


def read_figures(session: Session, level: str, start: date, end: date, now: datetime) -> figures.Figures | None:
    """The province's figures of this level and period if the scheduler keeps them and they are fresh."""
    found = _get(session, figures_key(level, start, end), now)
    if found is None:
        return None
    try:
        return figures.from_json(found.body, snapshot_at=found.computed_at)
    except _UNREADABLE:
        return _unreadable(found.key)


def read_trends(session: Session, today: date, now: datetime) -> tuple[dict, list[Load], int, int, datetime] | None:
    """The province's trends: (chart data, the most loaded assistants, how many assistants, how many
    overloaded, when computed), if fresh."""
    found = _get(session, trends_key(today), now)
    if found is None:
        return None
    body = found.body
    try:
        loads = [Load(**{**load, "over": tuple(load["over"])}) for load in body["loads"]]
        return body["series"], loads, body["load_count"], body["overloaded"], found.computed_at
    except _UNREADABLE:
        return _unreadable(found.key)


# What a snapshot written by another release can raise when read back (a field renamed or dropped).
_UNREADABLE = (KeyError, TypeError, ValueError)


def _unreadable(key: str) -> None:
    """A snapshot this release cannot read: the page computes live until the job writes a new one."""
    logger.warning("province_views=unreadable key=%s", key)
    return None


def _get(session: Session, key: str, now: datetime) -> ViewSnapshot | None:
    snapshot = session.scalar(select(ViewSnapshot).where(ViewSnapshot.key == key))
    if snapshot is None or not timedelta(0) <= now - snapshot.computed_at <= FRESH_FOR:
        return None
    return snapshot


def put(session: Session, key: str, body: dict, now: datetime) -> None:
    """Keep `body` under `key`, computed at `now`, unless a newer one is kept already."""
    # One row per key, the newest kept: a `figures rebuild` and the scheduler may refresh at once.
    stmt = dialect_insert(session, ViewSnapshot).values(key=key, body=body, computed_at=now)
    session.execute(stmt.on_conflict_do_update(
        index_elements=[ViewSnapshot.key], set_={"body": stmt.excluded.body, "computed_at": stmt.excluded.computed_at},
        where=ViewSnapshot.computed_at < stmt.excluded.computed_at))
