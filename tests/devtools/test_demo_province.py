"""The province demo: a generated city copied inside PostgreSQL under a province (tiny cities here).

The full-size province (30 cities, 3.3 million beneficiaries) is not loaded here;
`bench/seed_province.py` times it. On the embedded SQLite database the province is refused.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text
from sqlalchemy.orm import aliased

from cli import main
from devtools import demo_city, demo_province
from devtools.demo_province_copy import REMADE
from models import (
    Assignment,
    Base,
    Beneficiary,
    Region,
    RequestEvent,
    ServiceRequest,
    Staff,
    Visit,
    WeChatUser,
    WeeklyRequestFigures,
)
from models.db import make_engine, make_session_factory
from models.enums import RegionLevel, StaffRole
from models.migrate import upgrade
from services import roster, weekly_figures
from services.pii import PiiCipher
from services.policy import id_number
from tests.conftest import using_postgres

PII = PiiCipher("k" * 40)
TZ = ZoneInfo("Asia/Shanghai")
TINY = demo_city.CityShape(
    towns=2, villages=5, communities=1, assistants=20, town_officers=9, supervisors=3, admins=1,
    beneficiaries=300, requests=120,
)
postgres_only = pytest.mark.skipif(not using_postgres(), reason="the province demo needs PostgreSQL")


@pytest.fixture
def province(session, clock):
    """Two tiny cities under a province, committed; returns the summary and the phases reported."""
    reported = []
    summary = demo_province.seed_province(session, PII, clock(), tz=TZ, seed=11, cities=2, shape=TINY,
                                          progress=lambda phase, rows: reported.append(phase))
    session.commit()
    return summary, reported


def counts(session) -> dict[str, int]:
    """Rows per table of the models."""
    return {t.name: session.scalar(text(f"SELECT count(*) FROM {t.name}"))  # nosec B608  # the models' names
            for t in Base.metadata.sorted_tables}


def city_of(region: type[Region]):
    """A column expression: the city id above a village-level `region` (village -> town -> city)."""
    town = aliased(Region)
    return select(town.parent_id).where(town.id == region.parent_id).scalar_subquery()


@postgres_only
def test_every_table_doubles(session, province, databases, clock):
    """Each table holds twice the one city's rows (one province and its administrator more); the
    trends' whole-deployment rows count both cities."""
    url = databases.new()
    upgrade(url)
    engine = make_engine(url)
    with make_session_factory(engine)() as alone:
        demo_city.seed_city(alone, PII, clock(), tz=TZ, seed=11, shape=TINY)
        alone.commit()
        one = counts(alone)
        city_weeks = dict(alone.execute(select(WeeklyRequestFigures.week, WeeklyRequestFigures.raised)
                                        .where(WeeklyRequestFigures.level == weekly_figures.CITY,
                                               WeeklyRequestFigures.key.is_(None))).all())
    engine.dispose()
    two = counts(session)
    assert one["beneficiaries"] == TINY.beneficiaries and one["visits"] > 0 and one["checkins"] > 0
    for table, rows in one.items():
        extra = {"regions": 1, "staff": 1}.get(table, 0)
        if table == "weekly_request_figures":
            assert two[table] == 2 * rows - len(city_weeks)
        else:
            assert two[table] == 2 * rows + extra, table
    scaled = dict(session.execute(select(WeeklyRequestFigures.week, WeeklyRequestFigures.raised)
                                  .where(WeeklyRequestFigures.level == weekly_figures.CITY,
                                               WeeklyRequestFigures.key.is_(None))).all())
    assert scaled == {week: 2 * raised for week, raised in city_weeks.items()}
    summary, reported = province
    assert (summary.cities, summary.beneficiaries) == (2, 2 * TINY.beneficiaries)
    assert "city 2/2 示范二市" in reported and reported[-1] == "indexes and statistics"


@postgres_only
def test_codes_names_and_staff_numbers_are_unique_under_the_province(session, province):
    """A province on top with its administrator; each city has its own 6-digit code and name, its
    towns' and villages' codes start with it, and every code, name of a city and 工号 is unique."""
    top = session.scalars(select(Region).where(Region.parent_id.is_(None))).one()
    assert (top.level, top.code, top.name) == (RegionLevel.PROVINCE.value, "990000", "示范省")
    cities = session.scalars(select(Region).where(Region.level == RegionLevel.CITY.value).order_by(Region.code)).all()
    assert [(c.code, c.name, c.parent_id) for c in cities] == [("990100", "示范市", top.id),
                                                                 ("990200", "示范二市", top.id)]
    codes = session.scalars(select(Region.code)).all()
    assert len(codes) == len(set(codes)) == 2 * (1 + TINY.towns + TINY.village_units) + 1
    parent = aliased(Region)
    for code, parent_code, level in session.execute(
        select(Region.code, parent.code, Region.level).join(parent, parent.id == Region.parent_id)
        .where(Region.level.in_([RegionLevel.TOWN.value, RegionLevel.VILLAGE.value]))
    ):
        assert code.startswith(parent_code) and len(code) == len(parent_code) + 3, (code, level)
    # Places in the copy are named differently (the first syllable changes), kept unique within it.
    names = {c.id: set(session.scalars(select(Region.name).where(city_of(Region) == c.id))) for c in cities}
    assert len(names[cities[1].id]) == TINY.village_units and names[cities[0].id] != names[cities[1].id]
    numbers = session.scalars(select(Staff.staff_no)).all()
    assert len(numbers) == len(set(numbers)) and "A0001" in numbers and "A0001-02" in numbers
    admin = session.scalars(select(Staff).where(Staff.role == StaffRole.PROVINCE_ADMIN.value)).one()
    assert (admin.staff_no, admin.region_id) == (demo_province.PROVINCE_ADMIN_NO, top.id)
    openids = session.scalars(select(WeChatUser.openid)).all()
    assert len(openids) == len(set(openids))


@postgres_only
def test_every_id_number_decrypts_to_a_valid_distinct_number_of_its_city(session, province):
    """Each copy's ID numbers decrypt, are valid, differ from all others, carry their city's area
    code and match their lookup hash; bind codes are unique and well formed."""
    regions = {r.id: r for r in session.scalars(select(Region))}
    rows = session.execute(select(Beneficiary.id_number_encrypted, Beneficiary.id_number_hash, Beneficiary.bind_code,
                                  Beneficiary.village_id)).all()
    assert len(rows) == 2 * TINY.beneficiaries
    numbers = [PII.decrypt(r.id_number_encrypted) for r in rows]
    assert all(id_number.is_valid(n) for n in numbers)
    assert len(set(numbers)) == len(numbers)
    assert [PII.lookup_hash(n) for n in numbers] == [r.id_number_hash for r in rows]
    for number, row in zip(numbers, rows, strict=True):
        city = regions[regions[row.village_id].parent_id].parent_id
        assert number[:6] == regions[city].code
    codes = [r.bind_code for r in rows]
    assert len(set(codes)) == len(codes)
    assert all(len(c) == roster.BIND_CODE_LENGTH and set(c) <= set(roster.BIND_CODE_ALPHABET) for c in codes)


@postgres_only
def test_copies_point_only_into_their_own_city(session, province):
    """No key points nowhere; each case, visit and assignment stays within its person's city, and
    ids inside a case's events follow their rows."""
    for table in Base.metadata.sorted_tables:
        for key in table.foreign_key_constraints:
            (column,), (target,) = key.column_keys, [e.column for e in key.elements]
            orphans = session.scalar(text(
                f"SELECT count(*) FROM {table.name} AS t WHERE t.{column} IS NOT NULL AND NOT EXISTS "  # nosec B608
                f"(SELECT FROM {target.table.name} AS r WHERE r.{target.name} = t.{column})"))
            assert orphans == 0, (table.name, column)
    village, staff_region = aliased(Region), aliased(Region)
    mixed = session.scalar(
        select(func.count()).select_from(Assignment)
        .join(Beneficiary, Beneficiary.id == Assignment.beneficiary_id).join(Staff, Staff.id == Assignment.staff_id)
        .where(Staff.region_id != Beneficiary.village_id)
    )
    assert mixed == 0
    request_city = session.execute(
        select(ServiceRequest.id, city_of(village), ServiceRequest.town_id, Visit.beneficiary_id,
               ServiceRequest.beneficiary_id)
        .join(village, village.id == ServiceRequest.village_id)
        .outerjoin(Visit, Visit.id == ServiceRequest.visit_id)
    ).all()
    towns = dict(session.execute(select(staff_region.id, staff_region.parent_id)
                                 .where(staff_region.level == RegionLevel.TOWN.value)).all())
    assert all(towns[town] == city for _, city, town, _, _ in request_city)
    assert all(seen in (None, person) for _, _, _, seen, person in request_city)
    visit_events = session.execute(
        select(RequestEvent.data["visit_id"].as_integer(), ServiceRequest.visit_id)
        .join(ServiceRequest, ServiceRequest.id == RequestEvent.request_id)
        .where(RequestEvent.data["visit_id"].as_integer().is_not(None))
    ).all()
    assert visit_events and all(event == request for event, request in visit_events)


@postgres_only
def test_new_rows_take_fresh_ids_after_the_copies(session, province, clock):
    """The sequences are past every copied id: new regions, staff, people and cases insert cleanly."""
    now = clock()
    town = session.scalars(select(Region).where(Region.code == "990200001")).one()
    village = Region(code="990200001999", name="新村", level=RegionLevel.VILLAGE.value, is_community=False,
                     parent_id=town.id, created_at=now)
    session.add(village)
    session.flush()
    staff = Staff(staff_no="A9999-02", name="新人", phone="13800000000", role=StaffRole.ASSISTANT.value,
                  region_id=village.id, active=True, created_at=now, updated_at=now)
    person = Beneficiary(name="新对象", village_id=village.id, created_at=now, updated_at=now)
    session.add_all([staff, person])
    session.flush()
    session.add(Assignment(beneficiary_id=person.id, staff_id=staff.id, started_at=now))
    session.add(ServiceRequest(beneficiary_id=person.id, village_id=village.id, town_id=town.id, source="office",
                               category="其他", urgency="normal", status="open", summary="新的求助",
                               escalation_level=0, created_at=now, updated_at=now))
    session.commit()
    assert person.id == session.scalar(select(func.max(Beneficiary.id))) > 2 * TINY.beneficiaries


def test_names_and_codes_of_the_cities():
    """City n is named 示范…市 in Chinese numerals, with area code 99nn00."""
    assert [demo_province.city_name(n) for n in (1, 2, 10, 11, 20, 30, 99)] == [
        "示范市", "示范二市", "示范十市", "示范十一市", "示范二十市", "示范三十市", "示范九十九市"]
    assert [demo_province.city_code(n) for n in (1, 2, 30)] == ["990100", "990200", "993000"]
    assert REMADE == {"departments", "duty_shifts", "audit_log"}


@pytest.mark.skipif(using_postgres(), reason="the refusal is the embedded database's")
def test_the_embedded_database_refuses_a_province(session, clock):
    """On SQLite the province is refused before anything is written."""
    with pytest.raises(demo_province.NeedsPostgres):
        demo_province.seed_province(session, PII, clock(), tz=TZ, cities=2, shape=TINY)
    assert session.scalar(select(func.count()).select_from(Region)) == 0


def test_cli_province_on_sqlite_says_it_needs_postgres(tmp_path):
    """`seed demo --scale province` on the embedded database stops with a clear message and writes nothing."""
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    result = runner.invoke(main, ["seed", "demo", "--scale", "province"], env=env)
    assert result.exit_code != 0
    assert "needs PostgreSQL" in result.output and "SQLite" in result.output
    engine = make_engine(env["DATABASE_URL"])
    with make_session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(Region)) == 0
    engine.dispose()


@postgres_only
def test_bind_codes_of_a_whole_province_differ(session):
    """The bind code scheme gives 3.4 million ids (a full province and more) as many distinct codes."""
    from devtools.demo_province_copy import bind_code_sql

    distinct = session.scalar(text(
        f"SELECT count(DISTINCT {bind_code_sql('i')}) FROM generate_series(1, 3400000) AS i"))  # nosec B608
    assert distinct == 3_400_000


@postgres_only
def test_demo_openids_keep_every_digit_of_a_large_id(session):
    """The demo's openids are six digits or more, as the city generator writes them: never cut."""
    from devtools.demo_province_copy import demo_openid_sql

    assert session.scalar(text(f"SELECT {demo_openid_sql('123')}")) == "demo-family-000123"  # nosec B608
    assert session.scalar(text(f"SELECT {demo_openid_sql('2400001')}")) == "demo-family-2400001"  # nosec B608
