"""Read models of the 包联 screens, the admin API and the import: each village's officers and each
department's liaisons as in effect (named, or by the default spread, and which), the people who may
be named, and the duty rota of a week; and `department_to_change`, which they share before a change.

What is in effect comes from `services.responsibility`, so the screens show exactly whom the
escalation ladder would alert; the changes go through `services.responsibility_admin`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from config import policy
from models import Department, DutyShift, Region, Staff, VillageOfficers
from models.enums import RegionLevel, RequestCategory, StaffRole
from services import audit, responsibility, responsibility_admin


@dataclass(frozen=True)
class Named:
    """Who stands in one place of the chain, and whether they were named there or are the default."""

    staff: Staff | None
    named: bool
    # Someone was named but can no longer answer there (moved, inactive): the default stands in.
    stale: bool = False


def _named(stored_id: int | None, effective: Staff | None) -> Named:
    if stored_id is None:
        return Named(effective, False)
    if effective is not None and effective.id == stored_id:
        return Named(effective, True)
    return Named(effective, False, stale=True)


def city_of(session: Session, region_id: int) -> Region | None:
    """The city a region lies in (the region itself for a city)."""
    region = session.get(Region, region_id)
    while region is not None and region.level != RegionLevel.CITY.value:
        region = session.get(Region, region.parent_id) if region.parent_id else None
    return region


def cities(session: Session) -> list[Region]:
    """Every city, by code (a deployment usually serves one)."""
    return list(session.scalars(select(Region).where(Region.level == RegionLevel.CITY.value).order_by(Region.code)))


def _active(session: Session, role: StaffRole, region_id: int) -> list[Staff]:
    return list(session.scalars(
        select(Staff).where(Staff.role == role.value, Staff.region_id == region_id, Staff.active.is_(True))
        .order_by(Staff.staff_no, Staff.id)
    ))


def town_officer_choices(session: Session, town_id: int) -> list[Staff]:
    """The town's active officers, by 工号: whom a village of the town may be given to."""
    return _active(session, StaffRole.TOWN_OFFICER, town_id)


def liaison_choices(session: Session, city_id: int) -> list[Staff]:
    """The city's active supervisors, by 工号: who may be a liaison or go on the rota."""
    return _active(session, StaffRole.CITY_SUPERVISOR, city_id)


def is_town_officer_of(staff: Staff, town_id: int) -> bool:
    """Whether `staff` may be named for a village of the town (the setter checks the same)."""
    return staff.active and staff.role == StaffRole.TOWN_OFFICER.value and staff.region_id == town_id


def is_liaison_of(staff: Staff, city_id: int) -> bool:
    """Whether `staff` may be a liaison of the city or go on its rota (the setters check the same)."""
    return staff.active and staff.role == StaffRole.CITY_SUPERVISOR.value and staff.region_id == city_id


# --- villages --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VillageRow:
    """A village of a town with its responsible officer and deputy as in effect."""

    village: Region
    responsible: Named
    deputy: Named


def town_villages(session: Session, town_id: int) -> list[VillageRow]:
    """Every village of the town, by code, with who answers for it and whether they were named."""
    effective = responsibility.town_officers(session, town_id)
    villages = session.scalars(
        select(Region).where(Region.parent_id == town_id, Region.level == RegionLevel.VILLAGE.value)
        .order_by(Region.code, Region.id)
    ).all()
    stored = {row.village_id: row for row in session.scalars(
        select(VillageOfficers).where(VillageOfficers.village_id.in_([v.id for v in villages]))
    )} if villages else {}
    rows = []
    for village in villages:
        officers = effective.get(village.id, responsibility.Officers(None, None))
        row = stored.get(village.id)
        rows.append(VillageRow(
            village,
            _named(row.responsible_staff_id if row else None, officers.responsible),
            _named(row.deputy_staff_id if row else None, officers.deputy),
        ))
    return rows


def village_row(session: Session, village: Region) -> VillageRow:
    """One village's row (see `town_villages`)."""
    return next(row for row in town_villages(session, village.parent_id) if row.village.id == village.id)


# --- departments -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DepartmentRow:
    """A department of the city as in effect: its liaisons, the request categories it handles, and
    whether the city has it on record (a city with none has the policy's, none named)."""

    code: str
    name: str
    stored: Department | None
    categories: tuple[str, ...]
    responsible: Named
    deputy: Named


def city_department_rows(session: Session, city_id: int) -> list[DepartmentRow]:
    """The city's departments by code, each with its liaisons and the categories it handles."""
    effective = responsibility.city_departments(session, city_id)
    stored = {d.code: d for d in session.scalars(select(Department).where(Department.city_id == city_id))}
    codes = {d.code for d in effective}
    handled: dict[str, list[str]] = {}
    for category in RequestCategory:
        code = policy.CATEGORY_DEPARTMENT.get(category.value, policy.DEFAULT_DEPARTMENT)
        # A category whose department the city lacks goes to the default one (category_liaisons).
        handled.setdefault(code if code in codes else policy.DEFAULT_DEPARTMENT, []).append(category.value)
    return [
        DepartmentRow(
            d.code, d.name, stored.get(d.code), tuple(handled.get(d.code, ())),
            _named(stored[d.code].responsible_staff_id if d.code in stored else None, d.responsible),
            _named(stored[d.code].deputy_staff_id if d.code in stored else None, d.deputy),
        )
        for d in effective
    ]


def missing_departments(session: Session, city_id: int) -> list[tuple[str, str]]:
    """The policy's departments (code, name) the city has no record of yet."""
    have = set(session.scalars(select(Department.code).where(Department.city_id == city_id)))
    return [(code, name) for code, name in policy.DEPARTMENTS if code not in have]


def department_by_code(session: Session, city_id: int, code: str) -> Department | None:
    """The city's department with this code, if on record."""
    return session.scalar(select(Department).where(Department.city_id == city_id, Department.code == code))


def policy_department_name(code: str) -> str | None:
    """The policy's name for a department code (None: not one of the policy's departments)."""
    return dict(policy.DEPARTMENTS).get(code)


def department_to_change(session: Session, city: Region, code: str, now: datetime, *,
                         by: Staff | None = None) -> Department | None:
    """The city's department `code`, about to be changed: the one on record, or else added from the
    policy (None: a code the policy does not know).

    A city with no department on record has all of the policy's in effect; adding one alone would
    take the others out of the chain, so then all of them are added. Callers check who may change
    the city first; the additions are audited as `by`'s.
    """
    found = department_by_code(session, city.id, code)
    name = policy_department_name(code)
    if found is not None or name is None:
        return found
    with audit.captured(session) as entries:
        if session.scalar(select(Department.id).where(Department.city_id == city.id).limit(1)) is None:
            responsibility_admin.ensure_departments(session, city, now)
        else:
            responsibility_admin.create_department(session, city, code, name, now, by=by)
    audit.attribute(entries, staff=by)
    return department_by_code(session, city.id, code)


# --- the rota ----------------------------------------------------------------------------------------


def week_start(day: date) -> date:
    """The Monday of the week `day` falls in."""
    return day - timedelta(days=day.weekday())


def shifts_between(session: Session, start: datetime, end: datetime, *, city_id: int | None = None,
                   staff_id: int | None = None) -> list[DutyShift]:
    """Shifts overlapping [start, end), by start, with their staff (of one city or one person if given)."""
    stmt = (
        select(DutyShift).join(Staff, Staff.id == DutyShift.staff_id)
        .where(DutyShift.starts_at < end, DutyShift.ends_at > start)
        .order_by(DutyShift.starts_at, DutyShift.id)
        .options(joinedload(DutyShift.staff))
    )
    if city_id is not None:
        stmt = stmt.where(Staff.region_id == city_id)
    if staff_id is not None:
        stmt = stmt.where(DutyShift.staff_id == staff_id)
    return list(session.scalars(stmt))


@dataclass(frozen=True)
class RotaDay:
    """One day of the week and the shifts starting on it (the week's first day also holds those
    that began before it)."""

    day: date
    shifts: list[DutyShift]


@dataclass(frozen=True)
class RotaWeek:
    """A week of the rota from Monday, and who is on duty at `now`."""

    monday: date
    days: list[RotaDay]
    now: datetime
    on_duty: Staff | None
    # The shift of the person on duty, when it is in this week.
    current_shift_id: int | None
    office_hours: bool

    @property
    def shift_count(self) -> int:
        """Shifts shown this week."""
        return sum(len(d.shifts) for d in self.days)


def week_bounds(monday: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Monday 00:00 to the next Monday 00:00, local time, aware."""
    start = datetime.combine(monday, time(0), tz)
    return start, datetime.combine(monday + timedelta(days=7), time(0), tz)


def rota_week(session: Session, city_id: int, monday: date, tz: ZoneInfo, now: datetime) -> RotaWeek:
    """The week's shifts by local start day, who is on duty now and their shift."""
    start, end = week_bounds(monday, tz)
    shifts = shifts_between(session, start, end, city_id=city_id)
    days = [RotaDay(monday + timedelta(days=i), []) for i in range(7)]
    for shift in shifts:
        offset = max((shift.starts_at.astimezone(tz).date() - monday).days, 0)
        days[offset].shifts.append(shift)
    on_duty = responsibility.on_duty(session, city_id, now)
    covering = [s for s in shifts
                if on_duty is not None and s.staff_id == on_duty.id and s.starts_at <= now < s.ends_at]
    current = max(covering, key=lambda s: (s.starts_at, -s.id)).id if covering else None
    return RotaWeek(monday, days, now, on_duty, current, responsibility.in_office_hours(now, tz))


def fill_span(monday: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """What filling the week from `monday` covers: from the evening before to the morning after."""
    opening, closing = policy.OFFICE_HOURS
    return (datetime.combine(monday - timedelta(days=1), closing, tz),
            datetime.combine(monday + timedelta(days=7), opening, tz))
