"""Service figures for a period: requests, response times, escalations, satisfaction and 四查四帮
visit coverage, and 报平安 check-ins and silences (services/checkin_figures.py), per town, village
or assistant, always within the viewer's scope.

Requests are few (thousands a month for a city) and their percentiles need the raw times, so the
period's requests are read once as plain columns and summarised in Python. Visits are many: their
figures come from the daily table (services/daily_figures.py) the scheduler keeps up to date.
A visit is due once per plan period (week, half-month or month by the person's frequency) that
ended in the period, and covered when a visit fell inside it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from config import policy
from models import Region, Staff
from services import checkin_figures, daily_figures, request_tally, request_tally_sql
from services.checkin_figures import CheckinNumbers
from services.policy import figures as calc
from services.request_tally import OPEN, RUNGS, TOTAL, Times
from services.scope import Scope

__all__ = ["CHECKS", "HELPS", "LEVELS", "OPEN", "RUNGS", "Figures", "Row", "Times", "as_json", "from_json",
           "period_bounds", "service_figures"]

LEVELS = {"town": "乡镇", "village": "村（社区）", "assistant": "服务专员"}
CHECKS = {"吃": "food", "穿": "clothing", "住": "housing", "医": "medical"}
HELPS = {"生活照料": "helped_daily_care", "代购代办": "helped_shopping",
         "联系亲人": "helped_contact_family", "政策落实": "helped_policy"}
SERVICE_HOURS_LABEL = f"{policy.SERVICE_HOURS[0]:%H:%M}–{policy.SERVICE_HOURS[1]:%H:%M}"


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
    checkins: CheckinNumbers = field(default_factory=CheckinNumbers)

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
    # When the daily visit figures behind the visit columns were computed (None: not yet).
    computed_at: datetime | None = None
    # When the whole figures were computed, if read from a snapshot the scheduler keeps (a province's).
    snapshot_at: datetime | None = None


def period_bounds(start: date, end: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The period as [local midnight of start, local midnight after end)."""
    return (datetime.combine(start, datetime.min.time(), tz),
            datetime.combine(end + timedelta(days=1), datetime.min.time(), tz))


def service_figures(session: Session, scope: Scope, start: date, end: date, tz: ZoneInfo,
                    level: str = "town", town_id: int | None = None, today: date | None = None,
                    channel: str | None = None) -> Figures:
    """Figures for [start, end] grouped by `level`, narrowed to the scope (and one town if given).

    `today` caps the visit plan periods counted (none due after it) and dates the snapshots. `channel`
    narrows the request figures to the requests that came that way; visits are not requests and stay."""
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}")
    rows: dict[int | None, Row] = {}
    total = Row(None, "合计")
    _request_figures(session, scope, start, end, tz, level, town_id, rows, total, channel)
    computed = _visit_figures(session, scope, start, end, level, town_id, today, rows, total)
    for key, numbers in checkin_figures.period_numbers(session, scope, start, end, tz, level, town_id,
                                                       today).items():
        if key == checkin_figures.TOTAL:
            total.checkins = numbers
        else:
            rows.setdefault(key, Row(key, "")).checkins = numbers
    names = _names(session, level, [k for k in rows if k is not None])
    for key, row in rows.items():
        row.name = names.get(key, "未指派" if key is None else str(key))
    ordered = sorted(rows.values(), key=lambda r: (r.key is None, r.name))
    return Figures(start, end, level, ordered, total, computed_at=computed)


def _request_figures(session, scope, start, end, tz, level, town_id, rows, total, channel=None) -> None:
    since, until = period_bounds(start, end, tz)
    if session.get_bind().dialect.name == "postgresql":
        # The database adds up and takes the percentiles (same numbers, far fewer rows to Python).
        for bucket, numbers in request_tally_sql.period_numbers(session, scope, since, until, level, tz,
                                                                town_id, channel).items():
            row = total if bucket == TOTAL else rows.setdefault(bucket, Row(bucket, ""))
            row.raised, row.resolved, row.rated, row.rating_sum = (
                numbers.raised, numbers.resolved, numbers.rated, numbers.rating_sum)
            row.by_category, row.by_urgency = numbers.by_category, numbers.by_urgency
            row.accept, row.resolve = numbers.accept, numbers.resolve
            row.escalated, row.open_past = numbers.escalated, numbers.open_past
        return
    cases, highest = request_tally.read_cases(session, scope, since, until, level, town_id, channel=channel)
    for bucket, tallied in request_tally.tally(cases, highest, tz, lambda case: (case.key, TOTAL)).items():
        row = total if bucket == TOTAL else rows.setdefault(bucket, Row(bucket, ""))
        row.raised, row.resolved, row.rated, row.rating_sum = (
            tallied.raised, tallied.resolved, tallied.rated, tallied.rating_sum)
        row.by_category, row.by_urgency = tallied.by_category, tallied.by_urgency
        row.accept, row.resolve = tallied.accept.times(), tallied.resolve.times()
        row.escalated, row.open_past = tallied.escalated(), tallied.open_past()


def _visit_figures(session, scope, start, end, level, town_id, today, rows, total) -> datetime | None:
    # From the daily table: plan periods and visits summed over the days, people and overdue on
    # the last day (today for a period not yet over).
    last = end if today is None else min(end, today)
    numbers = daily_figures.period_totals(session, scope, start, last, level, town_id)
    for key, visits in numbers.items():
        for row in (rows.setdefault(key, Row(key, "")), total):
            row.beneficiaries += visits.beneficiaries
            row.visits_due += visits.visits_due
            row.visits_covered += visits.visits_covered
            row.visits_made += visits.visits_made
            row.overdue += visits.overdue
            for name, column in CHECKS.items():
                row.problems[name] = row.problems.get(name, 0) + visits.problems[column]
            for name, column in HELPS.items():
                row.helps[name] = row.helps.get(name, 0) + visits.helps[column]
    return daily_figures.computed_at(session, last, scope, town_id)


def _names(session: Session, level: str, keys: list[int]) -> dict[int, str]:
    if not keys:
        return {}
    if level == "assistant":
        return {s.id: f"{s.name}（{s.staff_no}）" for s in session.scalars(select(Staff).where(Staff.id.in_(keys)))}
    return {r.id: r.name for r in session.scalars(select(Region).where(Region.id.in_(keys)))}


# --- kept as JSON (services/province_views.py) ---------------------------------------------------

_RUNG_COUNTS = ("escalated", "open_past")


def _row_json(row: Row) -> dict:
    """One row as plain data (rung counts as pairs: JSON keys are strings)."""
    data = {f.name: getattr(row, f.name) for f in fields(row)}
    data["accept"], data["resolve"] = vars(row.accept), vars(row.resolve)
    data["checkins"] = vars(row.checkins)
    for name in _RUNG_COUNTS:
        data[name] = sorted(data[name].items())
    return data


def _row_from(data: dict) -> Row:
    """A row back from `_row_json`."""
    values = dict(data)
    values["accept"], values["resolve"] = Times(**values["accept"]), Times(**values["resolve"])
    values["checkins"] = CheckinNumbers(**values["checkins"])
    values["by_category"] = defaultdict(int, values["by_category"])
    values["by_urgency"] = defaultdict(int, values["by_urgency"])
    for name in _RUNG_COUNTS:
        values[name] = {int(rung): count for rung, count in values[name]}
    return Row(**values)


def as_json(result: Figures) -> dict:
    """The figures as plain data, to be kept and read back by `from_json`."""
    return {"start": result.start.isoformat(), "end": result.end.isoformat(), "level": result.level,
            "rows": [_row_json(row) for row in result.rows], "total": _row_json(result.total),
            "rungs": list(result.rungs),
            "computed_at": result.computed_at.isoformat() if result.computed_at else None}


def from_json(data: dict, snapshot_at: datetime | None = None) -> Figures:
    """Figures back from `as_json`, marked with when they were computed."""
    computed = data["computed_at"]
    return Figures(date.fromisoformat(data["start"]), date.fromisoformat(data["end"]), data["level"],
                   [_row_from(row) for row in data["rows"]], _row_from(data["total"]), tuple(data["rungs"]),
                   computed_at=datetime.fromisoformat(computed) if computed else None, snapshot_at=snapshot_at)
