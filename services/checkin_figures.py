"""报平安 figures of a period per town, village or assistant, within the viewer's scope: the check-in
rate of the people on a plan, the silences that led to a family reminder or a 联系 case, and how fast
those cases were resolved.

The rate is check-ins received over check-ins expected (services/policy/checkin_rate.py says which);
both counts are shown beside it. People count where they live and with whom they are now, on the plan
they have now (plans keep no history), so received never exceeds expected. A year of a city's check-ins
is millions of rows: the database counts them, one small row per group, never a row per check-in.

Silences are counted where they happened (their village and town), like requests: raised in the
period (the assistant's 联系 case), reminded in the period (the family's reminder), and those that
ended after the reminder before any case was needed, which is the reminder working. Time to resolve
runs from raising to the case's resolution, in wall hours: someone who may have fallen waits through
the night too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, distinct, func, literal, or_, select, tuple_
from sqlalchemy.orm import Session, aliased

from config import policy
from models import Assignment, Beneficiary, Checkin, Region, ServiceRequest, Silence
from models.db import local_date
from models.enums import CheckinPlan
from services import scope as scoping
from services import texts
from services.policy import checkin_rate
from services.policy import figures as calc
from services.scope import Scope

TOTAL = "total"
# A raised silence resolved within the first rung of its ladder needed no one above the assistant.
FIRST_RUNG = policy.ESCALATION_LADDER["check_on"][0].after
DAILY, WEEKLY = CheckinPlan.DAILY.value, CheckinPlan.WEEKLY.value


@dataclass
class CheckinNumbers:
    """The 报平安 figures of one group over a period."""

    on_plan: int = 0
    expected: int = 0
    received: int = 0
    reminded: int = 0
    ended_by_reminder: int = 0
    raised: int = 0
    resolved: int = 0
    resolved_fast: int = 0
    median_hours: float | None = None

    @property
    def rate(self) -> float | None:
        """Check-ins received over check-ins expected."""
        return calc.share(self.received, self.expected)

    @property
    def unresolved(self) -> int:
        """Raised silences whose case is not resolved yet: the ones to chase."""
        return self.raised - self.resolved

    @property
    def fast_share(self) -> float | None:
        """Share of the raised silences resolved within the ladder's first rung."""
        return calc.share(self.resolved_fast, self.raised)

    @property
    def reminder_share(self) -> float | None:
        """Share of the family reminders that brought a sign of life before a case was needed."""
        return calc.share(self.ended_by_reminder, self.reminded)


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    """Local midnight starting `day`."""
    return datetime.combine(day, time.min, tz)


def _people_key(level: str, village):
    """The group of a person now: their village's town, their village, or their assistant."""
    return {"town": village.c.parent_id, "village": Beneficiary.village_id, "assistant": Assignment.staff_id}[level]


def _on_plan(stmt, scope: Scope, level: str, village, town_id: int | None, plans=checkin_rate.PLANS):
    """Narrow a query over Beneficiary to the active people on `plans` within the scope (and town)."""
    stmt = stmt.join(village, village.c.id == Beneficiary.village_id)
    if level == "assistant":
        stmt = stmt.outerjoin(Assignment, and_(Assignment.beneficiary_id == Beneficiary.id,
                                               Assignment.ended_at.is_(None)))
    stmt = stmt.where(Beneficiary.active.is_(True), Beneficiary.checkin_plan.in_(plans))
    if town_id:
        stmt = stmt.where(village.c.parent_id == town_id)
    return scoping.beneficiaries(scope, stmt)


def _expected(session, scope, level, town_id, days, until, tz) -> dict[Hashable, CheckinNumbers]:
    """People on a plan per group, and the check-ins they owe over the counted days."""
    village = aliased(Region.__table__)
    key = _people_key(level, village)
    numbers: dict[Hashable, CheckinNumbers] = defaultdict(CheckinNumbers)
    since = _midnight(days[0], tz) if days else until
    # People registered before the counted days owe every check; the few registered since owe from
    # their first day, so they are grouped by that day (a handful of rows per group).
    registered = case((Beneficiary.created_at < since, None), else_=local_date(Beneficiary.created_at, tz, since))
    people = _on_plan(select(key.label("key"), Beneficiary.checkin_plan.label("plan"), registered.label("day"))
                      .select_from(Beneficiary), scope, level, village, town_id)
    # Grouped outside: PostgreSQL would not match a GROUP BY on an expression with parameters.
    people = people.where(Beneficiary.created_at < until).subquery()
    stmt = select(people.c.key, people.c.plan, people.c.day, func.count()).group_by(
        people.c.key, people.c.plan, people.c.day)
    owed: dict[tuple, int] = {}
    for group, plan, day, count in session.execute(stmt):
        numbers[group].on_plan += count
        if days:
            day = date.fromisoformat(day) if isinstance(day, str) else day
            if (plan, day) not in owed:
                owed[plan, day] = checkin_rate.expected(plan, day, *days)
            numbers[group].expected += count * owed[plan, day]
    return numbers


def _received(session, scope, level, town_id, plan, days, tz) -> dict[Hashable, int]:
    """Checks met per group: for each person, the checks with a check-in in their window."""
    checks = checkin_rate.check_days(plan, *days)
    if not checks:
        return {}
    village = aliased(Region.__table__)
    key = _people_key(level, village)
    windows = [checkin_rate.window(plan, day) for day in checks]
    since, until = _midnight(windows[0][0], tz), _midnight(checks[-1] + timedelta(days=1), tz)
    if plan == DAILY:
        slot = local_date(Checkin.checked_at, tz, since)
    else:
        # Each check's window as UTC bounds on the raw column: no date arithmetic in SQL, so both
        # databases agree, and a check-in outside every window falls out.
        slot = case(*((and_(Checkin.checked_at >= _midnight(first, tz),
                            Checkin.checked_at < _midnight(last + timedelta(days=1), tz)), literal(n))
                      for n, (first, last) in enumerate(windows)), else_=None)
    # Each person's distinct checks met, read along ix_checkins_beneficiary_checked, then summed per
    # group: a year of a city's daily check-ins (7 M rows) takes about 5 s, where one DISTINCT over
    # every (person, day) takes twice that.
    people = _on_plan(select(Beneficiary.id), scope, "village", aliased(Region.__table__), town_id, plans=(plan,))
    made = (select(Checkin.beneficiary_id, func.count(distinct(slot)).label("met"))
            .where(Checkin.checked_at >= since, Checkin.checked_at < until, Checkin.beneficiary_id.in_(people))
            .group_by(Checkin.beneficiary_id).subquery())
    stmt = _on_plan(select(key, func.sum(made.c.met)).select_from(made)
                    .join(Beneficiary, Beneficiary.id == made.c.beneficiary_id), scope, level, village, town_id,
                    plans=(plan,))
    return {group: int(met) for group, met in session.execute(stmt.group_by(key))}


def _silence_key(level: str):
    """The group of a silence: where it happened, or the person's assistant now."""
    return {"town": Silence.town_id, "village": Silence.village_id, "assistant": Assignment.staff_id}[level]


def _silences(session, scope, level, town_id, start, end, tz) -> dict[Hashable, CheckinNumbers]:
    """Silences raised and reminded in [start, end] per group and for the total, with resolve times."""
    since, until = _midnight(start, tz), _midnight(end + timedelta(days=1), tz)
    key = _silence_key(level)
    raised = and_(Silence.raised_at >= since, Silence.raised_at < until)
    reminded = and_(Silence.reminded_at >= since, Silence.reminded_at < until)
    resolved = and_(raised, ServiceRequest.resolved_at.is_not(None))
    seconds = _seconds(session, Silence.raised_at, ServiceRequest.resolved_at)
    base = (select().select_from(Silence).outerjoin(ServiceRequest, ServiceRequest.id == Silence.request_id)
            # A silence is raised or reminded within its period, which starts at most six days before.
            .where(or_(raised, reminded), Silence.period_start >= start - timedelta(days=6),
                   Silence.period_start <= end))
    if level == "assistant":
        base = base.outerjoin(Assignment, and_(Assignment.beneficiary_id == Silence.beneficiary_id,
                                               Assignment.ended_at.is_(None)))
    if scope.kind == "town":
        base = base.where(Silence.town_id == scope.town_id)
    elif scope.kind == "own":
        base = base.where(Silence.beneficiary_id.in_(scoping.beneficiaries(scope, select(Beneficiary.id))))
    if town_id:
        base = base.where(Silence.town_id == town_id)
    numbers: dict[Hashable, CheckinNumbers] = defaultdict(CheckinNumbers)
    counts = base.add_columns(
        key, func.count().filter(raised), func.count().filter(reminded),
        func.count().filter(and_(reminded, Silence.raised_at.is_(None), Silence.ended_at.is_not(None))),
        func.count().filter(resolved),
        func.count().filter(and_(resolved, seconds <= FIRST_RUNG.total_seconds())),
    ).group_by(key)
    for group, *values in session.execute(counts):
        for bucket in (group, TOTAL):
            target = numbers[bucket]
            target.raised += values[0]
            target.reminded += values[1]
            target.ended_by_reminder += values[2]
            target.resolved += values[3]
            target.resolved_fast += values[4]
    _medians(session, base.where(resolved), key, seconds, numbers)
    return numbers


def _seconds(session: Session, start, end):
    """SQL for the seconds from `start` to `end` in either database."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def _medians(session, resolved, key, seconds, numbers) -> None:
    """The median hours to resolve per group and for the total."""
    if session.get_bind().dialect.name == "postgresql":
        stmt = resolved.add_columns(func.grouping(key), key, func.percentile_cont(0.5).within_group(seconds)) \
            .group_by(func.grouping_sets(tuple_(key), tuple_()))
        for is_total, group, median in session.execute(stmt):
            numbers[TOTAL if is_total else group].median_hours = None if median is None else float(median) / 3600
        return
    # SQLite has no percentiles: the resolve times of the period's raised silences (hundreds a
    # day at city scale) come back as two plain columns.
    samples: dict[Hashable, list[float]] = defaultdict(list)
    for group, value in session.execute(resolved.add_columns(key, seconds)):
        samples[group].append(float(value) / 3600)
        samples[TOTAL].append(float(value) / 3600)
    for bucket, hours in samples.items():
        numbers[bucket].median_hours = calc.percentile(hours, 0.5)


def period_numbers(session: Session, scope: Scope, start: date, end: date, tz: ZoneInfo, level: str = "town",
                   town_id: int | None = None, today: date | None = None) -> dict[Hashable, CheckinNumbers]:
    """The 报平安 figures of [start, end] per group of `level` and under TOTAL, within the scope (and one
    town if given). The rate counts only the days over by `today`; silences count the whole period."""
    days = checkin_rate.counted_days(start, end, today)
    until = _midnight(end + timedelta(days=1), tz)
    numbers = _silences(session, scope, level, town_id, start, end, tz)
    for group, people in _expected(session, scope, level, town_id, days, until, tz).items():
        for bucket in (group, TOTAL):
            numbers[bucket].on_plan += people.on_plan
            numbers[bucket].expected += people.expected
    if days:
        for plan in checkin_rate.PLANS:
            for group, count in _received(session, scope, level, town_id, plan, days, tz).items():
                numbers[group].received += count
                numbers[TOTAL].received += count
    return dict(numbers)


def yesterday_by_town(session: Session, tz: ZoneInfo, today: date) -> dict[int, CheckinNumbers]:
    """Yesterday's figures of every town with anyone on a plan or any silence raised, for the digest."""
    yesterday = today - timedelta(days=1)
    numbers = period_numbers(session, Scope("city", staff_id=0), yesterday, yesterday, tz, "town", today=today)
    return {key: n for key, n in numbers.items() if key != TOTAL and (n.on_plan or n.raised)}


def digest_line(numbers: CheckinNumbers) -> str:
    """The town digest's one 报平安 line."""
    rate = texts.NO_DATA if numbers.rate is None else f"{numbers.rate:.0%}"
    return texts.TOWN_DIGEST_CHECKINS.format(expected=numbers.expected, received=numbers.received, rate=rate,
                                             raised=numbers.raised)
