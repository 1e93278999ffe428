"""The 包联 chain in the demos: the village split among a town's officers, the city's departments
with two liaisons each, and a week of duty rota from the demo's start date.

The split and the liaisons are the default spread (`services.policy.chain`), written down as if an
administrator had confirmed it, so the office screens show named people; the rota covers every
night and the weekend days, dealt round the city's supervisors.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Region, Staff
from models.enums import StaffRole
from services import responsibility_admin as admin
from services.policy import chain


def village_split(villages: list[int], officers: list[int]) -> list[tuple[int, int | None, int | None]]:
    """(village, responsible, deputy) for villages in code order and officers in 工号 order."""
    filled = chain.fill([(village, None, None) for village in villages], officers)
    return [(village, filled[village].responsible, filled[village].deputy) for village in villages]


def name_villages(session: Session, villages: list[Region], officers: list[Staff], now: datetime) -> None:
    """Name each village's responsible officer and deputy through the service (the small demo)."""
    by_id = {o.id: o for o in officers}
    ordered = sorted(officers, key=lambda o: (o.staff_no, o.id))
    for village_id, responsible, deputy in village_split(
        [v.id for v in sorted(villages, key=lambda v: (v.code, v.id))], [o.id for o in ordered]
    ):
        admin.set_village_officers(session, session.get(Region, village_id), by_id.get(responsible),
                                   by_id.get(deputy), now)


def name_departments(session: Session, city: Region, now: datetime) -> int:
    """The policy's departments for the city, each with two of its supervisors as liaisons."""
    supervisors = list(session.scalars(
        select(Staff).where(Staff.role == StaffRole.CITY_SUPERVISOR.value, Staff.region_id == city.id,
                            Staff.active.is_(True)).order_by(Staff.staff_no, Staff.id)
    ))
    departments = admin.ensure_departments(session, city, now)
    by_id = {s.id: s for s in supervisors}
    filled = chain.fill([(d.code, None, None) for d in departments], [s.id for s in supervisors])
    for department in departments:
        pair = filled[department.code]
        admin.set_department_liaisons(session, department, by_id.get(pair.responsible), by_id.get(pair.deputy), now)
    return len(departments)


def week_of_duty(session: Session, city: Region, start: datetime, tz: ZoneInfo, now: datetime) -> int:
    """Seven days of duty from the demo's start date (the local date of `start`), nights and
    weekends; `now` is when the rota was drawn up. Returns the shifts made."""
    return len(admin.fill_rota(session, city, start.astimezone(tz).date(), tz, now))
