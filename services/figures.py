"""Service figures for a period: requests, response times, escalations, satisfaction and 四查四帮
visit coverage, per town, village or assistant, always within the viewer's scope.

Counts come from grouped SQL; response times need the raw times for their percentiles, so the
period's requests are read once as plain columns (one query) and summarised in Python.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.orm import Session

from config import policy
from models import Assignment, Beneficiary, Region, RequestEvent, ServiceRequest, Staff, Visit
from models.enums import OPEN_STATUSES, CheckResult, EventKind
from services import scope as scoping
from services.policy import figures as calc
from services.scope import Scope

LEVELS = {"town": "乡镇", "village": "村（社区）", "assistant": "服务专员"}
CHECKS = {"吃": "food", "穿": "clothing", "住": "housing", "医": "medical"}
HELPS = {"生活照料": "helped_daily_care", "代购代办": "helped_shopping",
         "联系亲人": "helped_contact_family", "政策落实": "helped_policy"}
RUNGS = tuple(range(1, max(s.level for steps in policy.ESCALATION_LADDER.values() for s in steps) + 1))
OPEN = tuple(s.value for s in OPEN_STATUSES)
SERVICE_HOURS_LABEL = f"{policy.SERVICE_HOURS[0]:%H:%M}–{policy.SERVICE_HOURS[1]:%H:%M}"


@dataclass
class Times:
    """Median and 90th percentile of one response time, in hours of wall time and of service time."""

    count: int = 0
    p50_wall: float | None = None
    p90_wall: float | None = None
    p50_service: float | None = None
    p90_service: float | None = None


@dataclass
class _Samples:
    wall: list[float] = field(default_factory=list)
    service: list[float] = field(default_factory=list)

    def add(self, start: datetime, end: datetime, tz: ZoneInfo) -> None:
        self.wall.append(calc.hours(end - start))
        self.service.append(calc.hours(calc.service_duration(start, end, tz, policy.SERVICE_HOURS)))

    def times(self) -> Times:
        return Times(len(self.wall), calc.percentile(self.wall, 0.5), calc.percentile(self.wall, 0.9),
                     calc.percentile(self.service, 0.5), calc.percentile(self.service, 0.9))


@dataclass
class Row:
    """The figures of one town, village or assistant (key None: the total, or nobody assigned)."""

    key: int | None
    name: str
    raised: int = 0
    by_category: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    by_urgency: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    accept: Times = field(default_factory=Times)
    resolve: Times = field(default_factory=Times)
    escalated: dict[int, int] = field(default_factory=dict)
    open_past: dict[int, int] = field(default_factory=dict)
    resolved: int = 0
    rated: int = 0
    rating_sum: int = 0
    beneficiaries: int = 0
    visits_due: int = 0
    visits_covered: int = 0
    visits_made: int = 0
    overdue: int = 0
    problems: dict[str, int] = field(default_factory=dict)
    helps: dict[str, int] = field(default_factory=dict)

    def escalated_share(self, rung: int) -> float | None:
        """Share of the requests raised that reached this rung."""
        return calc.share(self.escalated.get(rung, 0), self.raised)

    @property
    def mean_rating(self) -> float | None:
        """Mean satisfaction rating (1-5) of the rated cases."""
        return self.rating_sum / self.rated if self.rated else None

    @property
    def rated_share(self) -> float | None:
        """Share of resolved cases that were rated."""
        return calc.share(self.rated, self.resolved)

    @property
    def coverage(self) -> float | None:
        """Visits done within plan against visits due."""
        return calc.share(self.visits_covered, self.visits_due)


@dataclass
class Figures:
    """The figures of a period, one row per group and the total."""

    start: date
    end: date
    level: str
    rows: list[Row]
    total: Row
    rungs: tuple[int, ...] = RUNGS


def period_bounds(start: date, end: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The period as [local midnight of start, local midnight after end)."""
    return (datetime.combine(start, datetime.min.time(), tz),
            datetime.combine(end + timedelta(days=1), datetime.min.time(), tz))


def service_figures(session: Session, scope: Scope, start: date, end: date, tz: ZoneInfo,
                    level: str = "town", town_id: int | None = None) -> Figures:
    """Figures for [start, end] grouped by `level`, narrowed to the scope (and one town if given)."""
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}")
    rows: dict[int | None, Row] = {}
    total = Row(None, "合计")
    _request_figures(session, scope, start, end, tz, level, town_id, rows, total)
    _visit_figures(session, scope, start, end, tz, level, town_id, rows, total)
    names = _names(session, level, [k for k in rows if k is not None])
    for key, row in rows.items():
        row.name = names.get(key, "未指派" if key is None else str(key))
    ordered = sorted(rows.values(), key=lambda r: (r.key is None, r.name))
    return Figures(start, end, level, ordered, total)


def _request_figures(session, scope, start, end, tz, level, town_id, rows, total) -> None:
    since, until = period_bounds(start, end, tz)
    group = {"town": ServiceRequest.town_id, "village": ServiceRequest.village_id,
             "assistant": ServiceRequest.assignee_staff_id}[level]
    in_period = scoping.requests(scope, select(ServiceRequest.id).where(
        ServiceRequest.created_at >= since, ServiceRequest.created_at < until))
    if town_id:
        in_period = in_period.where(ServiceRequest.town_id == town_id)
    cases = session.execute(
        select(group, ServiceRequest.id, ServiceRequest.category, ServiceRequest.urgency, ServiceRequest.status,
               ServiceRequest.created_at, ServiceRequest.acknowledged_at, ServiceRequest.resolved_at,
               ServiceRequest.rating).where(ServiceRequest.id.in_(in_period))
    ).all()
    # Only escalated entries are read, and only their rung: far fewer than the cases themselves.
    events = session.execute(
        select(RequestEvent.request_id, RequestEvent.data)
        .where(RequestEvent.kind == EventKind.ESCALATED.value, RequestEvent.request_id.in_(in_period))
    ).all()
    highest = calc.highest_rungs((rid, int((data or {}).get("level", 0))) for rid, data in events)
    samples: dict[int | None, tuple[_Samples, _Samples]] = defaultdict(lambda: (_Samples(), _Samples()))
    levels: dict[int | None, list[tuple[int, bool]]] = defaultdict(list)
    for key, rid, category, urgency, status, created, accepted, resolved, rating in cases:
        for row in (rows.setdefault(key, Row(key, "")), total):
            row.raised += 1
            row.by_category[category] += 1
            row.by_urgency[urgency] += 1
            if resolved is not None:
                row.resolved += 1
                if rating is not None:
                    row.rated += 1
                    row.rating_sum += rating
        for bucket in (key, "total"):
            accept_samples, resolve_samples = samples[bucket]
            if accepted is not None:
                accept_samples.add(created, accepted, tz)
            if resolved is not None:
                resolve_samples.add(created, resolved, tz)
            levels[bucket].append((highest.get(rid, 0), status in OPEN))
    for bucket, (accept_samples, resolve_samples) in samples.items():
        row = total if bucket == "total" else rows[bucket]
        row.accept, row.resolve = accept_samples.times(), resolve_samples.times()
        row.escalated = calc.reached((lvl for lvl, _ in levels[bucket]), RUNGS)
        row.open_past = calc.reached((lvl for lvl, still_open in levels[bucket] if still_open), RUNGS)


def _visit_figures(session, scope, start, end, tz, level, town_id, rows, total) -> None:
    since, until = period_bounds(start, end, tz)
    days = calc.period_days(start, end)
    problem = CheckResult.PROBLEM.value
    made = (
        select(Visit.beneficiary_id.label("bid"), func.count().label("n"),
               *(func.sum(case((getattr(Visit, col) == problem, 1), else_=0)).label(col) for col in CHECKS.values()),
               *(func.sum(case((getattr(Visit, col).is_(True), 1), else_=0)).label(col) for col in HELPS.values()))
        .where(Visit.visited_at >= since, Visit.visited_at < until)
        .group_by(Visit.beneficiary_id).subquery()
    )
    last = (select(Visit.beneficiary_id.label("bid"), func.max(Visit.visited_at).label("at"))
            .where(Visit.visited_at < until).group_by(Visit.beneficiary_id).subquery())
    village = Region.__table__.alias("village")
    group = {"town": village.c.parent_id, "village": village.c.id, "assistant": Assignment.staff_id}[level]
    every = Beneficiary.visit_every_days
    due = (literal(days) + every - 1) // every
    done = func.coalesce(made.c.n, 0)
    # Overdue as the visit page counts it, but at the end of the period: the last visit (or the
    # registration) is older than the beneficiary's period at the start of the last day.
    last_day = datetime.combine(min(end, date.max), datetime.min.time(), tz)
    seen = func.coalesce(last.c.at, Beneficiary.created_at)
    overdue = or_(*[and_(every == n, seen < last_day - timedelta(days=n))
                    for n in sorted(set(policy.VISIT_FREQUENCY_DAYS.values()))])
    stmt = (
        select(group, func.count(), func.sum(due), func.sum(case((done < due, done), else_=due)), func.sum(done),
               func.sum(case((overdue, 1), else_=0)),
               *(func.sum(func.coalesce(getattr(made.c, col), 0)) for col in (*CHECKS.values(), *HELPS.values())))
        .select_from(Beneficiary)
        .join(village, village.c.id == Beneficiary.village_id)
        .outerjoin(Assignment, and_(Assignment.beneficiary_id == Beneficiary.id, Assignment.ended_at.is_(None)))
        .outerjoin(made, made.c.bid == Beneficiary.id)
        .outerjoin(last, last.c.bid == Beneficiary.id)
        .where(Beneficiary.active.is_(True), Beneficiary.created_at < until)
        .group_by(group)
    )
    if town_id:
        stmt = stmt.where(village.c.parent_id == town_id)
    for key, people, due_n, covered, made_n, late, *counts in session.execute(scoping.beneficiaries(scope, stmt)):
        numbers = [int(x or 0) for x in counts]
        for row in (rows.setdefault(key, Row(key, "")), total):
            row.beneficiaries += people
            row.visits_due += int(due_n or 0)
            row.visits_covered += int(covered or 0)
            row.visits_made += int(made_n or 0)
            row.overdue += int(late or 0)
            for name, n in zip((*CHECKS, *HELPS), numbers):
                target = row.problems if name in CHECKS else row.helps
                target[name] = target.get(name, 0) + n


def _names(session: Session, level: str, keys: list[int]) -> dict[int, str]:
    if not keys:
        return {}
    if level == "assistant":
        return {s.id: f"{s.name}（{s.staff_no}）" for s in session.scalars(select(Staff).where(Staff.id.in_(keys)))}
    return {r.id: r.name for r in session.scalars(select(Region).where(Region.id.in_(keys)))}
