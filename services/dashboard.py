"""Read models of the office dashboard: the service map, the case board, case and beneficiary
pages, visit coverage. Every function takes a Scope and narrows its own queries with it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Row, and_, case, func, or_, select
from sqlalchemy.orm import Session, selectinload

from config import policy
from models import (
    Assignment,
    Beneficiary,
    Region,
    RequestEvent,
    ServiceRequest,
    Staff,
    Visit,
)
from models.enums import OPEN_STATUSES, CheckinPlan, EventKind, RegionLevel, StaffRole
from services import daily_figures, history, province_views
from services import scope as scoping
from services.scope import Scope

OPEN = tuple(s.value for s in OPEN_STATUSES)
# An assistant responsible for more than this many people is flagged on the map.
LOAD_THRESHOLD = policy.ASSISTANT_PEOPLE_LIMIT
MIN_ASSISTANTS_PER_VILLAGE = 3
PAGE_SIZE = 50


# --- the service map ----------------------------------------------------------------------------


@dataclass
class VillageRow:
    """One village on the map, with its counts and gaps."""

    region: Row  # the village's id, name and parent_id
    assistants: int = 0
    beneficiaries: int = 0
    unassigned: int = 0  # people with no active assistant: none assigned, or theirs no longer active
    overdue: int = 0  # people not visited within their plan, as on the 走访覆盖 page
    overloaded: int = 0  # assistants here responsible for more than the load threshold

    @property
    def short_of_assistants(self) -> bool:
        """Fewer than three assistants: a gap in 责任直达."""
        return self.assistants < MIN_ASSISTANTS_PER_VILLAGE

    @property
    def coverage(self) -> float | None:
        """Share of the people visited within plan (None when nobody lives here on the map)."""
        return (self.beneficiaries - self.overdue) / self.beneficiaries if self.beneficiaries else None


@dataclass
class TownRow:
    """One town with its villages."""

    region: Region
    villages: list[VillageRow] = field(default_factory=list)

    def total(self, name: str) -> int:
        """The sum of one count over the town's villages."""
        return sum(getattr(v, name) for v in self.villages)

    @property
    def short_villages(self) -> int:
        """How many villages have fewer than three assistants."""
        return sum(v.short_of_assistants for v in self.villages)


@dataclass
class ServiceMap:
    """City > towns > villages, with counts and the gaps to fix."""

    towns: list[TownRow]
    overloaded: list[tuple[Staff, int]]

    def total(self, name: str) -> int:
        """The sum of one count over the whole map."""
        return sum(t.total(name) for t in self.towns)


def service_map(session: Session, scope: Scope, now: datetime, tz: ZoneInfo,
                load_threshold: int = LOAD_THRESHOLD) -> ServiceMap:
    """The map within the scope: counts, visit coverage and overloaded assistants per village and town.

    Five queries whatever the size of the city: towns, villages, assistants, people (with their
    assignment and visit plan) and loads; nothing is asked per village. For a whole province the
    people and the loads come from today's daily figures once the scheduler has kept them.
    """
    towns = session.scalars(scoping.towns(scope, select(Region).where(Region.level == RegionLevel.TOWN.value))
                            .order_by(Region.code)).all()
    town_ids = [t.id for t in towns]
    # Plain rows (id, name, parent_id): a province has 8,760 villages, and the map needs no more of them.
    villages = session.execute(
        select(Region.id, Region.name, Region.parent_id).where(Region.parent_id.in_(town_ids)).order_by(Region.code)
    ).all() if town_ids else []
    if scope.kind == "own":
        home = session.get(Staff, scope.staff_id).region_id
        villages = [v for v in villages if v.id == home]
    village_ids = [v.id for v in villages]
    rows = {v.id: VillageRow(v) for v in villages}
    assistants = select(Staff.region_id, func.count()).where(Staff.role == StaffRole.ASSISTANT.value,
                                                             Staff.active.is_(True))
    if not scope.is_province:
        # A whole province counts everyone: no list of thousands of villages to send.
        assistants = assistants.where(Staff.region_id.in_(village_ids))
    for region_id, count in session.execute(assistants.group_by(Staff.region_id)):
        if region_id in rows:
            rows[region_id].assistants = count
    caseloads = _province_people(session, scope, now, tz, rows) if scope.is_province else None
    if caseloads is None:
        _count_people(session, scope, now, tz, rows)
    by_town = {t.id: TownRow(t) for t in towns}
    for village in villages:
        by_town[village.parent_id].villages.append(rows[village.id])
    if caseloads is not None:
        heavy = {staff: n for staff, n in caseloads.items() if n > load_threshold}
        staff_rows = session.scalars(select(Staff).where(Staff.id.in_(list(heavy)))).all() if heavy else []
        overloaded = sorted(((s, heavy[s.id]) for s in staff_rows if s.region_id in rows),
                            key=lambda pair: (-pair[1], pair[0].staff_no))
    else:
        overloaded = _overloaded(session, scope, village_ids, load_threshold)
    for staff, _ in overloaded:
        rows[staff.region_id].overloaded += 1
    return ServiceMap([t for t in by_town.values() if t.villages or scope.is_city], overloaded)


def _count_people(session: Session, scope: Scope, now: datetime, tz: ZoneInfo, rows: dict[int, VillageRow]) -> None:
    """Each village's people, unassigned and overdue, counted live."""
    # Routing treats an assignment to an assistant no longer active as no assistant; so does the map.
    assistant = Staff.__table__.alias("assistant")
    people = scoping.beneficiaries(
        scope,
        select(Beneficiary.village_id, func.count(), func.count(assistant.c.id),
               func.sum(case((_overdue(now, tz), 1), else_=0)))
        .outerjoin(Assignment, and_(Assignment.beneficiary_id == Beneficiary.id, Assignment.ended_at.is_(None)))
        .outerjoin(assistant, and_(assistant.c.id == Assignment.staff_id, assistant.c.active.is_(True)))
        .where(Beneficiary.active.is_(True), Beneficiary.village_id.in_(list(rows))),
    ).group_by(Beneficiary.village_id)
    for village_id, total, assigned, late in session.execute(people):
        rows[village_id].beneficiaries = total
        rows[village_id].unassigned = total - assigned
        rows[village_id].overdue = int(late or 0)


def _province_people(session: Session, scope: Scope, now: datetime, tz: ZoneInfo,
                     rows: dict[int, VillageRow]) -> dict[int, int] | None:
    """For a whole province, each village's people, unassigned and overdue from today's daily figures
    (kept every 10 minutes by the scheduler, by the same rules): counting 3.3 million people live
    takes seconds. Each assistant's caseload from the same rows; None before today's are there."""
    found = daily_figures.day_rows(session, scope, now.astimezone(tz).date())
    if not found:
        return None
    inactive = set(session.scalars(select(Staff.id).where(Staff.active.is_(False))))
    caseloads: dict[int, int] = {}
    for village_id, staff_id, people, overdue in found:
        row = rows.get(village_id)
        if row is not None:
            row.beneficiaries += people
            row.overdue += overdue
            if staff_id is None or staff_id in inactive:
                row.unassigned += people
        if staff_id is not None:
            caseloads[staff_id] = caseloads.get(staff_id, 0) + people
    return caseloads


def _overloaded(session: Session, scope: Scope, village_ids: list[int], load_threshold: int) -> list[tuple[Staff, int]]:
    """The members of staff of these villages responsible for more than the threshold, counted live."""
    # Counted per member of staff through ix_assignments_staff_active: at city scale a few times
    # faster than hashing every assignment and grouping by the staff row (docs/benchmarks.md).
    caseload = (select(func.count()).where(Assignment.staff_id == Staff.id, Assignment.ended_at.is_(None))
                .correlate(Staff).scalar_subquery())
    load = (
        select(Staff, caseload)
        .where(Staff.region_id.in_(village_ids), caseload > load_threshold)
        .order_by(caseload.desc(), Staff.staff_no)
    )
    if scope.kind == "own":
        # An assistant sees their own load, never a colleague's.
        load = load.where(Staff.id == scope.staff_id)
    return [(staff, n) for staff, n in session.execute(load)]


@dataclass
class VillageDetail:
    """A village's page: each assistant with their people, and the people with nobody."""

    village: Region
    assistants: list[tuple[Staff, list[Beneficiary]]]
    unassigned: list[Beneficiary]


def village_detail(session: Session, scope: Scope, village_id: int, *, plan: str | None = None,
                   silent_before: datetime | None = None) -> VillageDetail | None:
    """The village within the scope, or None when it is out of reach; with `plan`, only the people on
    that 报平安 plan; with `silent_before`, only daily-plan people not heard from since that moment."""
    village = session.get(Region, village_id)
    if village is None or village.level != RegionLevel.VILLAGE.value:
        return None
    if scope.kind == "town" and village.parent_id != scope.town_id:
        return None
    if scope.kind == "city" and scoping.city_of_town(session, village.parent_id) != scope.city_id:
        return None
    if scope.kind == "own" and session.get(Staff, scope.staff_id).region_id != village.id:
        return None
    people = session.execute(
        scoping.beneficiaries(
            scope,
            select(Beneficiary, Assignment.staff_id)
            .outerjoin(Assignment, and_(Assignment.beneficiary_id == Beneficiary.id, Assignment.ended_at.is_(None)))
            .where(Beneficiary.village_id == village_id, Beneficiary.active.is_(True),
                   *_checkin_filter(plan, silent_before))
            .options(selectinload(Beneficiary.categories)),
        ).order_by(Beneficiary.name, Beneficiary.id)
    ).all()
    staff = session.scalars(
        select(Staff).where(Staff.region_id == village_id, Staff.role == StaffRole.ASSISTANT.value,
                            Staff.active.is_(True)).order_by(Staff.staff_no)
    ).all()
    if scope.kind == "own":
        staff = [s for s in staff if s.id == scope.staff_id]
    groups = {s.id: (s, []) for s in staff}
    unassigned = []
    for person, staff_id in people:
        if staff_id in groups:
            groups[staff_id][1].append(person)
        else:
            # Nobody assigned, or an assistant no longer active here: as on the map, nobody answers for them.
            unassigned.append(person)
    return VillageDetail(village, list(groups.values()), unassigned)


def _checkin_filter(plan: str | None, silent_before: datetime | None) -> list:
    """The village page's 报平安 filters as conditions (the village's own rows, found by village_id)."""
    conditions = [Beneficiary.checkin_plan == plan] if plan else []
    if silent_before is not None:
        conditions += [Beneficiary.checkin_plan == CheckinPlan.DAILY.value,
                       or_(Beneficiary.last_contact_at.is_(None), Beneficiary.last_contact_at < silent_before)]
    return conditions


# --- the case board ------------------------------------------------------------------------------


# The board's default: every case someone still has to act on (待接单 and 办理中).
ACTIVE = "active"


@dataclass(frozen=True)
class BoardFilters:
    """What the case board can be filtered by."""

    town_id: int | None = None
    village_id: int | None = None
    assignee_no: str | None = None
    category: str | None = None
    urgency: str | None = None
    channel: str | None = None  # a RequestChannel value
    status: str | None = None  # a status, "active" for open and acknowledged together, or "all"
    escalated: bool = False
    overdue: bool = False


def case_board(
    session: Session, scope: Scope, filters: BoardFilters, now: datetime, page: int = 1
) -> tuple[list[ServiceRequest], int]:
    """Requests in scope matching the filters, next deadline first, one page at a time."""
    stmt = scoping.requests(scope, select(ServiceRequest))
    if filters.status in (None, "", ACTIVE):
        stmt = stmt.where(ServiceRequest.status.in_(OPEN))
    elif filters.status != "all":
        stmt = stmt.where(ServiceRequest.status == filters.status)
    if filters.town_id:
        stmt = stmt.where(ServiceRequest.town_id == filters.town_id)
    if filters.village_id:
        stmt = stmt.where(ServiceRequest.village_id == filters.village_id)
    if filters.assignee_no:
        stmt = stmt.join(Staff, Staff.id == ServiceRequest.assignee_staff_id).where(
            Staff.staff_no == filters.assignee_no.strip().upper()
        )
    if filters.category:
        stmt = stmt.where(ServiceRequest.category == filters.category)
    if filters.urgency:
        stmt = stmt.where(ServiceRequest.urgency == filters.urgency)
    if filters.channel:
        stmt = stmt.where(ServiceRequest.channel == filters.channel)
    if filters.escalated:
        stmt = stmt.where(ServiceRequest.escalation_level >= 1)
    if filters.overdue:
        stmt = stmt.where(ServiceRequest.status.in_(OPEN), ServiceRequest.next_escalation_at <= now)
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = session.scalars(
        stmt.order_by(
            ServiceRequest.next_escalation_at.is_(None),
            ServiceRequest.next_escalation_at,
            ServiceRequest.created_at,
        )
        .limit(PAGE_SIZE)
        .offset((max(page, 1) - 1) * PAGE_SIZE)
        .options(
            selectinload(ServiceRequest.beneficiary).selectinload(Beneficiary.village),
            selectinload(ServiceRequest.assignee),
        )
    ).all()
    return list(rows), total


def case_detail(session: Session, scope: Scope, number: int) -> ServiceRequest | None:
    """One request with its timeline, or None when it is out of scope."""
    stmt = scoping.requests(scope, select(ServiceRequest).where(ServiceRequest.id == number)).options(
        selectinload(ServiceRequest.events),
        selectinload(ServiceRequest.beneficiary).selectinload(Beneficiary.village),
        selectinload(ServiceRequest.assignee),
    )
    return session.scalars(stmt).one_or_none()


def staff_names(session: Session, ids) -> dict[int, Staff]:
    """Staff by id, for showing who did what on a timeline."""
    ids = {i for i in ids if i}
    return {s.id: s for s in session.scalars(select(Staff).where(Staff.id.in_(ids)))} if ids else {}


def beneficiary_detail(session: Session, scope: Scope, beneficiary_id: int) -> Beneficiary | None:
    """One beneficiary within the scope, or None."""
    stmt = scoping.beneficiaries(scope, select(Beneficiary).where(Beneficiary.id == beneficiary_id)).options(
        selectinload(Beneficiary.categories),
        selectinload(Beneficiary.assignments),
        selectinload(Beneficiary.village).selectinload(Region.parent),
    )
    return session.scalars(stmt).one_or_none()


def recent_cases(session: Session, beneficiary_id: int, limit: int = 20) -> list[ServiceRequest]:
    """The beneficiary's latest requests."""
    return list(session.scalars(
        select(ServiceRequest).where(ServiceRequest.beneficiary_id == beneficiary_id)
        .order_by(ServiceRequest.created_at.desc()).limit(limit)
    ))


def recent_visits(session: Session, beneficiary_id: int, limit: int = 20) -> list[Visit]:
    """The beneficiary's latest visits."""
    return list(session.scalars(
        select(Visit).where(Visit.beneficiary_id == beneficiary_id)
        .order_by(Visit.visited_at.desc()).limit(limit).options(selectinload(Visit.staff))
    ))


def village_assistants(session: Session, village_id: int) -> list[Staff]:
    """Active assistants of a village (the choices when reassigning)."""
    return list(session.scalars(
        select(Staff).where(Staff.region_id == village_id, Staff.role == StaffRole.ASSISTANT.value,
                            Staff.active.is_(True)).order_by(Staff.staff_no)
    ))


# --- visit coverage ----------------------------------------------------------------------------


@dataclass
class CoverageRow:
    """Visited within plan vs overdue for one area."""

    region: Region
    beneficiaries: int
    overdue: int

    @property
    def covered(self) -> int:
        """Beneficiaries visited within their plan."""
        return self.beneficiaries - self.overdue

    @property
    def rate(self) -> float:
        """Share visited within plan (1.0 when there is nobody)."""
        return self.covered / self.beneficiaries if self.beneficiaries else 1.0


def visit_coverage(session: Session, scope: Scope, now: datetime, tz: ZoneInfo, town_id: int | None = None
                   ) -> list[CoverageRow]:
    """Coverage per town (or per village of `town_id`): one pass over the beneficiaries.

    Overdue means: the last visit (or registration, never visited) is older than the strictest
    category's period (`visit_every_days`). Only a few periods exist, so the cut-offs are
    computed here and the database compares plain timestamps.
    """
    counts = _province_coverage(session, scope, now, tz) if scope.is_province and not town_id else None
    if counts:
        regions = session.scalars(select(Region).where(Region.id.in_(list(counts))).order_by(Region.code)).all()
        return [CoverageRow(r, *counts[r.id]) for r in regions]
    overdue = _overdue(now, tz)
    village = Region.__table__.alias("village")
    group_col = village.c.id if town_id else village.c.parent_id
    stmt = (
        select(group_col, func.count(), func.sum(case((overdue, 1), else_=0)))
        .select_from(Beneficiary)
        .join(village, village.c.id == Beneficiary.village_id)
        .where(Beneficiary.active.is_(True))
        .group_by(group_col)
    )
    if town_id:
        stmt = stmt.where(village.c.parent_id == town_id)
    stmt = scoping.beneficiaries(scope, stmt)
    counts = {key: (total, int(late or 0)) for key, total, late in session.execute(stmt)}
    regions = session.scalars(select(Region).where(Region.id.in_(list(counts))).order_by(Region.code)).all()
    return [CoverageRow(r, *counts[r.id]) for r in regions]


def _province_coverage(session: Session, scope: Scope, now: datetime, tz: ZoneInfo) -> dict[int, tuple[int, int]]:
    """People and overdue per town of a whole province, from today's daily figures (kept every 10
    minutes by the scheduler, by the same rule): counting 3.3 million people live takes seconds.
    Empty when today's figures are not there yet, and the people are then counted."""
    today = now.astimezone(tz).date()
    return {key: (n.beneficiaries, n.overdue)
            for key, n in daily_figures.period_totals(session, scope, today, today, "town").items()
            if key is not None and n.beneficiaries}


def _overdue(now: datetime, tz: ZoneInfo):
    """A beneficiary not visited within their plan as of today (local time): the last visit (or the
    registration, never visited) older than the strictest category's period (`visit_every_days`).

    Only a few periods exist, so the cut-offs are computed here and the database compares plain
    timestamps."""
    today_start = datetime.combine(now.astimezone(tz).date(), datetime.min.time(), tz)
    since = func.coalesce(Beneficiary.last_visited_at, Beneficiary.created_at)
    return or_(*[
        and_(Beneficiary.visit_every_days == days, since < today_start - timedelta(days=days))
        for days in sorted(set(policy.VISIT_FREQUENCY_DAYS.values()))
    ])


def problems_this_month(session: Session, scope: Scope, now: datetime, tz: ZoneInfo) -> dict[str, int]:
    """How many visits this month found a problem, per check (吃/穿/住/医)."""
    local = now.astimezone(tz)
    if scope.is_province:
        # The month's figures the scheduler keeps for a province (its days summed: 0.2 s late in a month).
        kept = province_views.read_figures(session, "town", local.date().replace(day=1), local.date(), now)
        if kept is not None:
            return dict(kept.total.problems)
    if scope.is_province or (scope.is_city and daily_figures.computed_at(session, local.date(), scope)):
        # A whole province's month is millions of visits, a city's late in the month some 60,000 looked
        # up person by person: their days come from the daily figures the scheduler keeps (every 10
        # minutes), which count the same findings per local day, as the figures page does (the visits
        # of the people on the roll today; the minutes since the last run not yet in).
        month = daily_figures.period_totals(session, scope, local.date().replace(day=1), local.date(), "town")
        return {name: sum(n.problems[column] for n in month.values())
                for name, column in zip(("吃", "穿", "住", "医"), daily_figures.CHECKS)}
    month_start = datetime.combine(date(local.year, local.month, 1), datetime.min.time(), tz)
    stmt = scoping.visits(scope, select(
        *(func.sum(case((getattr(Visit, name) == "problem", 1), else_=0)) for name in ("food", "clothing", "housing", "medical"))
    ).where(Visit.visited_at >= month_start))
    values = session.execute(stmt).one()
    return dict(zip(("吃", "穿", "住", "医"), (int(v or 0) for v in values)))


def events_for(request: ServiceRequest) -> list[RequestEvent]:
    """A request's timeline in order, the entries moved to the archive included."""
    return history.timeline(request)


def alerted_staff(events: list[RequestEvent]) -> dict[int, list[int]]:
    """The staff each push entry of a timeline reached, by event id; empty for a push to a WeChat user."""
    alerted = {}
    for event in events:
        if event.kind != EventKind.PUSH.value or not event.data:
            continue
        # An escalation rung names everyone it alerted in one entry; any other push names one person.
        ids = event.data.get("to_staff_ids")
        if ids is None:
            ids = [event.data["to_staff_id"]] if event.data.get("to_staff_id") else []
        alerted[event.id] = ids
    return alerted
