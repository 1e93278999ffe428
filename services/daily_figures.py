"""The daily 四查四帮 figures table: rebuilt from visits for a range of days, summed for any period.

`rebuild` recomputes, for each local day, village and responsible assistant: the people registered,
those overdue for a visit, the plan periods that ended and how many had a visit, and the visits
made with their findings and help. It streams visits and people in id order, one city at a time,
so memory stays flat at city scale and a province holds one city's counters at once. The scheduler
rebuilds the recent days (`RECENT_DAYS` covers a backdated visit and the longest plan period) once an
hour and what changed lately every few minutes (services/figures_refresh.py); `sanzhida figures
rebuild` redoes any range, after an import of old visits for example.

Reading sums the rows of a period; the people and overdue counts are those of its last day.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, delete, func, insert, select
from sqlalchemy.orm import Session

from models import Assignment, Beneficiary, DailyVisitFigures, Region, Visit
from models.db import local_date
from models.enums import CheckResult
from services.policy import visit_plan
from services import scope as scoping
from services.scope import Scope

CHECKS = ("food", "clothing", "housing", "medical")
HELPS = ("helped_daily_care", "helped_shopping", "helped_contact_family", "helped_policy")
COUNTS = ("beneficiaries", "overdue", "visits_due", "visits_covered", "visits_made", *CHECKS, *HELPS)
FLOWS = COUNTS[2:]  # summed over a period; the first two are snapshots of its last day
RECENT_DAYS = 35
GROUP_COLUMNS = {"town": DailyVisitFigures.town_id, "village": DailyVisitFigures.village_id,
                 "assistant": DailyVisitFigures.staff_id}
STREAM_BATCH = 5000


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, datetime.min.time(), tz)


def _people(session: Session, until: datetime, tz: ZoneInfo, now: datetime, city: int | None) -> Iterator[tuple]:
    """(id, town, village, staff, local day registered, every_days) of the active people (of one city
    when given), by id."""
    village = Region.__table__.alias("village")
    stmt = (
        select(Beneficiary.id, village.c.parent_id, Beneficiary.village_id, Assignment.staff_id,
               local_date(Beneficiary.created_at, tz, now), Beneficiary.visit_every_days)
        .join(village, village.c.id == Beneficiary.village_id)
        .outerjoin(Assignment, and_(Assignment.beneficiary_id == Beneficiary.id, Assignment.ended_at.is_(None)))
        .where(Beneficiary.active.is_(True), Beneficiary.created_at < until)
        .order_by(Beneficiary.id)
    )
    if city is not None:
        stmt = stmt.where(village.c.parent_id.in_(scoping.city_towns(city)))
    # Core rows straight from the driver: the ORM's per-row work would double the cost.
    return session.connection().execute(stmt.execution_options(yield_per=STREAM_BATCH))


def _visits(session: Session, since: datetime, until: datetime, tz: ZoneInfo, now: datetime,
            city: int | None) -> Iterator[tuple]:
    """(person, local day, four checks, four helps) of the visits in [since, until) (to one city's people
    when given), by person and time."""
    stmt = (
        select(Visit.beneficiary_id, local_date(Visit.visited_at, tz, now), *(getattr(Visit, c) for c in CHECKS),
               *(getattr(Visit, h) for h in HELPS))
        .where(Visit.visited_at >= since, Visit.visited_at < until)
        .order_by(Visit.beneficiary_id, Visit.visited_at)
    )
    if city is not None:
        stmt = stmt.where(Visit.beneficiary_id.in_(
            select(Beneficiary.id).where(Beneficiary.village_id.in_(scoping.city_villages(city)))))
    return session.connection().execute(stmt.execution_options(yield_per=STREAM_BATCH))


class _Days:
    """Per-day counters of one group over the range, with difference arrays for the snapshots."""

    __slots__ = ("flows", "people", "overdue")

    def __init__(self, days: int) -> None:
        self.flows = [[0] * len(FLOWS) for _ in range(days)]
        self.people = [0] * (days + 1)
        self.overdue = [0] * (days + 1)


@dataclass
class _Range:
    first: date
    last: date
    tz: ZoneInfo
    groups: dict[tuple, _Days] = field(default_factory=dict)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def index(self, day: date) -> int:
        return (day - self.first).days

    def group(self, key: tuple) -> _Days:
        if key not in self.groups:
            self.groups[key] = _Days(self.days)
        return self.groups[key]

    def add_stretch(self, counts: list[int], first: date, last: date | None) -> None:
        """+1 on every day of [first, last] within the range (a difference array)."""
        lo = max(first, self.first)
        hi = self.last if last is None else min(last, self.last)
        if lo <= hi:
            counts[self.index(lo)] += 1
            counts[self.index(hi) + 1] -= 1


DUE, COVERED, MADE = FLOWS.index("visits_due"), FLOWS.index("visits_covered"), FLOWS.index("visits_made")
PROBLEM = CheckResult.PROBLEM.value


def _count_person(span: _Range, person: tuple, visits: list[tuple], periods: dict[int, list]) -> None:
    """Add one person's days, plan periods and visits to their group's counters."""
    _, town, village, staff, registered, every = person
    days = span.group((town, village, staff))
    span.add_stretch(days.people, registered, None)
    visit_days = [v[1] for v in visits]
    for first, last in visit_plan.overdue_stretches(registered, visit_days, every):
        span.add_stretch(days.overdue, first, last)
    if every not in periods:
        periods[every] = list(visit_plan.periods_ending(span.first, span.last, every))
    for start, end in periods[every]:
        if registered <= start:
            row = days.flows[span.index(end)]
            row[DUE] += 1
            at = bisect_left(visit_days, start)
            if at < len(visit_days) and visit_days[at] <= end:
                row[COVERED] += 1
    for visit in visits:
        if span.first <= visit[1] <= span.last:
            row = days.flows[span.index(visit[1])]
            row[MADE] += 1
            for n, value in enumerate(visit[2:2 + len(CHECKS)]):
                row[MADE + 1 + n] += value == PROBLEM
            for n, value in enumerate(visit[2 + len(CHECKS):]):
                row[MADE + 1 + len(CHECKS) + n] += bool(value)


def rebuild(session: Session, first: date, last: date, tz: ZoneInfo, now: datetime) -> int:
    """Recompute the rows of the local days [first, last], one city at a time (a province's counters
    would hold a million rows at once); returns the rows written."""
    session.execute(delete(DailyVisitFigures).where(DailyVisitFigures.day >= first, DailyVisitFigures.day <= last))
    longest = max(31, session.scalar(select(func.max(Beneficiary.visit_every_days))) or 0)
    return sum(_rebuild_city(session, first, last, tz, now, longest, city) for city in scoping.city_ids(session))


def _rebuild_city(session: Session, first: date, last: date, tz: ZoneInfo, now: datetime, longest: int,
                  city: int | None) -> int:
    """Count one city's people (everyone's when None) over [first, last] and insert their rows."""
    span = _Range(first, last, tz)
    until = _midnight(last + timedelta(days=1), tz)
    # Visits from before this reach only ever make a person overdue by `first`: one earlier
    # visit stands for them all (see the policy's overdue rule), and no plan period reaches back.
    since_day = first - timedelta(days=longest + 1)
    long_ago = since_day - timedelta(days=1)
    visits = _visits(session, _midnight(since_day, tz), until, tz, now, city)
    pending = next(visits, None)
    periods: dict[int, list] = {}
    for person in _people(session, until, tz, now, city):
        mine: list[tuple] = []
        while pending is not None and pending[0] <= person[0]:
            if pending[0] == person[0]:
                mine.append(pending)
            pending = next(visits, None)
        registered = person[4] if person[4] >= since_day else long_ago
        _count_person(span, (*person[:4], registered, person[5]), mine, periods)
    visits.close()  # the city's last visits may be left unread; the next city opens its own stream
    rows = list(_rows(span, now))
    for at in range(0, len(rows), STREAM_BATCH):
        session.connection().execute(insert(DailyVisitFigures.__table__), rows[at:at + STREAM_BATCH])
    return len(rows)


def _rows(span: _Range, now: datetime) -> Iterator[dict]:
    for (town, village, staff), days in span.groups.items():
        people = overdue = 0
        for i in range(span.days):
            people += days.people[i]
            overdue += days.overdue[i]
            if people or overdue or any(days.flows[i]):
                yield {"day": span.first + timedelta(days=i), "town_id": town, "village_id": village,
                       "staff_id": staff, "beneficiaries": people, "overdue": overdue,
                       "computed_at": now, **dict(zip(FLOWS, days.flows[i]))}


def rebuild_recent(session: Session, now: datetime, tz: ZoneInfo) -> int:
    """Recompute the last RECENT_DAYS local days up to today."""
    today = now.astimezone(tz).date()
    return rebuild(session, today - timedelta(days=RECENT_DAYS), today, tz, now)


def fresh(session: Session, now: datetime, tz: ZoneInfo, within: timedelta) -> bool:
    """Whether today's rows were computed less than `within` before `now`."""
    at = computed_at(session, now.astimezone(tz).date())
    return at is not None and timedelta(0) <= now - at < within


@dataclass
class VisitNumbers:
    """The 四查四帮 figures of one group over a period."""

    beneficiaries: int = 0
    overdue: int = 0
    visits_due: int = 0
    visits_covered: int = 0
    visits_made: int = 0
    problems: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHECKS, 0))
    helps: dict[str, int] = field(default_factory=lambda: dict.fromkeys(HELPS, 0))

    def add_flows(self, values: dict[str, int]) -> None:
        """Add a period's summed counts."""
        self.visits_due += values["visits_due"]
        self.visits_covered += values["visits_covered"]
        self.visits_made += values["visits_made"]
        for name in CHECKS:
            self.problems[name] += values[name]
        for name in HELPS:
            self.helps[name] += values[name]


def days_in(column, first: date, last: date, scope: Scope, town_id: int | None = None):
    """The days [first, last] as a condition on a daily table's `day`, in the form its (day, town_id)
    index serves best for the scope.

    For one town (a town officer, or the town a city viewer picked) each day is named: PostgreSQL then
    looks up every (day, town) pair in the index (a town's half year: 30 ms, where it read the whole
    province's days for 160 ms). Wider scopes read the range (the planner scans the table either way)."""
    one_town = town_id or scope.kind in (scoping.TOWN, scoping.OWN)
    if not one_town or (last - first).days > 400:
        return and_(column >= first, column <= last)
    return column.in_([first + timedelta(days=n) for n in range((last - first).days + 1)])


def _scoped(session: Session, stmt, scope: Scope, town_id: int | None):
    return scoping.by_town(scope, stmt, DailyVisitFigures.town_id, DailyVisitFigures.staff_id, town_id,
                           session=session)


def daily(session: Session, scope: Scope, first: date, last: date, level: str,
          town_id: int | None = None) -> list[tuple]:
    """(day, group key, *COUNTS) summed per day and group over [first, last], within the scope."""
    group = GROUP_COLUMNS[level]
    stmt = (select(DailyVisitFigures.day, group, *(func.sum(getattr(DailyVisitFigures, c)) for c in COUNTS))
            .where(days_in(DailyVisitFigures.day, first, last, scope, town_id))
            .group_by(DailyVisitFigures.day, group))
    return [(day, key, *(int(v or 0) for v in values))
            for day, key, *values in session.execute(_scoped(session, stmt, scope, town_id))]


def period_numbers(rows: list[tuple], first: date, last: date) -> dict[int | None, VisitNumbers]:
    """The figures per group of the period [first, last] from `daily` rows (snapshots of `last`)."""
    numbers: dict[int | None, VisitNumbers] = {}
    for day, key, *values in rows:
        if not first <= day <= last:
            continue
        counts = dict(zip(COUNTS, values))
        target = numbers.setdefault(key, VisitNumbers())
        target.add_flows(counts)
        if day == last:
            target.beneficiaries += counts["beneficiaries"]
            target.overdue += counts["overdue"]
    return numbers


def period_totals(session: Session, scope: Scope, first: date, last: date, level: str,
                  town_id: int | None = None) -> dict[int | None, VisitNumbers]:
    """The figures per group of the period [first, last] summed by the database (one query, one row
    per group): plan periods and visits over the days, people and overdue on the last day."""
    table = DailyVisitFigures
    group = GROUP_COLUMNS[level]
    on_last = table.day == last
    stmt = (select(group, *(func.sum(case((on_last, getattr(table, c)), else_=0)) for c in COUNTS[:2]),
                   *(func.sum(getattr(table, c)) for c in FLOWS))
            .where(days_in(table.day, first, last, scope, town_id)).group_by(group))
    numbers: dict[int | None, VisitNumbers] = {}
    for key, people, overdue, *flows in session.execute(_scoped(session, stmt, scope, town_id)):
        target = numbers[key] = VisitNumbers(beneficiaries=int(people or 0), overdue=int(overdue or 0))
        target.add_flows(dict(zip(FLOWS, (int(v or 0) for v in flows))))
    return numbers


def day_rows(session: Session, scope: Scope, day: date) -> list[tuple[int, int | None, int, int]]:
    """(village, assistant or None, people, overdue) of each row of `day` within the scope."""
    table = DailyVisitFigures
    stmt = (select(table.village_id, table.staff_id, table.beneficiaries, table.overdue)
            .where(days_in(table.day, day, day, scope)))
    return [tuple(row) for row in session.execute(_scoped(session, stmt, scope, None))]


def computed_at(session: Session, day: date, scope: Scope = scoping.EVERYWHERE,
                town_id: int | None = None) -> datetime | None:
    """When the rows of `day` within the scope (and one town if given) were last computed (None: not yet)."""
    # Narrowed to the viewer's towns: a province's day is some 26,000 rows, a town's a few dozen.
    stmt = select(func.max(DailyVisitFigures.computed_at)).where(DailyVisitFigures.day == day)
    return session.scalar(_scoped(session, stmt, scope, town_id))
