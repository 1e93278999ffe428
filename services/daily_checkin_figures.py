"""The daily 报平安 figures table: rebuilt from check-ins and silences for a range of days, summed for
any period by services/checkin_figures.py.

`rebuild` recomputes, for each local day, village and responsible assistant: the people on a plan,
the check-ins their plans expected that day and those met (services/policy/checkin_rate.py: a
daily plan expects one a day, a weekly plan one on its check day, made from the week's Monday on),
and the families reminded of a silence that day with those whose silence then ended before a case
was needed. The database counts: a few grouped statements a city, one small row per group and day,
never a row per check-in. The scheduler's figures job rebuilds the recent days with the visit figures;
`sanzhida figures rebuild` redoes any range.

People count where they live, with whom and on the plan they have when the day is computed (plans
keep no history), so received never exceeds expected; silences count where they happened.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, delete, func, insert, literal, select
from sqlalchemy.orm import Session

from models import Assignment, Beneficiary, Checkin, DailyCheckinFigures, Region, Silence
from models.db import local_date
from models.enums import CheckinPlan
from services import scope as scoping
from services.daily_figures import RECENT_DAYS, STREAM_BATCH
from services.policy import checkin_rate

COUNTS = ("on_plan", "expected", "received", "reminded", "ended_by_reminder")
ON_PLAN, EXPECTED, RECEIVED, REMINDED, ENDED = range(len(COUNTS))
DAILY = CheckinPlan.DAILY.value
GROUP_COLUMNS = {"town": DailyCheckinFigures.town_id, "village": DailyCheckinFigures.village_id,
                 "assistant": DailyCheckinFigures.staff_id}


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    """Local midnight starting `day`."""
    return datetime.combine(day, time.min, tz)


def _as_date(value) -> date:
    """A local date as SQLite (text) or PostgreSQL (date) returns it."""
    return date.fromisoformat(value) if isinstance(value, str) else value


def _groups(stmt, city: int | None):
    """Join a query over Beneficiary to the person's village and active assignment: the row's group
    (one city's people only, when given)."""
    village = Region.__table__.alias("village")
    stmt = stmt.join(village, village.c.id == Beneficiary.village_id).outerjoin(
        Assignment, and_(Assignment.beneficiary_id == Beneficiary.id, Assignment.ended_at.is_(None)))
    if city is not None:
        stmt = stmt.where(village.c.parent_id.in_(scoping.city_towns(city)))
    return stmt, (village.c.parent_id, Beneficiary.village_id, Assignment.staff_id)


def _on_plan(plans=checkin_rate.PLANS):
    """The conditions of the people counted: active, on one of `plans`."""
    return and_(Beneficiary.active.is_(True), Beneficiary.checkin_plan.in_(plans))


def _expected(session, first, last, tz, now, rows, city) -> None:
    """People on a plan and the check-ins they owe, per day and group."""
    since, until = _midnight(first, tz), _midnight(last + timedelta(days=1), tz)
    # People registered before the range owe from its first day; the few registered within it
    # from their first day, so they are grouped by that day (a handful of rows per group).
    registered = case((Beneficiary.created_at < since, None), else_=local_date(Beneficiary.created_at, tz, now))
    stmt, key = _groups(select(Beneficiary.checkin_plan.label("plan"), registered.label("registered")), city)
    people = stmt.add_columns(*(k.label(f"k{n}") for n, k in enumerate(key))).where(
        _on_plan(), Beneficiary.created_at < until).subquery()
    # Grouped outside: PostgreSQL would not match a GROUP BY on an expression with parameters.
    columns = (people.c.k0, people.c.k1, people.c.k2, people.c.plan, people.c.registered)
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    checks = {plan: set(checkin_rate.check_days(plan, first, last)) for plan in checkin_rate.PLANS}
    for town, village, staff, plan, registered, count in session.execute(
            select(*columns, func.count()).group_by(*columns)):
        registered = first if registered is None else _as_date(registered)
        for day in days:
            if day >= registered:
                row = rows[day, town, village, staff]
                row[ON_PLAN] += count
                if day in checks[plan]:
                    row[EXPECTED] += count


def _received(session, plan, first, last, tz, now, rows, city) -> None:
    """Checks met per day and group: the people on `plan` with a check-in in the check's window."""
    checks = checkin_rate.check_days(plan, first, last)
    if not checks:
        return
    windows = [checkin_rate.window(plan, day) for day in checks]
    since, until = _midnight(windows[0][0], tz), _midnight(last + timedelta(days=1), tz)
    if plan == DAILY:
        slot = local_date(Checkin.checked_at, tz, now)
    else:
        # Each check's window as UTC bounds on the raw column (no date arithmetic in SQL, so both
        # databases agree); a check-in outside every window falls out.
        slot = case(*((and_(Checkin.checked_at >= _midnight(start, tz),
                            Checkin.checked_at < _midnight(end + timedelta(days=1), tz)), literal(n))
                      for n, (start, end) in enumerate(windows)), else_=None)
    people = select(Beneficiary.id).where(_on_plan((plan,)))
    if city is not None:
        people = people.where(Beneficiary.village_id.in_(scoping.city_villages(city)))
    # One row per person and check met, then counted per group: DISTINCT on the pair is a hash,
    # where a COUNT(DISTINCT) per group would sort every check-in.
    made = (select(Checkin.beneficiary_id.label("person"), slot.label("slot"))
            .where(Checkin.checked_at >= since, Checkin.checked_at < until, Checkin.beneficiary_id.in_(people))
            .distinct().subquery())
    stmt, key = _groups(select(made.c.slot).select_from(made).join(Beneficiary, Beneficiary.id == made.c.person),
                        city)
    stmt = stmt.add_columns(*key, func.count()).where(made.c.slot.is_not(None), _on_plan((plan,)))
    for value, town, village, staff, count in session.execute(stmt.group_by(made.c.slot, *key)):
        day = _as_date(value) if plan == DAILY else checks[int(value)]
        if first <= day <= last:
            rows[day, town, village, staff][RECEIVED] += count


def _reminded(session, first, last, tz, now, rows, city) -> None:
    """Families reminded per day where the silence happened, by the person's assistant now, and
    the silences that ended after the reminder before any case was raised."""
    since, until = _midnight(first, tz), _midnight(last + timedelta(days=1), tz)
    ended = case((and_(Silence.raised_at.is_(None), Silence.ended_at.is_not(None)), 1), else_=0)
    inner = (select(local_date(Silence.reminded_at, tz, now).label("day"), Silence.town_id, Silence.village_id,
                    Assignment.staff_id, ended.label("ended"))
             .outerjoin(Assignment, and_(Assignment.beneficiary_id == Silence.beneficiary_id,
                                         Assignment.ended_at.is_(None)))
             # A reminder falls within its period, which starts at most six days before.
             .where(Silence.reminded_at >= since, Silence.reminded_at < until,
                    Silence.period_start >= first - timedelta(days=6), Silence.period_start <= last,
                    *([] if city is None else [Silence.town_id.in_(scoping.city_towns(city))]))
             .subquery())
    columns = (inner.c.day, inner.c.town_id, inner.c.village_id, inner.c.staff_id)
    for day, town, village, staff, count, done in session.execute(
            select(*columns, func.count(), func.sum(inner.c.ended)).group_by(*columns)):
        row = rows[_as_date(day), town, village, staff]
        row[REMINDED] += count
        row[ENDED] += int(done or 0)


def rebuild(session: Session, first: date, last: date, tz: ZoneInfo, now: datetime) -> int:
    """Recompute the rows of the local days [first, last], one city at a time (a province's rows
    would be a million at once); returns the rows written."""
    session.execute(delete(DailyCheckinFigures).where(DailyCheckinFigures.day >= first,
                                                      DailyCheckinFigures.day <= last))
    return sum(_rebuild_city(session, first, last, tz, now, city) for city in scoping.city_ids(session))


def _rebuild_city(session: Session, first: date, last: date, tz: ZoneInfo, now: datetime, city: int | None) -> int:
    """Count one city's rows (everyone's when None) over [first, last] and insert them."""
    rows: dict[tuple, list[int]] = defaultdict(lambda: [0] * len(COUNTS))
    _expected(session, first, last, tz, now, rows, city)
    for plan in checkin_rate.PLANS:
        _received(session, plan, first, last, tz, now, rows, city)
    _reminded(session, first, last, tz, now, rows, city)
    written = [{"day": day, "town_id": town, "village_id": village, "staff_id": staff, "computed_at": now,
                **dict(zip(COUNTS, counts))}
               for (day, town, village, staff), counts in rows.items() if any(counts)]
    for at in range(0, len(written), STREAM_BATCH):
        session.connection().execute(insert(DailyCheckinFigures.__table__), written[at:at + STREAM_BATCH])
    return len(written)


def rebuild_recent(session: Session, now: datetime, tz: ZoneInfo) -> int:
    """Recompute the last RECENT_DAYS local days up to today: a check-in recorded late, a silence
    ended later or a plan changed reaches back that far."""
    today = now.astimezone(tz).date()
    return rebuild(session, today - timedelta(days=RECENT_DAYS), today, tz, now)
