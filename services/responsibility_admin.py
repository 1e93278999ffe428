"""Setting the 包联 chain: a village's responsible officer and deputy, the city's departments and
their liaisons, and the on-duty rota.

What the office screens, the import and the API will call. Each setter checks the people's roles
and regions (a town officer of the village's town, a city supervisor of the department's city),
and who may make the change when `by` is given; a refusal is a DomainError with a short message.
Every change is audited. Like every service, none commits.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from config import policy
from models import Department, DutyShift, Region, Staff, VillageOfficers
from models.enums import RegionLevel, StaffRole
from services import audit
from services.errors import DomainError
from services.policy import chain

VILLAGE_ONLY = "只能为村或社区指定包村干部"
NOT_TOWN_OFFICER = "{name}不是{town}在岗的乡镇民政助理员"
SAME_PERSON = "责任人和副责任人不能是同一人"
CITY_ONLY = "部门只能设在市级"
CODE_INVALID = "部门编码只能用小写字母、数字和下划线，最长32位"
CODE_TAKEN = "部门编码{code}已存在"
NAME_INVALID = "请填写部门名称（最长64字）"
NOT_LIAISON = "{name}不是本市在岗的市级民政联络员"
SHIFT_NAIVE = "值班时间需带时区"
SHIFT_ORDER = "值班结束时间应晚于开始时间"
SHIFT_TOO_LONG = "一次值班不能超过{hours}小时"
SHIFT_OVERLAP = "{name}在这段时间已有值班"
NOT_ALLOWED = "您没有权限修改包联责任"
NO_SUPERVISORS = "本市还没有在岗的市级民政联络员"

CODE_PATTERN = re.compile(r"[a-z0-9_]{1,32}")
CITY_ROLES = (StaffRole.ADMIN.value, StaffRole.CITY_SUPERVISOR.value)


def _require_may_edit(by: Staff | None, *, city_id: int, town_id: int | None = None) -> None:
    """City staff of the city may change the chain; a town officer only their own town's villages."""
    if by is None:
        return
    if by.role == StaffRole.PROVINCE_ADMIN.value or (by.role in CITY_ROLES and by.region_id == city_id):
        return
    if town_id is not None and by.role == StaffRole.TOWN_OFFICER.value and by.region_id == town_id:
        return
    raise DomainError(NOT_ALLOWED)


# --- villages --------------------------------------------------------------------------------------


def set_village_officers(
    session: Session, village: Region, responsible: Staff | None, deputy: Staff | None, now: datetime,
    *, by: Staff | None = None,
) -> VillageOfficers:
    """Name the town officer responsible for a village (包村) and the deputy; None: by default."""
    if village.level != RegionLevel.VILLAGE.value:
        raise DomainError(VILLAGE_ONLY)
    town = village.parent
    _require_may_edit(by, city_id=town.parent_id, town_id=town.id)
    for person in (responsible, deputy):
        if person is not None and not (
            person.active and person.role == StaffRole.TOWN_OFFICER.value and person.region_id == town.id
        ):
            raise DomainError(NOT_TOWN_OFFICER.format(name=person.name, town=town.name))
    if responsible is not None and deputy is not None and responsible.id == deputy.id:
        raise DomainError(SAME_PERSON)
    row = session.get(VillageOfficers, village.id)
    if row is None:
        row = VillageOfficers(village_id=village.id)
        session.add(row)
    row.responsible_staff_id = responsible.id if responsible else None
    row.deputy_staff_id = deputy.id if deputy else None
    row.updated_at = now
    audit.record(session, now, "chain.village", staff=by, target=("region", village.id),
                 detail={"responsible": row.responsible_staff_id, "deputy": row.deputy_staff_id})
    session.flush()
    return row


# --- departments -----------------------------------------------------------------------------------


def _require_city(city: Region) -> None:
    if city.level != RegionLevel.CITY.value:
        raise DomainError(CITY_ONLY)


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 64:
        raise DomainError(NAME_INVALID)
    return name


def create_department(session: Session, city: Region, code: str, name: str, now: datetime,
                      *, by: Staff | None = None) -> Department:
    """Add a department to the city; its liaisons are spread by default until named."""
    _require_city(city)
    _require_may_edit(by, city_id=city.id)
    code = (code or "").strip()
    if not CODE_PATTERN.fullmatch(code):
        raise DomainError(CODE_INVALID)
    if session.scalar(select(Department.id).where(Department.city_id == city.id, Department.code == code)):
        raise DomainError(CODE_TAKEN.format(code=code))
    department = Department(city_id=city.id, code=code, name=_check_name(name), created_at=now, updated_at=now)
    session.add(department)
    session.flush()
    audit.record(session, now, "chain.department.create", staff=by, target=("department", department.id),
                 detail={"code": code})
    return department


def ensure_departments(session: Session, city: Region, now: datetime) -> list[Department]:
    """The city's departments, adding those of the policy (DEPARTMENTS) it does not have yet."""
    _require_city(city)
    have = set(session.scalars(select(Department.code).where(Department.city_id == city.id)))
    for code, name in policy.DEPARTMENTS:
        if code not in have:
            create_department(session, city, code, name, now)
    return list(session.scalars(select(Department).where(Department.city_id == city.id).order_by(Department.code)))


def rename_department(session: Session, department: Department, name: str, now: datetime,
                      *, by: Staff | None = None) -> Department:
    """Give a department a new name (its code, which the categories point at, stays)."""
    _require_may_edit(by, city_id=department.city_id)
    department.name = _check_name(name)
    department.updated_at = now
    audit.record(session, now, "chain.department.rename", staff=by, target=("department", department.id))
    session.flush()
    return department


def set_department_liaisons(
    session: Session, department: Department, responsible: Staff | None, deputy: Staff | None, now: datetime,
    *, by: Staff | None = None,
) -> Department:
    """Name the department's two liaisons (city supervisors of its city); None: by default."""
    _require_may_edit(by, city_id=department.city_id)
    for person in (responsible, deputy):
        if person is not None and not _is_liaison(person, department.city_id):
            raise DomainError(NOT_LIAISON.format(name=person.name))
    if responsible is not None and deputy is not None and responsible.id == deputy.id:
        raise DomainError(SAME_PERSON)
    department.responsible_staff_id = responsible.id if responsible else None
    department.deputy_staff_id = deputy.id if deputy else None
    department.updated_at = now
    audit.record(session, now, "chain.department.liaisons", staff=by, target=("department", department.id),
                 detail={"responsible": department.responsible_staff_id, "deputy": department.deputy_staff_id})
    session.flush()
    return department


def _is_liaison(staff: Staff, city_id: int) -> bool:
    return staff.active and staff.role == StaffRole.CITY_SUPERVISOR.value and staff.region_id == city_id


# --- the rota --------------------------------------------------------------------------------------


def add_duty_shift(session: Session, staff: Staff, starts_at: datetime, ends_at: datetime, now: datetime,
                   *, by: Staff | None = None) -> DutyShift:
    """Put a city supervisor on duty from `starts_at` to `ends_at` (a night shift crosses midnight)."""
    _require_may_edit(by, city_id=staff.region_id)
    if not _is_liaison(staff, staff.region_id):
        raise DomainError(NOT_LIAISON.format(name=staff.name))
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise DomainError(SHIFT_NAIVE)
    if ends_at <= starts_at:
        raise DomainError(SHIFT_ORDER)
    if ends_at - starts_at > timedelta(hours=policy.DUTY_SHIFT_MAX_HOURS):
        raise DomainError(SHIFT_TOO_LONG.format(hours=policy.DUTY_SHIFT_MAX_HOURS))
    overlapping = session.scalar(
        select(DutyShift.id).where(DutyShift.staff_id == staff.id, DutyShift.starts_at < ends_at,
                                   DutyShift.ends_at > starts_at).limit(1)
    )
    if overlapping is not None:
        raise DomainError(SHIFT_OVERLAP.format(name=staff.name))
    shift = DutyShift(staff_id=staff.id, starts_at=starts_at, ends_at=ends_at, created_at=now)
    session.add(shift)
    session.flush()
    audit.record(session, now, "duty.add", staff=by, target=("duty_shift", shift.id),
                 detail={"staff": staff.id, "starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat()})
    return shift


def remove_duty_shift(session: Session, shift: DutyShift, now: datetime, *, by: Staff | None = None) -> None:
    """Take a shift off the rota."""
    _require_may_edit(by, city_id=session.get(Staff, shift.staff_id).region_id)
    audit.record(session, now, "duty.remove", staff=by, target=("duty_shift", shift.id),
                 detail={"staff": shift.staff_id, "starts_at": shift.starts_at.isoformat()})
    session.delete(shift)
    session.flush()


def fill_rota(session: Session, city: Region, start: date, tz: ZoneInfo, now: datetime,
              *, by: Staff | None = None, days: int = 7) -> list[DutyShift]:
    """A week of duty from `start`: every stretch outside office hours (nights, and the days off),
    dealt round the city's active supervisors in 工号 order."""
    _require_city(city)
    supervisors = list(session.scalars(
        select(Staff).where(Staff.role == StaffRole.CITY_SUPERVISOR.value, Staff.region_id == city.id,
                            Staff.active.is_(True)).order_by(Staff.staff_no, Staff.id)
    ))
    if not supervisors:
        raise DomainError(NO_SUPERVISORS)
    stretches = chain.off_hours_week(start, tz, policy.OFFICE_HOURS, policy.OFFICE_DAYS, days)
    return [
        add_duty_shift(session, supervisors[i % len(supervisors)], starts_at, ends_at, now, by=by)
        for i, (starts_at, ends_at) in enumerate(stretches)
    ]
