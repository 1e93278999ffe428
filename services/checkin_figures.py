"""报平安 figures of a period per town, village or assistant, within the viewer's scope: the check-in
rate of the people on a plan, the silences that led to a family reminder or a 联系 case, and how fast
those cases were resolved.

The rate is check-ins received over check-ins expected (services/policy/checkin_rate.py says which);
both counts are shown beside it. A year of a city's check-ins is millions of rows, so they come from
the daily table (services/daily_checkin_figures.py) the scheduler keeps up to date, summed in one
grouped statement: people on a plan on the period's last day (today for a period not yet over),
check-ins expected and received over the counted days, families reminded over the period. People
count where they lived, with whom and on the plan they had when the day was computed (plans keep no
history), so received never exceeds expected.

Silences are counted where they happened (their village and town), like requests: reminded in the
period (the family's reminder), those that ended after the reminder before any case was needed,
which is the reminder working, and raised in the period (the assistant's 联系 case). Raised
silences are read from `silences` with their cases, so raised and resolved always agree. Time to
resolve runs from raising to the case's resolution, in wall hours: someone who may have fallen waits
through the night too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, literal, select, tuple_
from sqlalchemy.orm import Session

from config import policy
from models import Assignment, Beneficiary, DailyCheckinFigures, ServiceRequest, Silence
from services import daily_checkin_figures, daily_figures, texts
from services import scope as scoping
from services.policy import checkin_rate
from services.policy import figures as calc
from services.scope import Scope

TOTAL = "total"
# A raised silence resolved within the first rung of its ladder needed no one above the assistant.
FIRST_RUNG = policy.ESCALATION_LADDER["check_on"][0].after


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


def _daily(session, scope, level, town_id, start, end, days, snapshot) -> dict[Hashable, CheckinNumbers]:
    """From the daily table, per group: people on a plan on the `snapshot` day, check-ins expected
    and received over the counted `days`, reminders over [start, end]."""
    table = DailyCheckinFigures
    group = daily_checkin_figures.GROUP_COLUMNS[level]
    counted = and_(table.day >= days[0], table.day <= days[1]) if days else literal(False)
    stmt = (select(group, func.sum(case((table.day == snapshot, table.on_plan), else_=0)),
                   func.sum(case((counted, table.expected), else_=0)),
                   func.sum(case((counted, table.received), else_=0)),
                   func.sum(table.reminded), func.sum(table.ended_by_reminder))
            .where(daily_figures.days_in(table.day, start, end, scope, town_id)).group_by(group))
    stmt = scoping.by_town(scope, stmt, table.town_id, table.staff_id, town_id, session=session)
    numbers: dict[Hashable, CheckinNumbers] = {}
    for key, *values in session.execute(stmt):
        on_plan, expected, received, reminded, ended = (int(v or 0) for v in values)
        numbers[key] = CheckinNumbers(on_plan=on_plan, expected=expected, received=received, reminded=reminded,
                                      ended_by_reminder=ended)
    return numbers


def _silence_key(level: str):
    """The group of a silence: where it happened, or the person's assistant now."""
    return {"town": Silence.town_id, "village": Silence.village_id, "assistant": Assignment.staff_id}[level]


def _raised(session, scope, level, town_id, start, end, tz) -> dict[Hashable, CheckinNumbers]:
    """Silences raised in [start, end] per group and for the total, with their resolve times: few
    rows (a 联系 case each), read along ix_silences_period_raised or ix_silences_town_period."""
    since, until = _midnight(start, tz), _midnight(end + timedelta(days=1), tz)
    key = _silence_key(level)
    resolved = ServiceRequest.resolved_at.is_not(None)
    seconds = _seconds(session, Silence.raised_at, ServiceRequest.resolved_at)
    base = (select().select_from(Silence).outerjoin(ServiceRequest, ServiceRequest.id == Silence.request_id)
            # A silence is raised within its period, which starts at most six days before.
            .where(Silence.raised_at >= since, Silence.raised_at < until,
                   Silence.period_start >= start - timedelta(days=6), Silence.period_start <= end))
    if level == "assistant":
        base = base.outerjoin(Assignment, and_(Assignment.beneficiary_id == Silence.beneficiary_id,
                                               Assignment.ended_at.is_(None)))
    if scope.kind == "own":
        base = base.where(Silence.beneficiary_id.in_(scoping.beneficiaries(scope, select(Beneficiary.id))))
    else:
        base = scoping.by_town(scope, base, Silence.town_id, town_id=town_id, session=session)
    numbers: dict[Hashable, CheckinNumbers] = defaultdict(CheckinNumbers)
    counts = base.add_columns(
        key, func.count(), func.count().filter(resolved),
        func.count().filter(and_(resolved, seconds <= FIRST_RUNG.total_seconds())),
    ).group_by(key)
    for group, raised, done, fast in session.execute(counts):
        for bucket in (group, TOTAL):
            target = numbers[bucket]
            target.raised += raised
            target.resolved += done
            target.resolved_fast += fast
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
    snapshot = end if today is None else min(end, today)
    numbers = _raised(session, scope, level, town_id, start, end, tz)
    for group, daily in _daily(session, scope, level, town_id, start, end, days, snapshot).items():
        for bucket in (group, TOTAL):
            target = numbers[bucket]
            target.on_plan += daily.on_plan
            target.expected += daily.expected
            target.received += daily.received
            target.reminded += daily.reminded
            target.ended_by_reminder += daily.ended_by_reminder
    return dict(numbers)


def yesterday_by_town(session: Session, tz: ZoneInfo, today: date) -> dict[int, CheckinNumbers]:
    """Yesterday's figures of every town with anyone on a plan or any silence raised, for the digest."""
    yesterday = today - timedelta(days=1)
    numbers = period_numbers(session, scoping.EVERYWHERE, yesterday, yesterday, tz, "town", today=today)
    return {key: n for key, n in numbers.items() if key != TOTAL and (n.on_plan or n.raised)}


def digest_line(numbers: CheckinNumbers) -> str:
    """The town digest's one 报平安 line."""
    rate = texts.NO_DATA if numbers.rate is None else f"{numbers.rate:.0%}"
    return texts.TOWN_DIGEST_CHECKINS.format(expected=numbers.expected, received=numbers.received, rate=rate,
                                             raised=numbers.raised)
