"""The trends' weekly request figures: the 26 weeks the trends page shows, recomputed by the scheduler.

Each week's requests (by the day they were raised) are tallied per town, village, assistant, for
each city and for every city together with the figures page's own code (services/request_tally.py):
counts, the share that reached the first rung, ratings and the medians of the time to accept. The
page then reads a few hundred small rows instead of half a year of requests. Half a year of a
city's requests takes about a second to tally, so the scheduler simply recomputes every week shown
on each run, a city at a time.
"""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from models import Region, ServiceRequest, WeeklyRequestFigures
from services import request_tally
from services.daily_figures import STREAM_BATCH
from services.policy import figures as calc
from services.policy.weeks import last_weeks, week_index
from services.request_tally import Case
from services import scope as scoping
from services.scope import Scope

WEEKS = 26
LEVELS = ("town", "village", "assistant")
CITY = "city"


@dataclass(frozen=True)
class WeekNumbers:
    """One group's requests in one week."""

    raised: int
    escalated: int
    rated: int
    rating_sum: int
    accept_p50_wall: float | None
    accept_p50_service: float | None


def rebuild(session: Session, today: date, tz: ZoneInfo, now: datetime, count: int = WEEKS) -> int:
    """Recompute the `count` weeks up to today's and drop weeks older than the trends' `WEEKS`;
    returns the rows written.

    One city at a time (a province's half year is a million and a half requests); the row for every
    city together adds up the cities' counts and takes its medians from their response times, kept
    as plain arrays of hours."""
    weeks = last_weeks(today, count)
    first = weeks[0].start
    since = datetime.combine(first, datetime.min.time(), tz)
    until = datetime.combine(weeks[-1].end + timedelta(days=1), datetime.min.time(), tz)
    kept_from = min(first, last_weeks(today, WEEKS)[0].start)
    session.execute(delete(WeeklyRequestFigures).where(
        (WeeklyRequestFigures.week < kept_from)
        | ((WeeklyRequestFigures.week >= first) & (WeeklyRequestFigures.week < until.date()))))
    everywhere: dict[int, _Everywhere] = defaultdict(_Everywhere)
    written = 0
    for city in scoping.city_ids(session):
        rows = []
        for (week, level, key), tallied in _tally_city(session, city, since, until, first, tz).items():
            if level == CITY:
                everywhere[week].add(tallied)
            if level != CITY or key is not None:
                rows.append(_row(weeks[week].start, level, key, tallied, now))
        written += _insert(session, rows)
    return written + _insert(session, [
        {"week": weeks[week].start, "level": CITY, "key": None, "raised": numbers.raised,
         "escalated": numbers.escalated, "rated": numbers.rated, "rating_sum": numbers.rating_sum,
         "accept_p50_wall": wall, "accept_p50_service": service, "computed_at": now}
        for week, numbers in everywhere.items() for wall, service in [numbers.accept_median()]])


def _insert(session: Session, rows: list[dict]) -> int:
    """Insert rows in batches (Core: no objects); how many."""
    for at in range(0, len(rows), STREAM_BATCH):
        session.connection().execute(insert(WeeklyRequestFigures.__table__), rows[at:at + STREAM_BATCH])
    return len(rows)


def _tally_city(session: Session, city: int | None, since: datetime, until: datetime, first: date,
                tz: ZoneInfo) -> dict[tuple, request_tally.Tally]:
    """One city's requests (everyone's when None) raised in [since, until), tallied per week at every
    level and for the city (key None when there is no city level).

    An assistant's week counts the requests of the city they were raised in: one who moved to another
    city within a week (and has requests in both) gets a row from each, and their own trend shows one."""
    raised = select(ServiceRequest.id).where(ServiceRequest.created_at >= since, ServiceRequest.created_at < until)
    if city is not None:
        raised = raised.where(ServiceRequest.town_id.in_(scoping.city_towns(city)))
    cases = [
        Case((town, village, staff), *rest) for town, village, staff, *rest in session.connection().execute(
            select(ServiceRequest.town_id, ServiceRequest.village_id, ServiceRequest.assignee_staff_id,
                   ServiceRequest.id, ServiceRequest.created_at, ServiceRequest.acknowledged_at,
                   ServiceRequest.resolved_at, ServiceRequest.rating).where(ServiceRequest.id.in_(raised)))
    ]

    def buckets(case: Case) -> tuple[Hashable, ...]:
        """The request's week at every level and for its city."""
        week = week_index(case.created.astimezone(tz).date(), first)
        return ((week, CITY, city), *((week, level, key) for level, key in zip(LEVELS, case.key)))

    return request_tally.tally(cases, request_tally.highest_rungs(session, raised), tz, buckets, resolve=False)


def _row(week: date, level: str, key, tallied: request_tally.Tally, now: datetime) -> dict:
    """The table row of one group's week."""
    wall, service = tallied.accept.median()
    return {"week": week, "level": level, "key": key, "raised": tallied.raised,
            "escalated": tallied.escalated().get(1, 0), "rated": tallied.rated, "rating_sum": tallied.rating_sum,
            "accept_p50_wall": wall, "accept_p50_service": service, "computed_at": now}


class _Everywhere:
    """Every city's requests of one week: their counts added up, their hours to accept kept compactly."""

    def __init__(self) -> None:
        self.raised = self.escalated = self.rated = self.rating_sum = 0
        self.wall, self.service = array("d"), array("d")

    def add(self, city: request_tally.Tally) -> None:
        """Add one city's tally of the week."""
        self.raised += city.raised
        self.escalated += city.escalated().get(1, 0)
        self.rated += city.rated
        self.rating_sum += city.rating_sum
        self.wall.extend(city.accept.wall)
        self.service.extend(city.accept.service)

    def accept_median(self) -> tuple[float | None, float | None]:
        """The medians of the hours to accept (wall, service)."""
        return calc.percentile(self.wall, 0.5), calc.percentile(self.service, 0.5)


def read(session: Session, scope: Scope, first: date, level: str,
         town_id: int | None = None) -> tuple[dict[tuple[date, Hashable], WeekNumbers], datetime | None]:
    """The weeks from `first` on, keyed (week, group id) with the total under request_tally.TOTAL,
    in the viewer's scope: towns and the city, one town's villages and the town, or an assistant's own."""
    table = WeeklyRequestFigures
    stmt = select(table.week, table.level, table.key, table.raised, table.escalated, table.rated, table.rating_sum,
                  table.accept_p50_wall, table.accept_p50_service, table.computed_at).where(table.week >= first)
    if level == "assistant":
        stmt = stmt.where(table.level == "assistant", table.key == scope.staff_id)
        total_level = "assistant"
    elif level == "village":
        # The town, when the scope reaches it (a city's staff asking for another city's town get nothing).
        town = scoping.towns(scope, select(Region.id).where(Region.id == (town_id or scope.town_id)))
        villages = select(Region.id).where(Region.parent_id.in_(town))
        stmt = stmt.where(((table.level == "village") & table.key.in_(villages))
                          | ((table.level == "town") & table.key.in_(town)))
        total_level = "town"
    elif scope.is_province:
        stmt = stmt.where((table.level == "town") | ((table.level == CITY) & table.key.is_(None)))
        total_level = CITY
    else:
        stmt = stmt.where(((table.level == "town") & table.key.in_(scoping.city_towns(scope.city_id)))
                          | ((table.level == CITY) & (table.key == scope.city_id)))
        total_level = CITY
    numbers: dict[tuple[date, Hashable], WeekNumbers] = {}
    computed: datetime | None = None
    for week, row_level, key, *values, at in session.execute(stmt):
        numbers[(week, request_tally.TOTAL if row_level == total_level else key)] = WeekNumbers(*values)
        computed = at if computed is None else max(computed, at)
    return numbers, computed


def computed_at(session: Session) -> datetime | None:
    """When the weekly figures were last recomputed (None: not yet)."""
    return session.scalar(select(func.max(WeeklyRequestFigures.computed_at)))
