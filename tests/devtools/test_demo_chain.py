"""The demos carry the 包联 chain: the village split, departments with two liaisons each, and a
week of duty rota that covers every night and the weekend from the demo's start date."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from config import policy
from devtools import demo, demo_city
from models import Department, Region, Staff, VillageOfficers
from models.enums import RegionLevel, StaffRole
from services import responsibility
from services.pii import PiiCipher
from services.policy import chain

PII = PiiCipher("k" * 40)
TZ = ZoneInfo("Asia/Shanghai")
TINY = demo_city.CityShape(
    towns=2, villages=5, communities=1, assistants=20, town_officers=9, supervisors=3, admins=1,
    beneficiaries=300, requests=120,
)


def check_chain(session, now) -> None:
    """Every village named with two different officers of its own town; every department with two
    different supervisors of the city; someone on duty at every moment outside office hours for a
    week, and nobody in office hours."""
    villages = session.scalars(select(Region).where(Region.level == RegionLevel.VILLAGE.value)).all()
    rows = {row.village_id: row for row in session.scalars(select(VillageOfficers))}
    assert set(rows) == {v.id for v in villages}
    for village in villages:
        row = rows[village.id]
        responsible, deputy = session.get(Staff, row.responsible_staff_id), session.get(Staff, row.deputy_staff_id)
        assert responsible.id != deputy.id
        assert {responsible.region_id, deputy.region_id} == {village.parent_id}
        assert {responsible.role, deputy.role} == {StaffRole.TOWN_OFFICER.value}
    city = session.scalars(select(Region).where(Region.level == RegionLevel.CITY.value)).one()
    departments = session.scalars(select(Department)).all()
    assert len(departments) == 18 and len({d.name for d in departments}) == 18
    for department in departments:
        liaisons = [session.get(Staff, department.responsible_staff_id), session.get(Staff, department.deputy_staff_id)]
        assert liaisons[0].id != liaisons[1].id
        assert all(s.role == StaffRole.CITY_SUPERVISOR.value and s.region_id == city.id for s in liaisons)
    moment = now
    while moment < now + timedelta(days=7):
        office = chain.in_office_hours(moment, TZ, policy.OFFICE_HOURS, policy.OFFICE_DAYS)
        on_duty = responsibility.on_duty(session, city.id, moment)
        assert (on_duty is None) == office, moment
        moment += timedelta(minutes=30)


def test_the_small_demo_has_four_officers_and_the_whole_chain(session, clock):
    """Four town officers dividing three villages, two liaisons for the departments, a week of duty;
    the people of the demo before the chain are the same as ever (the 工号 the README names)."""
    demo.seed_small(session, PII, clock(), seed=7)
    session.commit()
    officers = session.scalars(select(Staff.staff_no).where(Staff.role == StaffRole.TOWN_OFFICER.value)
                               .order_by(Staff.staff_no)).all()
    assert len(officers) == 4 and officers[0] == "T0003"
    assert session.scalars(select(Staff.role).where(Staff.staff_no.in_(["S0001", "S0002", "A0005"]))
                           .order_by(Staff.staff_no)).all() == ["assistant", "admin", "city_supervisor"]
    check_chain(session, clock())
    # Two liaisons share the eighteen departments evenly.
    load = Counter(d.responsible_staff_id for d in session.scalars(select(Department)))
    assert sorted(load.values()) == [9, 9]


def test_the_city_demo_has_the_whole_chain(session, clock):
    """The generated city: every village split among its town's officers, the departments' liaisons
    spread over the city's supervisors, a week of duty."""
    demo_city.seed_city(session, PII, clock(), tz=TZ, seed=11, shape=TINY)
    session.commit()
    check_chain(session, clock())
