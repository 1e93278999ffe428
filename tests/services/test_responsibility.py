"""The 包联 chain in the database: defaults spread evenly, names win, lookups read each town and
city once, and the setters refuse the wrong people."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select

from models import AuditEntry, Department, DutyShift, VillageOfficers
from models.enums import RegionLevel, StaffRole
from services import responsibility
from services import responsibility_admin as admin
from services.errors import DomainError
from tests.support.chain import make_chain_town
from tests.support.factories import make_region, make_staff

TZ = ZoneInfo("Asia/Shanghai")


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """A Shanghai time in December 2026 (the 1st is a Tuesday)."""
    return datetime(2026, 12, day, hour, minute, tzinfo=TZ)


@pytest.fixture
def world(session, clock):
    """The town of four officers and four villages, the four liaisons."""
    return make_chain_town(session, clock())


def responsible_by_village(session, town_id) -> dict[int, int]:
    """Village id -> the responsible officer's id, read afresh."""
    return {v: o.responsible.id for v, o in responsibility.town_officers(session, town_id).items()}


def test_default_spread_is_even_deterministic_and_stable_when_an_officer_joins(session, clock, world):
    """Ten villages and four officers: 2 or 3 each, the same on every read; a fifth officer (the
    next 工号) takes two villages and no other village changes hands."""
    now = clock()
    for i in range(5, 11):
        world.villages.append(make_region(session, RegionLevel.VILLAGE, world.town, now, code=f"C100T1V{i:02d}"))
    session.commit()
    before = responsible_by_village(session, world.town.id)
    assert set(before) == {v.id for v in world.villages}
    assert sorted(Counter(before.values()).values()) == [2, 2, 3, 3]
    assert responsible_by_village(session, world.town.id) == before
    # Every default deputy is another officer of the town.
    for officers in responsibility.town_officers(session, world.town.id).values():
        assert officers.deputy is not None and officers.deputy.id != officers.responsible.id
        assert officers.deputy.region_id == world.town.id

    newcomer = make_staff(session, StaffRole.TOWN_OFFICER, world.town, now, staff_no="T0005")
    session.commit()
    after = responsible_by_village(session, world.town.id)
    moved = {v for v in before if after[v] != before[v]}
    assert len(moved) == 2 and {after[v] for v in moved} == {newcomer.id}
    assert sorted(Counter(after.values()).values()) == [2, 2, 2, 2, 2]


def test_a_named_officer_wins_and_one_who_leaves_falls_back_to_the_default(session, clock, world):
    """Naming one village's officers leaves the others as they were; when the named officer is no
    longer active, the village has its default again."""
    now = clock()
    default = responsible_by_village(session, world.town.id)
    village = world.villages[0]
    named = next(o for o in world.officers if o.id != default[village.id])
    admin.set_village_officers(session, village, named, None, now)
    session.commit()
    officers = responsibility.village_officers(session, village.id)
    assert officers.responsible.id == named.id
    assert officers.deputy is not None and officers.deputy.id != named.id
    assert {v: o for v, o in responsible_by_village(session, world.town.id).items() if v != village.id} == {
        v: o for v, o in default.items() if v != village.id}
    session.get(type(named), named.id).active = False
    session.commit()
    assert responsibility.village_officers(session, village.id).responsible.id != named.id


def test_departments_have_defaults_before_any_row_exists_and_categories_find_theirs(session, clock, world):
    """A city nobody set up has the policy's eighteen departments, liaisons spread among its four
    supervisors; 医 goes to health, 住 to housing, 其他 to civil affairs; a named pair wins."""
    departments = responsibility.city_departments(session, world.city.id)
    assert len(departments) == 18
    load = Counter(p.id for d in departments for p in (d.responsible, d.deputy))
    assert sorted(load.values()) == [9, 9, 9, 9]
    assert responsibility.category_liaisons(session, world.city.id, "医").code == "health"
    assert responsibility.category_liaisons(session, world.city.id, "住").name == "市住建局"
    assert responsibility.category_liaisons(session, world.city.id, "其他").code == "civil_affairs"
    rows = {d.code: d for d in admin.ensure_departments(session, world.city, clock())}
    assert len(rows) == 18
    admin.set_department_liaisons(session, rows["health"], world.liaisons[3], world.liaisons[2], clock())
    session.commit()
    health = responsibility.category_liaisons(session, world.city.id, "医")
    assert (health.responsible.id, health.deputy.id) == (world.liaisons[3].id, world.liaisons[2].id)
    # Renaming keeps the code the categories point at.
    admin.rename_department(session, rows["health"], "市卫生健康委员会", clock())
    session.commit()
    assert responsibility.category_liaisons(session, world.city.id, "医").name == "市卫生健康委员会"


def test_the_rota_by_day_by_night_and_across_midnight(session, clock, world):
    """A night shift from Tuesday 17:30 to Wednesday 08:30 covers both sides of midnight; a
    Saturday day shift covers the day; between them, nobody; an inactive supervisor is not on duty."""
    night = admin.add_duty_shift(session, world.liaisons[0], local(1, 17, 30), local(2, 8, 30), clock())
    admin.add_duty_shift(session, world.liaisons[1], local(5, 8, 30), local(5, 17, 30), clock())
    session.commit()

    def who(moment):
        staff = responsibility.on_duty(session, world.city.id, moment)
        return staff.id if staff else None

    assert who(local(1, 23, 59)) == who(local(2, 0, 30)) == world.liaisons[0].id
    assert who(local(2, 8, 30)) is None
    assert who(local(5, 12)) == world.liaisons[1].id
    session.get(type(world.liaisons[0]), world.liaisons[0].id).active = False
    session.commit()
    assert who(local(2, 1)) is None
    admin.remove_duty_shift(session, session.get(DutyShift, night.id), clock())
    session.commit()
    assert session.get(DutyShift, night.id) is None


def test_fill_rota_covers_a_week_round_robin(session, clock, world):
    """A week from Tuesday 1 December: every night and the weekend days, dealt round the four."""
    shifts = admin.fill_rota(session, world.city, date(2026, 12, 1), TZ, clock())
    session.commit()
    assert [s.staff_id for s in shifts[:5]] == [*(liaison.id for liaison in world.liaisons), world.liaisons[0].id]
    assert responsibility.on_duty(session, world.city.id, local(5, 12)) is not None  # Saturday noon
    assert responsibility.on_duty(session, world.city.id, local(3, 3)) is not None  # Thursday night
    assert responsibility.on_duty(session, world.city.id, local(3, 10)) is None  # Thursday morning, office


def test_lookups_read_each_town_and_city_once_per_cache(session, clock, world):
    """Many villages and categories with one cache: a handful of statements, not one per lookup."""
    statements = []

    def count(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    bind = session.get_bind()
    event.listen(bind, "before_cursor_execute", count)
    try:
        cache: dict = {}
        for village in world.villages * 5:
            responsibility.village_officers(session, village.id, town_id=world.town.id, cache=cache)
        for category in ("医", "住", "吃", "其他") * 5:
            responsibility.category_liaisons(session, world.city.id, category, cache=cache)
        for _ in range(5):
            responsibility.on_duty(session, world.city.id, local(1, 23), cache=cache)
    finally:
        event.remove(bind, "before_cursor_execute", count)
    # The town's officers and villages, the city's supervisors and departments, the rota.
    assert len(statements) == 5, statements


# --- the setters' checks --------------------------------------------------------------------------


@pytest.fixture
def elsewhere(session, clock, world):
    """Another town of the same city, and another city, each with an officer or a supervisor."""
    now = clock()
    other_town = make_region(session, RegionLevel.TOWN, world.city, now, name="河口镇")
    other_city = make_region(session, RegionLevel.CITY, None, now, name="邻市")
    people = {
        "officer_elsewhere": make_staff(session, StaffRole.TOWN_OFFICER, other_town, now, name="外镇助理员"),
        "supervisor_elsewhere": make_staff(session, StaffRole.CITY_SUPERVISOR, other_city, now, name="外市联络员"),
        "other_town": other_town,
        "other_city": other_city,
    }
    session.commit()
    return people


def test_village_officers_must_be_active_officers_of_that_town(session, clock, world, elsewhere):
    """An officer of another town, an assistant, an inactive officer, the same person twice, a
    town instead of a village, and a town officer editing another town are all refused."""
    now, village = clock(), world.villages[0]
    with pytest.raises(DomainError, match="不是桥头镇在岗的乡镇民政助理员"):
        admin.set_village_officers(session, village, elsewhere["officer_elsewhere"], None, now)
    with pytest.raises(DomainError, match="不是桥头镇在岗"):
        admin.set_village_officers(session, village, world.officers[0], world.assistants[0], now)
    with pytest.raises(DomainError, match="不能是同一人"):
        admin.set_village_officers(session, village, world.officers[0], world.officers[0], now)
    with pytest.raises(DomainError, match="只能为村或社区"):
        admin.set_village_officers(session, world.town, world.officers[0], None, now)
    with pytest.raises(DomainError, match="没有权限"):
        admin.set_village_officers(session, village, world.officers[0], None, now, by=elsewhere["officer_elsewhere"])
    world.officers[3].active = False
    with pytest.raises(DomainError, match="不是桥头镇在岗"):
        admin.set_village_officers(session, village, world.officers[3], None, now)
    session.rollback()
    assert session.scalar(select(VillageOfficers).where(VillageOfficers.village_id == village.id)) is None
    # The town's own officer may name them; the change is audited.
    row = admin.set_village_officers(session, village, world.officers[0], world.officers[1], now, by=world.officers[0])
    session.commit()
    assert (row.responsible_staff_id, row.deputy_staff_id) == (world.officers[0].id, world.officers[1].id)
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "chain.village")).one()
    assert (entry.actor_staff_id, entry.target_id) == (world.officers[0].id, village.id)


def test_departments_and_liaisons_are_checked(session, clock, world, elsewhere):
    """Codes are unique within a city and plain; liaisons are active city supervisors of that city."""
    now = clock()
    department = admin.create_department(session, world.city, "health", "市卫健委", now)
    with pytest.raises(DomainError, match="已存在"):
        admin.create_department(session, world.city, "health", "另一个", now)
    admin.create_department(session, elsewhere["other_city"], "health", "邻市卫健委", now)  # another city may
    for bad in ("", "卫健", "Health", "x" * 33):
        with pytest.raises(DomainError, match="部门编码"):
            admin.create_department(session, world.city, bad, "名称", now)
    with pytest.raises(DomainError, match="部门名称"):
        admin.create_department(session, world.city, "water", "  ", now)
    with pytest.raises(DomainError, match="市级"):
        admin.create_department(session, world.town, "water", "水利局", now)
    with pytest.raises(DomainError, match="不是本市在岗的市级民政联络员"):
        admin.set_department_liaisons(session, department, elsewhere["supervisor_elsewhere"], None, now)
    with pytest.raises(DomainError, match="不是本市在岗的市级民政联络员"):
        admin.set_department_liaisons(session, department, world.officers[0], None, now)
    with pytest.raises(DomainError, match="不能是同一人"):
        admin.set_department_liaisons(session, department, world.liaisons[0], world.liaisons[0], now)
    with pytest.raises(DomainError, match="没有权限"):
        admin.set_department_liaisons(session, department, world.liaisons[0], None, now, by=world.officers[0])
    admin.set_department_liaisons(session, department, world.liaisons[0], world.liaisons[1], now, by=world.admin)
    session.commit()
    stored = session.get(Department, department.id)
    assert (stored.responsible_staff_id, stored.deputy_staff_id) == (world.liaisons[0].id, world.liaisons[1].id)


def test_duty_shifts_are_checked(session, clock, world, elsewhere):
    """Only the city's active supervisors; aware times; an end after the start; at most 72 hours;
    no two shifts of one person overlapping (two people may overlap at a handover)."""
    now = clock()
    liaison = world.liaisons[0]
    with pytest.raises(DomainError, match="不是本市在岗的市级民政联络员"):
        admin.add_duty_shift(session, world.officers[0], local(1, 17, 30), local(2, 8, 30), now)
    with pytest.raises(DomainError, match="结束时间应晚于"):
        admin.add_duty_shift(session, liaison, local(2, 8, 30), local(1, 17, 30), now)
    with pytest.raises(DomainError, match="不能超过72小时"):
        admin.add_duty_shift(session, liaison, local(4, 17, 30), local(4, 17, 30) + timedelta(hours=73), now)
    with pytest.raises(DomainError, match="带时区"):
        admin.add_duty_shift(session, liaison, datetime(2026, 12, 1, 17), datetime(2026, 12, 2, 8), now)
    with pytest.raises(DomainError, match="没有权限"):
        admin.add_duty_shift(session, liaison, local(1, 17, 30), local(2, 8, 30), now,
                             by=elsewhere["supervisor_elsewhere"])
    admin.add_duty_shift(session, liaison, local(1, 17, 30), local(2, 8, 30), now)
    with pytest.raises(DomainError, match="已有值班"):
        admin.add_duty_shift(session, liaison, local(2, 8), local(2, 12), now)
    admin.add_duty_shift(session, world.liaisons[1], local(2, 8), local(2, 12), now)  # a handover overlap
    admin.add_duty_shift(session, liaison, local(2, 8, 30), local(2, 12), now)  # back to back is fine
    session.commit()
    assert len(session.scalars(select(DutyShift)).all()) == 3
