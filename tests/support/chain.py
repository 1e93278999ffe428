"""A world with a whole 包联 chain: a town of four officers and four villages, four city liaisons
in departments, everyone bound to WeChat. `tests.support.factories.make_town` stays the small one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from models import Region, Staff
from models.enums import RegionLevel, StaffRole
from services import responsibility_admin as admin
from tests.support.factories import make_region, make_staff


@dataclass
class ChainTown:
    """City > town > four villages (codes in list order); officers T0001-T0004 and liaisons
    C0001-C0004 (工号 in list order); one assistant per village."""

    city: Region
    town: Region
    villages: list[Region]
    assistants: list[Staff]
    officers: list[Staff]
    liaisons: list[Staff]
    admin: Staff


def make_chain_town(session, now: datetime, *, prefix: str = "") -> ChainTown:
    """The world, committed. Nothing of the chain is named yet: every village and department has
    its default; tests name what they need."""
    city = make_region(session, RegionLevel.CITY, None, now, name="联城市", code=f"{prefix}C100")
    town = make_region(session, RegionLevel.TOWN, city, now, name="桥头镇", code=f"{prefix}C100T1")
    villages = [
        make_region(session, RegionLevel.VILLAGE, town, now, name=name, code=f"{prefix}C100T1V{i}")
        for i, name in enumerate(("一村", "二村", "三村", "四村"), start=1)
    ]
    world = ChainTown(
        city=city, town=town, villages=villages,
        assistants=[make_staff(session, StaffRole.ASSISTANT, v, now, openid=f"{prefix}o-a{i}", name=f"协理员{i}")
                    for i, v in enumerate(villages, start=1)],
        officers=[make_staff(session, StaffRole.TOWN_OFFICER, town, now, openid=f"{prefix}o-t{i}", name=f"助理员{i}",
                             staff_no=f"{prefix}T{i:04d}") for i in range(1, 5)],
        liaisons=[make_staff(session, StaffRole.CITY_SUPERVISOR, city, now, openid=f"{prefix}o-c{i}", name=f"联络员{i}",
                             staff_no=f"{prefix}C{i:04d}") for i in range(1, 5)],
        admin=make_staff(session, StaffRole.ADMIN, city, now, openid=f"{prefix}o-admin", staff_no=f"{prefix}S0001"),
    )
    session.commit()
    return world


def name_chain(session, world: ChainTown, now: datetime) -> None:
    """Name the chain the tests of escalation use: the first village's officers (T0002, deputy
    T0003), the health commission's liaisons (C0001, deputy C0002) and civil affairs' (C0003, deputy
    C0004); the other villages and departments keep their defaults."""
    admin.set_village_officers(session, world.villages[0], world.officers[1], world.officers[2], now)
    departments = {d.code: d for d in admin.ensure_departments(session, world.city, now)}
    admin.set_department_liaisons(session, departments["health"], world.liaisons[0], world.liaisons[1], now)
    admin.set_department_liaisons(session, departments["civil_affairs"], world.liaisons[2], world.liaisons[3], now)
    session.commit()
