"""Exports of cases and visits: the office's headers, local times, scope filters, audit entries."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy import select

from cli import main
from models import AuditEntry, Beneficiary, ServiceRequest, Visit
from models.db import make_engine, make_session_factory
from models.enums import RegionLevel, StaffRole
from services import exports
from services.errors import DomainError
from tests.cli.test_cli import cli_env
from tests.support.factories import make_beneficiary, make_region, make_staff, make_town

TZ = ZoneInfo("Asia/Shanghai")
CASE_HEADERS = ["编号", "对象", "村（社区）", "乡镇", "类别", "紧急", "状态", "负责人", "提交时间", "接单时间",
                "办结时间", "评分", "督办级别"]
VISIT_HEADERS = ["日期", "对象", "村（社区）", "协理员", "吃", "穿", "住", "医", "四帮", "备注"]


def utc(*args) -> datetime:
    """A UTC instant."""
    return datetime(*args, tzinfo=timezone.utc)


def add_case(session, person, *, at: datetime, assignee=None, **fields) -> ServiceRequest:
    """A case for `person` raised at `at`, where they live."""
    case = ServiceRequest(
        beneficiary_id=person.id, village_id=person.village_id, town_id=person.village.parent_id,
        category=fields.pop("category", "医"), urgency=fields.pop("urgency", "normal"),
        status=fields.pop("status", "open"), summary="", source="wechat",
        assignee_staff_id=assignee.id if assignee else None, escalation_level=fields.pop("escalation_level", 0),
        created_at=at, updated_at=at, **fields,
    )
    session.add(case)
    session.flush()
    return case


def add_visit(session, person, staff, *, at: datetime, **fields) -> Visit:
    """A visit to `person` by `staff` at `at`; checks fine unless given."""
    visit = Visit(beneficiary_id=person.id, staff_id=staff.id, visited_at=at, created_at=at, **fields)
    session.add(visit)
    session.flush()
    return visit


def rows_of(content: bytes) -> list[list]:
    """The first sheet's rows as values."""
    sheet = load_workbook(io.BytesIO(content)).worksheets[0]
    return [list(row) for row in sheet.iter_rows(values_only=True)]


@pytest.fixture
def world(session, clock):
    """Two towns; cases and visits in both, at times that test the local-day boundaries."""
    now = clock()
    town = make_town(session, now)
    second_town = make_region(session, RegionLevel.TOWN, town.city, now, name="新堤街道")
    far_village = make_region(session, RegionLevel.VILLAGE, second_town, now, name="江滩社区")
    far_assistant = make_staff(session, StaffRole.ASSISTANT, far_village, now, name="钱峰")
    liu = make_beneficiary(session, town.village, now, assistant=town.assistant, name="刘大爷")
    chen = make_beneficiary(session, town.other_village, now, assistant=town.other_assistant, name="陈奶奶")
    he = make_beneficiary(session, far_village, now, assistant=far_assistant, name="何婆婆")

    # 2026-11-30 23:30 in Shanghai (15:30 UTC): counts for the 30th, not the 1st.
    done = add_case(session, liu, at=utc(2026, 11, 30, 15, 30), assignee=town.assistant, status="closed",
                    urgency="urgent", acknowledged_at=utc(2026, 11, 30, 15, 40),
                    resolved_at=utc(2026, 12, 1, 2, 0), closed_at=utc(2026, 12, 1, 3, 0), rating=5,
                    escalation_level=1)
    waiting = add_case(session, chen, at=utc(2026, 12, 1, 1, 0), category="住")
    far = add_case(session, he, at=utc(2026, 12, 1, 2, 0), assignee=far_assistant, status="acknowledged",
                   acknowledged_at=utc(2026, 12, 1, 2, 30))

    add_visit(session, liu, town.assistant, at=utc(2026, 11, 30, 16, 30), housing="problem",
              housing_note="屋顶漏雨", medical="problem", helped_shopping=True, helped_policy=True, notes="已报乡镇")
    add_visit(session, chen, town.other_assistant, at=utc(2026, 11, 20, 2, 0))
    add_visit(session, he, far_assistant, at=utc(2026, 11, 25, 2, 0), helped_daily_care=True)
    session.commit()
    return town, second_town, far_village, far_assistant, (done, waiting, far)


def test_cases_export_has_the_office_columns_in_local_time(session, clock, world):
    """Every case, Chinese headers and labels, times in Shanghai, an audit entry with the count."""
    town, *_, (done, waiting, far) = world
    result = exports.export_cases(session, now=clock(), tz=TZ, actor="test")
    session.commit()
    rows = rows_of(result.content)

    assert rows[0] == CASE_HEADERS
    assert result.rows == 3 and len(rows) == 4
    assert result.filename == "求助_20261201.xlsx"
    first = dict(zip(CASE_HEADERS, rows[1], strict=True))
    assert first == {
        "编号": done.id, "对象": "刘大爷", "村（社区）": "东湾村", "乡镇": "柳河镇", "类别": "医", "紧急": "是",
        "状态": "已办结", "负责人": f"王芳（{town.assistant.staff_no}）",
        "提交时间": datetime(2026, 11, 30, 23, 30), "接单时间": datetime(2026, 11, 30, 23, 40),
        "办结时间": datetime(2026, 12, 1, 10, 0), "评分": 5, "督办级别": "1级",
    }
    second = dict(zip(CASE_HEADERS, rows[2], strict=True))
    assert (second["状态"], second["负责人"], second["接单时间"], second["督办级别"]) == ("待接单", None, None, None)

    audit = session.scalars(select(AuditEntry)).one()
    assert audit.action == "export.cases" and audit.detail["rows"] == 3
    assert audit.detail["filter"] == {"town_id": None, "village_id": None, "assignee_staff_id": None,
                                      "since": None, "until": None}


def test_cases_export_respects_scope_and_local_dates(session, clock, world):
    """Town, village, assignee and inclusive local date bounds each narrow the rows."""
    town, second_town, far_village, far_assistant, (done, waiting, far) = world

    def numbers(**scope) -> list[int]:
        result = exports.export_cases(session, now=clock(), tz=TZ, actor="test", **scope)
        return [row[0] for row in rows_of(result.content)[1:]]

    assert numbers(town_id=town.town.id) == [done.id, waiting.id]
    assert numbers(town_id=second_town.id) == [far.id]
    assert numbers(village_id=town.other_village.id) == [waiting.id]
    assert numbers(assignee_staff_id=far_assistant.id) == [far.id]
    assert numbers(until=date(2026, 11, 30)) == [done.id]
    assert numbers(since=date(2026, 12, 1)) == [waiting.id, far.id]
    assert numbers(since=date(2026, 12, 1), until=date(2026, 12, 1), town_id=town.town.id) == [waiting.id]
    assert numbers(since=date(2026, 12, 2)) == []
    # The dashboard narrows further by the signed-in role's scope, inside the same query.
    assert numbers(narrow=lambda stmt: stmt.where(ServiceRequest.status == "open")) == [waiting.id]

    session.commit()
    audits = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).all()
    assert audits[0].detail["scoped"] is True and audits[0].detail["rows"] == 1
    assert audits[1].detail == {"filter": {"town_id": None, "village_id": None, "assignee_staff_id": None,
                                           "since": "2026-12-02", "until": None}, "scoped": False, "rows": 0}


def test_a_reversed_date_range_is_refused(session, clock, world):
    """since after until is a mistake worth saying, not an empty file."""
    with pytest.raises(DomainError) as caught:
        exports.export_cases(session, now=clock(), tz=TZ, actor="test",
                             since=date(2026, 12, 2), until=date(2026, 12, 1))
    assert "开始日期" in caught.value.message


def test_visits_export_shows_the_four_checks_and_help(session, clock, world):
    """Local date, 好 or the problem noted, the 四帮 given, notes; audited with the staff member as actor."""
    town, *_ = world
    result = exports.export_visits(session, now=clock(), tz=TZ, actor=town.officer.id, ip="10.0.0.7")
    session.commit()
    rows = rows_of(result.content)

    assert rows[0] == VISIT_HEADERS and result.rows == 3
    by_person = {row[1]: dict(zip(VISIT_HEADERS, row, strict=True)) for row in rows[1:]}
    liu = by_person["刘大爷"]
    assert liu["日期"] == datetime(2026, 12, 1)  # 00:30 in Shanghai on the 1st
    assert (liu["吃"], liu["穿"], liu["住"], liu["医"]) == ("好", "好", "屋顶漏雨", "有问题")
    assert liu["四帮"] == "购买日常用品、落实相关政策" and liu["备注"] == "已报乡镇"
    assert liu["协理员"] == f"王芳（{town.assistant.staff_no}）" and liu["村（社区）"] == "东湾村"
    assert by_person["陈奶奶"]["四帮"] is None and by_person["何婆婆"]["四帮"] == "照顾生活"
    assert [row[1] for row in rows[1:]] == ["陈奶奶", "何婆婆", "刘大爷"]  # oldest first

    audit = session.scalars(select(AuditEntry)).one()
    assert (audit.action, audit.actor_kind, audit.actor_staff_id, audit.ip) == (
        "export.visits", "staff", town.officer.id, "10.0.0.7")
    assert audit.detail["rows"] == 3


def test_visits_export_respects_scope(session, clock, world):
    """Town (through the village), village, the visiting staff member and local dates."""
    town, second_town, far_village, far_assistant, _ = world

    def people(**scope) -> list[str]:
        result = exports.export_visits(session, now=clock(), tz=TZ, actor="test", **scope)
        return [row[1] for row in rows_of(result.content)[1:]]

    assert people(town_id=town.town.id) == ["陈奶奶", "刘大爷"]
    assert people(town_id=second_town.id) == ["何婆婆"]
    assert people(village_id=town.village.id) == ["刘大爷"]
    assert people(assignee_staff_id=town.other_assistant.id) == ["陈奶奶"]
    assert people(since=date(2026, 11, 25), until=date(2026, 11, 30)) == ["何婆婆"]
    assert people(since=date(2026, 12, 1)) == ["刘大爷"]


def test_export_streams_many_rows(session, clock, world):
    """More rows than one fetch: all arrive, in order, with progress reported."""
    town, *_ = world
    person = session.scalars(select(Beneficiary).where(Beneficiary.name == "刘大爷")).one()
    start = utc(2026, 10, 1, 2, 0)
    session.add_all(
        Visit(beneficiary_id=person.id, staff_id=town.assistant.id, visited_at=start + timedelta(minutes=n),
              created_at=start)
        for n in range(2500)
    )
    session.commit()
    seen = []
    result = exports.export_visits(session, now=clock(), tz=TZ, actor="test", village_id=town.village.id,
                                   progress=lambda phase, n: seen.append(n))
    assert result.rows == 2501
    assert seen == [1000, 2000]


def test_cli_export_cases_and_visits(tmp_path, clock):
    """`export cases|visits FILE --town CODE --since --until` writes the file and audits it."""
    env = cli_env(tmp_path)
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    engine = make_engine(env["DATABASE_URL"])
    with make_session_factory(engine)() as session:
        town = make_town(session, clock())
        person = make_beneficiary(session, town.village, clock(), assistant=town.assistant, name="刘大爷")
        add_case(session, person, at=utc(2026, 12, 1, 1, 0), assignee=town.assistant)
        add_visit(session, person, town.assistant, at=utc(2026, 12, 1, 1, 0))
        session.commit()
        town_code = town.town.code

    cases = runner.invoke(main, ["export", "cases", str(tmp_path / "cases.xlsx"), "--town", town_code,
                                 "--since", "2026-12-01", "--until", "2026-12-01"], env=env)
    assert cases.exit_code == 0, cases.output
    assert "已导出 1 行" in cases.output
    assert rows_of((tmp_path / "cases.xlsx").read_bytes())[1][1] == "刘大爷"

    visits = runner.invoke(main, ["export", "visits", str(tmp_path / "visits.xlsx"), "--since", "2026-12-02"],
                           env=env)
    assert visits.exit_code == 0 and "已导出 0 行" in visits.output
    assert rows_of((tmp_path / "visits.xlsx").read_bytes()) == [VISIT_HEADERS]

    unknown = runner.invoke(main, ["export", "cases", str(tmp_path / "x.xlsx"), "--town", "nope"], env=env)
    assert unknown.exit_code == 2 and "--town" in unknown.output
    reversed_range = runner.invoke(main, ["export", "visits", str(tmp_path / "x.xlsx"), "--since", "2026-12-02",
                                          "--until", "2026-12-01"], env=env)
    assert reversed_range.exit_code == 1 and "开始日期" in reversed_range.output

    with make_session_factory(engine)() as session:
        audits = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        assert [(a.action, a.actor_label, a.detail["rows"]) for a in audits] == [
            ("export.cases", "cli", 1), ("export.visits", "cli", 0)]
        assert audits[0].detail["filter"]["town_id"] == town.town.id
    engine.dispose()
