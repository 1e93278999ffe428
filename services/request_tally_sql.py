"""The request figures of a period worked out by PostgreSQL: counts, the median and 90th percentile
of the time to accept and to resolve (wall and service hours) and the rungs reached, per town,
village or assistant and for the total, in two statements.

It gives exactly what the Python tally (services/request_tally.py) gives: `percentile_cont` is the
same linear interpolation between closest ranks, and the service hours follow the same local-clock
rule as services/policy/figures.service_duration. The Python tally stays the reference and serves
SQLite; on PostgreSQL this keeps half a year of a city's requests (about 40,000) well under the
page budget, where reading them all into Python takes about a second.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Time, and_, case, cast, func, select, tuple_
from sqlalchemy.orm import Session

from config import policy
from models import ServiceRequest
from services import history
from services.request_tally import GROUPS, OPEN, RUNGS, TOTAL, Times, raised_between
from services.scope import Scope


def _seconds_of_day(moment: time) -> int:
    return moment.hour * 3600 + moment.minute * 60 + moment.second


def service_seconds(start, end, tz: ZoneInfo, hours: tuple[time, time]):
    """SQL for the seconds of [start, end) inside the daily service hours, on the local clock."""
    opens, closes = _seconds_of_day(hours[0]), _seconds_of_day(hours[1])
    local_start, local_end = func.timezone(tz.key, start), func.timezone(tz.key, end)
    begin = func.extract("epoch", cast(local_start, Time))
    finish = func.extract("epoch", cast(local_end, Time))
    days = cast(local_end, Date) - cast(local_start, Date)
    same_day = func.greatest(func.least(finish, closes) - func.greatest(begin, opens), 0)
    first = func.greatest(closes - func.greatest(begin, opens), 0)
    last = func.greatest(func.least(finish, closes) - opens, 0)
    whole = max(closes - opens, 0)
    return case((end <= start, 0), (days == 0, same_day), else_=first + last + (days - 1) * whole)


# Up to this long a period, even a whole province's requests look their rungs up one by one (its
# first day: 0.5 s, against 1.6 s for grouping every escalation); longer, grouping wins (26 weeks:
# 7.7 s against 15.8 s). Measured on the province demo (docs/benchmarks.md).
WHOLE_PROVINCE_LOOKUPS = timedelta(days=7)


class Numbers:
    """What one group's requests add up to, as the figures page reads a tally."""

    def __init__(self) -> None:
        self.raised = self.resolved = self.rated = self.rating_sum = 0
        self.by_category: dict[str, int] = defaultdict(int)
        self.by_urgency: dict[str, int] = defaultdict(int)
        self.accept = Times()
        self.resolve = Times()
        self.escalated: dict[int, int] = dict.fromkeys(RUNGS, 0)
        self.open_past: dict[int, int] = dict.fromkeys(RUNGS, 0)


def _hours(seconds) -> float | None:
    return None if seconds is None else float(seconds) / 3600


def period_numbers(session: Session, scope: Scope, since: datetime, until: datetime, level: str, tz: ZoneInfo,
                   town_id: int | None = None, channel: str | None = None) -> dict[object, Numbers]:
    """The requests raised in [since, until) (by one channel if given) per group of `level` and under
    TOTAL, within the scope."""
    escalated = history.escalations()
    request = ServiceRequest
    highest = func.max(escalated.c.data["level"].as_integer())
    grouped = None
    if scope.is_province and not town_id and until - since > WHOLE_PROVINCE_LOOKUPS:
        # A whole province over weeks: one pass grouping every escalation beats a million lookups.
        grouped = select(escalated.c.request_id, highest.label("rung")).group_by(escalated.c.request_id).subquery()
        rung = grouped.c.rung
    else:
        # Anything narrower looks each request's highest rung up along the events' request index:
        # grouping every escalation of a province first cost half a second even for one town.
        rung = select(highest).where(escalated.c.request_id == request.id).correlate(request).scalar_subquery()
    cases = raised_between(scope, since, until, town_id, [
        GROUPS[level].label("key"), request.category, request.urgency, request.status, request.created_at,
        request.acknowledged_at, request.resolved_at, request.rating,
        func.coalesce(rung, 0).label("rung")], channel=channel)
    if grouped is not None:
        cases = cases.outerjoin_from(request, grouped, grouped.c.request_id == request.id)
    cases = cases.cte("cases")
    numbers: dict[object, Numbers] = defaultdict(Numbers)
    # Counts by category and urgency: a handful of rows per group, added up here for the total.
    for key, category, urgency, n in session.execute(
            select(cases.c.key, cases.c.category, cases.c.urgency, func.count())
            .group_by(cases.c.key, cases.c.category, cases.c.urgency)):
        for bucket in (key, TOTAL):
            numbers[bucket].raised += n
            numbers[bucket].by_category[category] += n
            numbers[bucket].by_urgency[urgency] += n
    times = []
    for end in (cases.c.acknowledged_at, cases.c.resolved_at):
        wall = func.extract("epoch", end - cases.c.created_at)
        service = service_seconds(cases.c.created_at, end, tz, policy.SERVICE_HOURS)
        times += [func.count(end), *(func.percentile_cont(q).within_group(value)
                                     for value in (wall, service) for q in (0.5, 0.9))]
    resolved = cases.c.resolved_at.is_not(None)
    stmt = select(
        func.grouping(cases.c.key), cases.c.key, *times,
        func.count(cases.c.resolved_at), func.count(cases.c.rating).filter(resolved),
        func.coalesce(func.sum(cases.c.rating).filter(resolved), 0),
        *(func.count().filter(cases.c.rung >= n) for n in RUNGS),
        *(func.count().filter(and_(cases.c.rung >= n, cases.c.status.in_(OPEN))) for n in RUNGS),
    ).group_by(func.grouping_sets(tuple_(cases.c.key), tuple_()))
    for is_total, key, *values in session.execute(stmt):
        target = numbers[TOTAL if is_total else key]
        accept, resolve = values[:5], values[5:10]
        target.accept = Times(accept[0], *(_hours(v) for v in (accept[1], accept[2], accept[3], accept[4])))
        target.resolve = Times(resolve[0], *(_hours(v) for v in (resolve[1], resolve[2], resolve[3], resolve[4])))
        target.resolved, target.rated, target.rating_sum = (int(v) for v in values[10:13])
        reached = values[13:]
        target.escalated = dict(zip(RUNGS, (int(v) for v in reached[:len(RUNGS)])))
        target.open_past = dict(zip(RUNGS, (int(v) for v in reached[len(RUNGS):])))
    return numbers
