"""Weekly trends of the last 26 weeks (Monday to Sunday, local days), the current week in progress:
per town for a city viewer (per village of one town when asked), per village for a town officer,
and an assistant's own; with the total of all of them.

Each week shows the requests raised, the median time to accept them (service hours and wall
hours), the share escalated (reached the first rung), the mean rating, the 四查四帮 plan periods
due and covered, and the people overdue for a visit at the week's end (today for this week).

Four small queries whatever the size of the city: the weekly request figures the scheduler keeps
(services/weekly_figures.py, tallied with the figures page's code), the daily visit figures of the
whole span in one read (services/daily_figures.py), when those were computed, and the names of the
groups (unless the caller has them). The visit days are split into weeks in Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from operator import itemgetter
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Region
from models.enums import RegionLevel
from services import daily_figures, weekly_figures
from services import scope as scoping
from services.daily_figures import VisitNumbers
from services.policy import figures as calc
from services.policy.weeks import Week, last_weeks, split_by_week
from services.request_tally import TOTAL
from services.weekly_figures import WeekNumbers
from services.scope import Scope

WEEKS = 26
TOTAL_NAMES = {"town": "全市", "village": "全镇", "assistant": "本人"}


@dataclass
class Point:
    """One group's numbers in one week."""

    raised: int = 0
    accept_wall: float | None = None  # median hours to accept, wall time
    accept_service: float | None = None  # median hours to accept, service hours
    escalated_share: float | None = None  # share of the requests raised that reached the first rung
    mean_rating: float | None = None
    visits_due: int = 0  # plan periods that ended in the week
    visits_covered: int = 0  # of those, the ones with a visit
    overdue: int = 0  # people overdue for a visit at the week's end (today for this week)

    @property
    def coverage(self) -> float | None:
        """Plan periods covered against those due."""
        return calc.share(self.visits_covered, self.visits_due)


@dataclass
class Series:
    """One line of the charts: a town, a village, an assistant, or the total."""

    key: int | None
    name: str
    points: list[Point] = field(default_factory=list)


@dataclass
class Trends:
    """The weeks, the total and each group's series."""

    weeks: list[Week]
    level: str
    total: Series
    groups: list[Series]
    # When the daily visit figures behind the visit series were computed (None: not yet).
    computed_at: datetime | None = None


def level_for(scope: Scope, town_id: int | None) -> str:
    """What the lines are: towns for the city, villages for one town, the assistant's own."""
    if scope.kind == "own":
        return "assistant"
    return "village" if scope.kind == "town" or town_id else "town"


def weekly_trends(session: Session, scope: Scope, today: date, tz: ZoneInfo, town_id: int | None = None,
                  count: int = WEEKS, regions: list[Region] | None = None) -> Trends:
    """The `count` weeks up to today's, in the viewer's scope; a city viewer may narrow it to one town.

    `regions`: the towns or villages to draw, when the caller has read them already (else read here)."""
    if not scope.is_city:
        town_id = None  # a town officer's scope is their town already; an assistant's is their own
    level = level_for(scope, town_id)
    weeks = last_weeks(today, count)
    requests, requests_at = weekly_figures.read(session, scope, weeks[0].start, level, town_id)
    visits = _visit_numbers(session, scope, weeks, today, level, town_id)
    total = Series(None, TOTAL_NAMES[level],
                   [_point(requests.get((w.start, TOTAL)), _sum(visits[i].values())) for i, w in enumerate(weeks)])
    groups = [Series(region.id, region.name,
                     [_point(requests.get((w.start, region.id)), visits[i].get(region.id)) for i, w in enumerate(weeks)])
              for region in (_groups(session, scope, level, town_id) if regions is None else regions)]
    visits_at = daily_figures.computed_at(session, today, scope, town_id)
    # The older of the two tables' times: the page says how fresh its figures are at worst.
    computed = min(visits_at, requests_at) if visits_at and requests_at else None
    return Trends(weeks, level, total, groups, computed_at=computed)


def _visit_numbers(session, scope, weeks: list[Week], today, level, town_id) -> list[dict[int | None, VisitNumbers]]:
    """Each week's visit figures per group, from one read of the daily table over all the weeks."""
    rows = daily_figures.daily(session, scope, weeks[0].start, today, level, town_id)
    by_week = split_by_week(rows, itemgetter(0), weeks[0].start, len(weeks))
    return [daily_figures.period_numbers(week_rows, week.start, week.last_day(today))
            for week, week_rows in zip(weeks, by_week)]


def _sum(numbers) -> VisitNumbers:
    """The visit figures of several groups added up."""
    total = VisitNumbers()
    for one in numbers:
        total.visits_due += one.visits_due
        total.visits_covered += one.visits_covered
        total.overdue += one.overdue
    return total


def _point(requests: WeekNumbers | None, visits: VisitNumbers | None) -> Point:
    """One week of one line, from its requests' figures and its visit figures (either may be missing)."""
    point = Point()
    if requests is not None:
        point.raised = requests.raised
        point.accept_wall, point.accept_service = requests.accept_p50_wall, requests.accept_p50_service
        point.escalated_share = calc.share(requests.escalated, requests.raised)
        point.mean_rating = requests.rating_sum / requests.rated if requests.rated else None
    if visits is not None:
        point.visits_due, point.visits_covered, point.overdue = visits.visits_due, visits.visits_covered, visits.overdue
    return point


def _groups(session: Session, scope: Scope, level: str, town_id: int | None) -> list[Region]:
    """The towns or villages drawn as lines, in code order (none for an assistant: only their total)."""
    if level == "assistant":
        return []
    if level == "town":
        stmt = scoping.towns(scope, select(Region).where(Region.level == RegionLevel.TOWN.value))
    else:
        town = scoping.towns(scope, select(Region.id).where(Region.id == (town_id or scope.town_id)))
        stmt = select(Region).where(Region.level == RegionLevel.VILLAGE.value, Region.parent_id.in_(town))
    return list(session.scalars(stmt.order_by(Region.code)))


def _rounded(value: float | None, digits: int, scale: float = 1) -> float | None:
    """A value scaled and rounded for the charts, None kept."""
    return None if value is None else round(value * scale, digits)


def _series_json(series: Series, total: bool) -> dict:
    """One line's measures, each a list over the weeks."""
    points = series.points
    return {
        "key": series.key, "name": series.name, "total": total,
        "raised": [p.raised for p in points],
        "acceptService": [_rounded(p.accept_service, 2) for p in points],
        "acceptWall": [_rounded(p.accept_wall, 2) for p in points],
        "escalated": [_rounded(p.escalated_share, 1, 100) for p in points],
        "rating": [_rounded(p.mean_rating, 2) for p in points],
        "coverage": [_rounded(p.coverage, 1, 100) for p in points],
        "overdue": [p.overdue for p in points],
    }


def as_json(trends: Trends) -> dict:
    """Plain data for the charts (shares in percent, hours and ratings rounded), the total first."""
    return {
        "level": trends.level,
        "weeks": [{"start": w.start.isoformat(), "end": w.end.isoformat(), "label": f"{w.start:%m-%d}",
                   "inProgress": w.in_progress} for w in trends.weeks],
        "computedAt": trends.computed_at.isoformat() if trends.computed_at else None,
        "series": [_series_json(trends.total, True)] + [_series_json(s, False) for s in trends.groups],
    }
