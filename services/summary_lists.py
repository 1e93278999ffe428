"""What the mobile list page shows: a summary's whole list, read fresh, within the reader's scope.

Read-only. Every query is narrowed to the recipient's scope as it is when the page is opened
(`services.scope`): a case moved to another town since the push is left out, as is anything the
token names that the reader may not see. Only the columns a line needs are read.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from config import policy
from models import Beneficiary, Region, ServiceRequest, Staff
from models.enums import OPEN_STATUSES, RegionLevel
from models.people import BeneficiaryCategoryLink
from services import scope as scopes
from services import texts
from services.policy.hours import waited
from services.summary_links import CASES, CITY_DIGEST, TOWN_DIGEST, VISITS, SummaryList, reference
from services.visits import DueVisit, due_visits, overdue_by_town

OPEN = tuple(s.value for s in OPEN_STATUSES)
# Open longer than this counts as overdue in the digests' figures.
OVERDUE_AFTER = timedelta(hours=48)


@dataclass(frozen=True)
class CaseLine:
    """One case as a line of the list."""

    number: int
    name: str
    village: str
    category: str
    urgent: bool
    state: str
    # How long it has waited, while it is still open; None once it is done.
    waited: str | None
    escalated: bool


@dataclass(frozen=True)
class VisitLine:
    """One beneficiary's visit as a line of the list."""

    beneficiary_id: int
    name: str
    village: str
    categories: str
    # Days past the due date (0: due today, below 0: not due yet, e.g. visited since the push).
    late_days: int
    last_visit: date | None


@dataclass(frozen=True)
class Figures:
    """A digest's counts, as of now."""

    open: int
    escalated: int
    overdue: int
    visits_overdue: int


@dataclass(frozen=True)
class TownLine:
    """One town's line of the city digest."""

    town: str
    figures: Figures
    # Requests raised in the week the summary covers.
    week_requests: int


@dataclass
class ListPage:
    """Everything the page shows; the lists are cut at `policy.MOBILE_LIST_MAX_ITEMS` (`more` counts the rest)."""

    kind: str
    reference: str
    day: date | None
    cases: list[CaseLine] = field(default_factory=list)
    visits: list[VisitLine] = field(default_factory=list)
    towns: list[TownLine] = field(default_factory=list)
    figures: Figures | None = None
    more_cases: int = 0
    more_visits: int = 0

    @property
    def items(self) -> int:
        """How many lines the page shows (for the audit log)."""
        return len(self.cases) + len(self.visits) + len(self.towns)


def list_page(session: Session, staff: Staff, listed: SummaryList, now: datetime, tz) -> ListPage:
    """The list a token names, for its recipient, as it stands at `now`."""
    scope = scopes.scope_for(staff)
    today = now.astimezone(tz).date()
    sent_on = listed.signed_at.astimezone(tz).date() if listed.signed_at else today
    day = listed.day or sent_on
    page = ListPage(listed.kind, reference(listed.kind, ids=listed.ids, day=day), day)
    if listed.kind == CASES:
        page.cases = cases_by_number(session, scope, listed.ids, now)
        page.more_cases = max(listed.total - len(listed.ids), 0)
    elif listed.kind == VISITS:
        if listed.ids:
            page.visits = visits_of(session, scope, listed.ids, today, tz)
        else:
            page.visits, page.more_visits = visits_due(session, scope, day, today, tz)
    elif listed.kind == TOWN_DIGEST:
        page.figures = figures(session, scope, now, tz)
        page.cases, page.more_cases = open_cases(session, scope, now)
        page.visits, page.more_visits = visits_due(session, scope, today - timedelta(days=1), today, tz)
    elif listed.kind == CITY_DIGEST:
        page.towns = town_lines(session, scope, day, now, tz)
    return page


# --- cases ---------------------------------------------------------------------------------------


def _case_rows(session: Session, scope: scopes.Scope, stmt):
    """Case lines' columns, with the beneficiary's name and village, narrowed to the scope."""
    return session.execute(scopes.requests(scope, stmt)).all()


def _case_select():
    return (
        select(ServiceRequest.id, ServiceRequest.category, ServiceRequest.urgency, ServiceRequest.status,
               ServiceRequest.created_at, ServiceRequest.escalation_level, Beneficiary.name,
               Region.name.label("village"))
        .join(Beneficiary, Beneficiary.id == ServiceRequest.beneficiary_id)
        .join(Region, Region.id == ServiceRequest.village_id)
    )


def _case_line(row, now: datetime) -> CaseLine:
    still_open = row.status in OPEN
    return CaseLine(
        number=row.id, name=row.name, village=row.village, category=row.category,
        urgent=row.urgency == "urgent", state=texts.STATUS_NAMES.get(row.status, row.status),
        waited=waited(row.created_at, now) if still_open else None,
        escalated=still_open and row.escalation_level > 0,
    )


def cases_by_number(session: Session, scope: scopes.Scope, numbers: tuple[int, ...], now: datetime) -> list[CaseLine]:
    """These cases, in the order given, those outside the scope left out."""
    rows = {row.id: row for row in _case_rows(session, scope, _case_select().where(ServiceRequest.id.in_(numbers)))}
    return [_case_line(rows[number], now) for number in numbers if number in rows]


def open_cases(session: Session, scope: scopes.Scope, now: datetime) -> tuple[list[CaseLine], int]:
    """Open cases in the scope, escalated and urgent first, then the longest waiting; and how many more."""
    limit = policy.MOBILE_LIST_MAX_ITEMS
    stmt = (
        _case_select().where(ServiceRequest.status.in_(OPEN))
        .order_by(ServiceRequest.escalation_level.desc(), (ServiceRequest.urgency == "urgent").desc(),
                  ServiceRequest.created_at, ServiceRequest.id)
        .limit(limit + 1)
    )
    rows = _case_rows(session, scope, stmt)
    if len(rows) <= limit:
        return [_case_line(row, now) for row in rows], 0
    total = session.scalar(scopes.requests(scope, select(func.count()).select_from(ServiceRequest)
                                           .where(ServiceRequest.status.in_(OPEN))))
    return [_case_line(row, now) for row in rows[:limit]], total - limit


# --- visits --------------------------------------------------------------------------------------


def _categories(session: Session, scope: scopes.Scope, ids) -> dict[int, str]:
    """The categories of those of these beneficiaries the scope reaches, `特困、留守老人`."""
    reachable = scopes.beneficiaries(scope, select(Beneficiary.id).where(Beneficiary.id.in_(list(ids))))
    names: dict[int, list[str]] = {i: [] for i in session.scalars(reachable)}
    for person, category in session.execute(
        select(BeneficiaryCategoryLink.beneficiary_id, BeneficiaryCategoryLink.category)
        .where(BeneficiaryCategoryLink.beneficiary_id.in_(list(names)))
    ):
        names[person].append(category)
    return {person: "、".join(sorted(found)) for person, found in names.items()}


def visits_due(session: Session, scope: scopes.Scope, day: date, today: date, tz) -> tuple[list[VisitLine], int]:
    """Visits in the scope due by `day` and not made since, most overdue first; and how many more."""
    if scope.kind == "own":
        due = due_visits(session, tz, day, staff_id=scope.staff_id)
    elif scope.kind == "town":
        due = due_visits(session, tz, day, town_id=scope.town_id)
    elif scope.kind == "city":
        due = due_visits(session, tz, day, city_id=scope.city_id)
    else:
        due = due_visits(session, tz, day)
    limit = policy.MOBILE_LIST_MAX_ITEMS
    shown = due[:limit]
    categories = _categories(session, scope, [item.beneficiary.id for item in shown])
    lines = [_due_line(item, categories[item.beneficiary.id], today) for item in shown
             if item.beneficiary.id in categories]
    return lines, max(len(due) - limit, 0)


def _due_line(item: DueVisit, categories: str, today: date) -> VisitLine:
    return VisitLine(item.beneficiary.id, item.beneficiary.name, item.beneficiary.village.name, categories,
                     (today - item.due).days, item.last_visit)


def visits_of(session: Session, scope: scopes.Scope, ids: tuple[int, ...], today: date, tz) -> list[VisitLine]:
    """These beneficiaries' visits as they stand today, in the order given, those outside the scope left out."""
    categories = _categories(session, scope, ids)
    rows = {
        row.id: row for row in session.execute(
            select(Beneficiary.id, Beneficiary.name, Beneficiary.active, Beneficiary.last_visited_at,
                   Beneficiary.created_at, Beneficiary.visit_every_days, Region.name.label("village"))
            .join(Region, Region.id == Beneficiary.village_id)
            .where(Beneficiary.id.in_(list(categories)))
        )
    }
    lines = []
    for person in ids:
        row = rows.get(person)
        if row is None or not row.active:
            continue
        last = row.last_visited_at.astimezone(tz).date() if row.last_visited_at else None
        due = (last or row.created_at.astimezone(tz).date()) + timedelta(days=row.visit_every_days)
        lines.append(VisitLine(row.id, row.name, row.village, categories[row.id], (today - due).days, last))
    return lines


# --- figures -------------------------------------------------------------------------------------


def _case_counts(session: Session, scope: scopes.Scope, now: datetime, by_town: bool):
    """Open, escalated and overdue cases in the scope (per town when asked)."""
    columns = [
        func.count().label("open"),
        func.count().filter(ServiceRequest.escalation_level >= 1).label("escalated"),
        func.count().filter(ServiceRequest.created_at < now - OVERDUE_AFTER).label("overdue"),
    ]
    stmt = select(ServiceRequest.town_id, *columns) if by_town else select(*columns)
    stmt = scopes.requests(scope, stmt.select_from(ServiceRequest).where(ServiceRequest.status.in_(OPEN)))
    if by_town:
        return {row.town_id: row for row in session.execute(stmt.group_by(ServiceRequest.town_id))}
    return session.execute(stmt).one()


def figures(session: Session, scope: scopes.Scope, now: datetime, tz) -> Figures:
    """The digest's counts within the scope, as of now: visits overdue means due by yesterday."""
    today = now.astimezone(tz).date()
    counts = _case_counts(session, scope, now, by_town=False)
    if scope.kind == "own":
        visits = len(due_visits(session, tz, today - timedelta(days=1), staff_id=scope.staff_id))
    else:
        per_town = overdue_by_town(session, tz, today - timedelta(days=1))
        towns = set(session.scalars(scopes.towns(scope, select(Region.id).where(Region.level == RegionLevel.TOWN.value))))
        visits = sum(n for town, n in per_town.items() if town in towns)
    return Figures(counts.open, counts.escalated, counts.overdue, visits)


def town_lines(session: Session, scope: scopes.Scope, day: date, now: datetime, tz) -> list[TownLine]:
    """Per town in the scope: today's counts and the requests of the seven days before `day`."""
    today = now.astimezone(tz).date()
    towns = session.execute(
        scopes.towns(scope, select(Region.id, Region.name).where(Region.level == RegionLevel.TOWN.value))
        .order_by(Region.code)
    ).all()
    counts = _case_counts(session, scope, now, by_town=True)
    visits = overdue_by_town(session, tz, today - timedelta(days=1))
    end = datetime.combine(day, time.min, tz)
    week = defaultdict(int, session.execute(
        scopes.requests(scope, select(ServiceRequest.town_id, func.count()).select_from(ServiceRequest)
                        .where(ServiceRequest.created_at >= end - timedelta(days=7), ServiceRequest.created_at < end))
        .group_by(ServiceRequest.town_id)
    ).all())
    lines = []
    for town_id, name in towns:
        row = counts.get(town_id)
        figures_ = Figures(row.open if row else 0, row.escalated if row else 0, row.overdue if row else 0,
                           visits.get(town_id, 0))
        lines.append(TownLine(name, figures_, week[town_id]))
    return lines
