"""Requests summed up for the figures and the trends: read the requests raised in a span once, as
plain columns with the highest escalation rung each reached (two queries), then add each one to
the tallies of its groups in Python, which the percentiles of the response times need anyway.

The figures page tallies one period per town, village or assistant; the trends tally 26 weeks per
group with the same code, keyed by (week, group).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from config import policy
from models import ServiceRequest
from models.enums import OPEN_STATUSES
from services import history
from services import scope as scoping
from services.policy import figures as calc
from services.scope import Scope

RUNGS = tuple(range(1, max(s.level for steps in policy.ESCALATION_LADDER.values() for s in steps) + 1))
OPEN = tuple(s.value for s in OPEN_STATUSES)
GROUPS = {"town": ServiceRequest.town_id, "village": ServiceRequest.village_id,
          "assistant": ServiceRequest.assignee_staff_id}
# The bucket every case is also added to, next to its group's.
TOTAL = "total"


class Case(NamedTuple):
    """One request as the tallies read it; the details are None when the reader did not ask for them."""

    key: int | None
    id: int
    created: datetime
    accepted: datetime | None
    resolved: datetime | None
    rating: int | None
    category: str | None = None
    urgency: str | None = None
    status: str | None = None


@dataclass
class Times:
    """Median and 90th percentile of one response time, in hours of wall time and of service time."""

    count: int = 0
    p50_wall: float | None = None
    p90_wall: float | None = None
    p50_service: float | None = None
    p90_service: float | None = None


@dataclass
class Samples:
    """Response times of a group's requests, in hours of wall time and of service time."""

    wall: list[float] = field(default_factory=list)
    service: list[float] = field(default_factory=list)

    def add(self, hours: tuple[float, float]) -> None:
        """Add one (wall, service) pair."""
        self.wall.append(hours[0])
        self.service.append(hours[1])

    def times(self) -> Times:
        """Median and 90th percentile of both."""
        return Times(len(self.wall), calc.percentile(self.wall, 0.5), calc.percentile(self.wall, 0.9),
                     calc.percentile(self.service, 0.5), calc.percentile(self.service, 0.9))

    def median(self) -> tuple[float | None, float | None]:
        """The medians alone (wall, service), for the trends."""
        return calc.percentile(self.wall, 0.5), calc.percentile(self.service, 0.5)


@dataclass
class Tally:
    """What one group's requests add up to: counts, response times, rungs reached and ratings."""

    raised: int = 0
    by_category: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    by_urgency: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    resolved: int = 0
    rated: int = 0
    rating_sum: int = 0
    accept: Samples = field(default_factory=Samples)
    resolve: Samples = field(default_factory=Samples)
    # (highest rung reached, still open) per request.
    rungs: list[tuple[int, bool]] = field(default_factory=list)

    def add(self, case: Case, rung: int, accept: tuple[float, float] | None,
            resolve: tuple[float, float] | None) -> None:
        """Count one request, with its response hours worked out by the caller (once for all its groups)."""
        self.raised += 1
        if case.category is not None:
            self.by_category[case.category] += 1
        if case.urgency is not None:
            self.by_urgency[case.urgency] += 1
        if case.resolved is not None:
            self.resolved += 1
            if case.rating is not None:
                self.rated += 1
                self.rating_sum += case.rating
        if accept is not None:
            self.accept.add(accept)
        if resolve is not None:
            self.resolve.add(resolve)
        self.rungs.append((rung, case.status in OPEN))

    def escalated(self) -> dict[int, int]:
        """How many requests reached each rung."""
        return calc.reached((level for level, _ in self.rungs), RUNGS)

    def open_past(self) -> dict[int, int]:
        """How many requests still open reached each rung."""
        return calc.reached((level for level, still_open in self.rungs if still_open), RUNGS)

    @property
    def escalated_share(self) -> float | None:
        """Share of the requests that reached the first rung."""
        return calc.share(sum(1 for level, _ in self.rungs if level >= 1), self.raised)

    @property
    def mean_rating(self) -> float | None:
        """Mean satisfaction rating (1-5) of the rated cases."""
        return self.rating_sum / self.rated if self.rated else None


def raised_between(scope: Scope, since: datetime, until: datetime, town_id: int | None = None, columns=None,
                   channel: str | None = None):
    """The requests raised in [since, until) within the scope (and one town, one channel if given): their
    ids, or the `columns` given."""
    stmt = scoping.requests(scope, select(*(columns or [ServiceRequest.id])).where(
        ServiceRequest.created_at >= since, ServiceRequest.created_at < until))
    if channel:
        stmt = stmt.where(ServiceRequest.channel == channel)
    return stmt.where(ServiceRequest.town_id == town_id) if town_id else stmt


def read_cases(session: Session, scope: Scope, since: datetime, until: datetime, level: str,
               town_id: int | None = None, *, detail: bool = True,
               channel: str | None = None) -> tuple[list[Case], dict[int, int]]:
    """The requests raised in [since, until) (by one channel if given), keyed by `level`, and the
    highest rung each reached.

    Two queries. Without `detail`, category, urgency and status are not read (the trends need none)."""
    raised = raised_between(scope, since, until, town_id, channel=channel)
    columns = [GROUPS[level], ServiceRequest.id, ServiceRequest.created_at, ServiceRequest.acknowledged_at,
               ServiceRequest.resolved_at, ServiceRequest.rating]
    if detail:
        columns += [ServiceRequest.category, ServiceRequest.urgency, ServiceRequest.status]
    # Core rows: thousands of plain tuples, none of the ORM's per-row work.
    cases = [Case(*row) for row in session.connection().execute(
        raised_between(scope, since, until, town_id, columns, channel=channel))]
    return cases, highest_rungs(session, raised)


def highest_rungs(session: Session, raised) -> dict[int, int]:
    """The highest rung each of the `raised` requests reached, for those that were escalated (one query)."""
    # Only escalated entries are read (archived ones too), and the database picks each request's highest rung.
    escalated = history.escalations()
    return dict(session.execute(
        select(escalated.c.request_id, func.max(escalated.c.data["level"].as_integer()))
        .where(escalated.c.request_id.in_(raised))
        .group_by(escalated.c.request_id)
    ).all())


def response_hours(start: datetime, end: datetime | None, tz: ZoneInfo) -> tuple[float, float] | None:
    """(wall, service) hours from `start` to `end`; None when it has not happened."""
    if end is None:
        return None
    return calc.hours(end - start), calc.hours(calc.service_duration(start, end, tz, policy.SERVICE_HOURS))


def tally(cases: Iterable[Case], highest: dict[int, int], tz: ZoneInfo,
          buckets: Callable[[Case], Iterable[Hashable]], *, resolve: bool = True) -> dict[Hashable, Tally]:
    """Each case added to the tallies of every bucket `buckets` names for it (its group and a total,
    say); its response hours are worked out once. Without `resolve`, resolve times are skipped."""
    tallies: dict[Hashable, Tally] = defaultdict(Tally)
    for case in cases:
        accepted = response_hours(case.created, case.accepted, tz)
        resolved = response_hours(case.created, case.resolved, tz) if resolve else None
        rung = highest.get(case.id, 0)
        for bucket in buckets(case):
            tallies[bucket].add(case, rung, accepted, resolved)
    return tallies
