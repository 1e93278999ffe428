"""Spreadsheet imports of the 包联 chain: the duty rota, the village split and the departments'
liaisons. Times as offices write them, every row checked with its row number, all or nothing,
re-imports that change nothing, templates that round-trip, and the CLI."""

from __future__ import annotations

import io
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from openpyxl.utils.datetime import to_excel
from sqlalchemy import func, select

from cli import main
from models import AuditEntry, Department, DutyShift, VillageOfficers
from models.db import make_engine, make_session_factory
from services import imports
from services import responsibility_admin as chain_admin
from tests.cli.test_cli import cli_env
from tests.services.test_imports import write_csv, write_xlsx
from tests.support.chain import make_chain_town
from tests.support.factories import fresh

TZ = ZoneInfo("Asia/Shanghai")
DUTY_HEADERS = ["工号", "姓名", "开始时间", "结束时间"]
VILLAGE_HEADERS = ["村（社区）代码", "村（社区）", "责任人工号", "副责任人工号"]
DEPARTMENT_HEADERS = ["部门代码", "部门名称", "负责联络员工号", "副联络员工号"]


def local(text: str) -> datetime:
    """A Shanghai wall-clock time, aware."""
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


@pytest.fixture
def world(session, clock):
    """The chain town: villages C100T1V1-4, officers T0001-T0004, liaisons C0001-C0004, admin S0001."""
    return make_chain_town(session, clock())


def run(kind: str, session, clock, data: bytes, filename: str = "f.xlsx", **kwargs):
    """Import a file as the CLI would (actor "cli"), then commit what it wrote."""
    table = imports.read_table(data, filename)
    options = {"actor": "cli", **({"tz": TZ} if kind == "duty" else {}), **kwargs}
    report = getattr(imports, f"import_{kind}")(session, table, now=clock(), **options)
    if report.applied:
        session.commit()
    else:
        session.rollback()
    return report


def errors(report) -> dict[int, list[str]]:
    """Row number -> messages of the rows at fault."""
    return {r.row: r.messages for r in report.error_rows()}


def shifts(session) -> list[tuple[str, datetime, datetime]]:
    """Every shift on the rota: 工号, start and end in Shanghai time."""
    fresh(session)
    return [(s.staff.staff_no, s.starts_at.astimezone(TZ).replace(tzinfo=None), s.ends_at.astimezone(TZ).replace(
        tzinfo=None)) for s in session.scalars(select(DutyShift).order_by(DutyShift.starts_at))]


# --- times as offices write them ---------------------------------------------------------------------


@pytest.mark.parametrize("raw, expected", [
    ("2026-12-01 17:30", "2026-12-01 17:30"),
    ("2026-12-01T17:30", "2026-12-01 17:30"),
    ("2026/12/1 8:30", "2026-12-01 08:30"),
    ("2026年12月1日 17:30", "2026-12-01 17:30"),
    ("2026-12-01 17:29:59.999000", "2026-12-01 17:30"),  # an Excel time a hair off the minute
    ("2026-12-01", "2026-12-01 00:00"),  # an Excel date-time cell at midnight reads as a date
    (str(to_excel(datetime(2026, 12, 1, 17, 30))), "2026-12-01 17:30"),  # a serial number in a General cell
    ("2026-12-01 17:30+08:00", "2026-12-01 17:30"),
])
def test_local_times_as_offices_write_them(raw, expected):
    """Each spelling is the same local minute, aware."""
    assert imports.parse_local_time(raw, TZ) == local(expected)


@pytest.mark.parametrize("raw", ["明晚", "17:30", "2026-13-01 17:30", "12345", ""])
def test_unreadable_times(raw):
    """What is not a date and time is None, so the row gets a message."""
    assert imports.parse_local_time(raw, TZ) is None


# --- the duty rota ---------------------------------------------------------------------------------


def test_a_good_rota_file_with_excel_and_text_times_imports_once(session, clock, world, tmp_path):
    """Excel date-time cells and typed text both work; every shift is audited; a second import changes nothing."""
    rows = [
        ["C0001", "联络员1", datetime(2026, 12, 1, 17, 30), datetime(2026, 12, 2, 8, 30)],
        ["c0002", "", "2026-12-02 17:30", "2026-12-03 08:30"],
        ["C0003", None, "2026/12/5 8:30", "2026/12/5 17:30"],
    ]
    data = write_xlsx(tmp_path / "值班.xlsx", DUTY_HEADERS, rows)
    report = run("duty", session, clock, data)
    assert report.applied and (report.creates, report.errors, report.written) == (3, 0, 3)
    assert shifts(session) == [
        ("C0001", datetime(2026, 12, 1, 17, 30), datetime(2026, 12, 2, 8, 30)),
        ("C0002", datetime(2026, 12, 2, 17, 30), datetime(2026, 12, 3, 8, 30)),
        ("C0003", datetime(2026, 12, 5, 8, 30), datetime(2026, 12, 5, 17, 30)),
    ]
    first = session.scalars(select(DutyShift).order_by(DutyShift.starts_at)).first()
    assert first.starts_at == datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc)
    actions = session.scalars(select(AuditEntry.action)).all()
    assert actions.count("duty.add") == 3 and actions.count("import.duty") == 1

    again = run("duty", session, clock, data)
    assert (again.creates, again.unchanged, again.written) == (0, 3, 0)
    assert len(shifts(session)) == 3
    assert session.scalars(select(AuditEntry.action)).all().count("import.duty") == 1


def test_bad_rota_rows_are_named_by_row_and_nothing_is_written(session, clock, world, tmp_path):
    """Each problem names its row; with one bad row nothing is written; accepting the good rows writes them."""
    chain_admin.add_duty_shift(session, world.liaisons[3], local("2026-12-06 17:30"), local("2026-12-07 08:30"),
                               clock())
    session.commit()
    rows = [
        ["C0001", "", "2026-12-01 17:30", "2026-12-02 08:30"],  # 2: good
        ["X9999", "", "2026-12-01 17:30", "2026-12-02 08:30"],  # 3: nobody
        ["T0001", "", "2026-12-01 17:30", "2026-12-02 08:30"],  # 4: a town officer
        ["C0002", "", "2026-12-02 08:30", "2026-12-01 17:30"],  # 5: ends first
        ["C0002", "", "明晚", ""],  # 6: unreadable, missing
        ["C0002", "", "2026-12-01 08:30", "2026-12-05 08:30"],  # 7: 96 hours
        ["C0003", "", "2026-12-02 17:30", "2026-12-03 08:30"],  # 8: overlaps 9
        ["C0003", "", "2026-12-03 07:30", "2026-12-03 17:30"],  # 9: overlaps 8
        ["C0004", "", "2026-12-06 20:00", "2026-12-07 08:30"],  # 10: overlaps the stored shift
        ["C0001", "张三", "2026-12-03 17:30", "2026-12-04 08:30"],  # 11: not C0001's name
    ]
    data = write_xlsx(tmp_path / "值班.xlsx", DUTY_HEADERS, rows)
    report = run("duty", session, clock, data)
    assert not report.applied and report.ok == 1 and report.errors == 9
    found = errors(report)
    assert found[3] == ["工号：没有找到工号 X9999"]
    assert "不是本市在岗的市级民政联络员" in found[4][0]
    assert found[5] == ["结束时间：应晚于开始时间"]
    assert found[6] == ["开始时间：看不懂“明晚”，请写成 2026-12-01 17:30", "结束时间：不能为空"]
    assert found[7] == ["结束时间：一次值班不能超过72小时"]
    assert found[8] == ["值班时间：与第 9 行同一人的值班重叠"] and found[9] == ["值班时间：与第 8 行同一人的值班重叠"]
    assert found[10] == ["值班时间：与联络员4已有的值班（12-06 17:30 至 12-07 08:30）重叠"]
    assert found[11] == ["姓名：工号 C0001 是“联络员1”，与填写的“张三”不一致"]
    assert len(shifts(session)) == 1

    report_file = load_workbook(io.BytesIO(imports.error_report(report))).active
    assert report_file.max_row == 10 and report_file["E2"].value == 3

    accepted = run("duty", session, clock, data, accept_good_rows=True)
    assert accepted.applied and accepted.written == 1
    assert len(shifts(session)) == 2


def test_a_rota_dry_run_writes_nothing(session, clock, world, tmp_path):
    """check_duty plans every row and writes nothing."""
    data = write_csv(tmp_path / "值班.csv", DUTY_HEADERS, [["C0001", "", "2026-12-01 17:30", "2026-12-02 08:30"]],
                     "gb18030")
    report = imports.check_duty(session, imports.read_table(data, "值班.csv"), tz=TZ)
    assert report.creates == 1 and not report.applied
    session.rollback()
    assert shifts(session) == []


def test_an_administrator_imports_only_their_own_city_s_rota(session, clock, world, tmp_path):
    """Imported by an administrator, a supervisor of another city is refused."""
    other = make_chain_town(session, clock(), prefix="X")
    rows = [["XC0001", "", "2026-12-01 17:30", "2026-12-02 08:30"], ["C0001", "", "2026-12-01 17:30",
                                                                      "2026-12-02 08:30"]]
    report = run("duty", session, clock, write_xlsx(tmp_path / "d.xlsx", DUTY_HEADERS, rows), actor=world.admin)
    assert errors(report) == {2: ["工号：不在您所在的市"]}
    accepted = run("duty", session, clock, write_xlsx(tmp_path / "d.xlsx", DUTY_HEADERS, rows),
                   actor=world.admin.id, accept_good_rows=True)
    assert accepted.written == 1
    entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "duty.add")).all()
    assert [e.actor_staff_id for e in entries] == [world.admin.id]
    assert other.liaisons[0].id not in {s.staff_id for s in session.scalars(select(DutyShift))}


def test_the_rota_template_round_trips(session, clock, world, tmp_path):
    """The template's example row is skipped; its reference sheet lists who may go on duty."""
    workbook = load_workbook(io.BytesIO(imports.duty_template(session)))
    sheet = workbook["值班表"]
    assert [c.value for c in sheet[1]] == DUTY_HEADERS
    assert "填写说明" in workbook.sheetnames
    assert [r[0] for r in workbook["值班人员"].iter_rows(min_row=2, values_only=True)] == [
        "C0001", "C0002", "C0003", "C0004"]
    sheet.append(["C0002", "联络员2", datetime(2026, 12, 5, 8, 30), datetime(2026, 12, 5, 17, 30)])
    workbook.save(tmp_path / "t.xlsx")
    report = run("duty", session, clock, (tmp_path / "t.xlsx").read_bytes())
    assert [r.status for r in report.rows] == ["skipped", "ok"]
    assert shifts(session) == [("C0002", datetime(2026, 12, 5, 8, 30), datetime(2026, 12, 5, 17, 30))]


# --- the village split -------------------------------------------------------------------------------


def officers_of(session, village) -> tuple[int | None, int | None]:
    """What is stored for a village: (responsible id, deputy id), or (None, None)."""
    fresh(session)
    row = session.get(VillageOfficers, village.id)
    return (row.responsible_staff_id, row.deputy_staff_id) if row else (None, None)


def test_the_village_split_imports_keeps_blank_deputies_and_resets_with_default(session, clock, world, tmp_path):
    """Named villages are stored; a blank deputy keeps the stored one; 默认 hands a place back; re-import is a no-op."""
    v1, v2, v3, _ = world.villages
    _, t2, t3, t4 = (o.id for o in world.officers)
    chain_admin.set_village_officers(session, v2, world.officers[0], world.officers[3], clock())
    session.commit()
    rows = [
        [v1.code, "一村", "T0002", "T0003"],
        [v2.code, "", "t0003", ""],  # the stored deputy T0004 stays
        [v3.code, "", "默认", "默认"],  # nothing named, nothing to write
    ]
    data = write_xlsx(tmp_path / "包村.xlsx", VILLAGE_HEADERS, rows)
    report = run("village_officers", session, clock, data)
    assert (report.creates, report.updates, report.unchanged) == (1, 1, 1)
    assert officers_of(session, v1) == (t2, t3)
    assert officers_of(session, v2) == (t3, t4)
    assert officers_of(session, v3) == (None, None)
    assert session.scalars(select(AuditEntry.action)).all().count("chain.village") == 3  # 1 arranged + 2 imported

    again = run("village_officers", session, clock, data)
    assert (again.creates, again.updates, again.unchanged, again.written) == (0, 0, 3, 0)
    reset = run("village_officers", session, clock,
                write_xlsx(tmp_path / "r.xlsx", VILLAGE_HEADERS, [[v2.code, "", "默认", "默认"]]))
    assert reset.updates == 1 and officers_of(session, v2) == (None, None)


def test_bad_village_split_rows_are_named(session, clock, world, tmp_path):
    """Unknown or non-village codes, another town's officer, an assistant, the same person twice,
    a wrong name and a repeated village each name their row; nothing is written."""
    other = make_chain_town(session, clock(), prefix="X")
    v1, v2, v3, v4 = world.villages
    rows = [
        ["999999", "", "T0001", ""],  # 2
        [world.town.code, "", "T0001", ""],  # 3: a town
        [v1.code, "", "XT0001", ""],  # 4: another town's officer
        [v2.code, "", world.assistants[0].staff_no, ""],  # 5: an assistant
        [v3.code, "", "T0001", "T0001"],  # 6: the same person
        [v4.code, "五村", "T0001", ""],  # 7: not its name
        [v1.code, "", "T0001", "T0002"],  # 8: v1 again
        ["", "", "", ""],  # blank row: skipped by the reader
        [other.villages[0].code, "", "", "XT0002"],  # 10: no responsible
    ]
    report = run("village_officers", session, clock, write_xlsx(tmp_path / "v.xlsx", VILLAGE_HEADERS, rows))
    found = errors(report)
    assert found[2] == ["村（社区）代码：没有找到这个代码"]
    assert found[3] == ["村（社区）代码：“桥头镇”是乡镇（街道），不是村（社区）"]
    assert found[4] == ["责任人工号：XT0001（助理员1）不是桥头镇在岗的乡镇民政助理员", "村（社区）代码：与第 8 行重复"]
    assert found[5] == [f"责任人工号：{world.assistants[0].staff_no}（协理员1）不是桥头镇在岗的乡镇民政助理员"]
    assert found[6] == ["副责任人工号：不能与责任人工号是同一人"]
    assert found[7] == ["村（社区）：代码对应的是“四村”，与填写的“五村”不一致"]
    assert "村（社区）代码：与第 4 行重复" in found[8]
    assert found[10] == ["责任人工号：不能为空"]
    assert not report.applied and report.ok == 0
    assert session.scalar(select(func.count()).select_from(VillageOfficers)) == 0


def test_the_village_split_template_lists_villages_with_their_town_s_officers(session, clock, world, tmp_path):
    """The reference sheet has every village and the officers it may be given to; a filled row imports."""
    workbook = load_workbook(io.BytesIO(imports.village_officer_template(session)))
    reference = list(workbook["村（社区）与助理员"].iter_rows(min_row=2, values_only=True))
    assert reference[0][:3] == (world.villages[0].code, "一村", "桥头镇")
    assert "T0001 助理员1" in reference[0][3]
    sheet = workbook["包村责任"]
    sheet.append([world.villages[0].code, "一村", "T0004", "T0001"])
    workbook.save(tmp_path / "t.xlsx")
    report = run("village_officers", session, clock, (tmp_path / "t.xlsx").read_bytes())
    assert [r.status for r in report.rows] == ["skipped", "ok"]
    assert officers_of(session, world.villages[0]) == (world.officers[3].id, world.officers[0].id)


# --- departments ---------------------------------------------------------------------------------------


def test_departments_are_added_renamed_and_given_liaisons(session, clock, world, tmp_path):
    """A city with no department on record gets the policy's (all in effect until then); a name renames;
    blanks keep what is stored; unknown codes and non-liaisons are refused."""
    rows = [
        ["health", "市卫生健康委员会", "C0001", "C0002"],
        ["Housing", "", "C0003", ""],
        ["nope", "", "C0001", ""],
        ["commerce", "", "T0001", ""],
    ]
    report = run("departments", session, clock, write_xlsx(tmp_path / "d.xlsx", DEPARTMENT_HEADERS, rows))
    assert errors(report) == {4: ["部门代码：没有找到“nope”，请对照模板里的“部门代码”表填写"],
                              5: ["负责联络员工号：T0001（助理员1）不是本市在岗的市级民政联络员"]}
    accepted = run("departments", session, clock, write_xlsx(tmp_path / "d.xlsx", DEPARTMENT_HEADERS, rows),
                   accept_good_rows=True)
    assert accepted.written == 2
    fresh(session)
    stored = {d.code: d for d in session.scalars(select(Department))}
    assert len(stored) == 18
    assert (stored["health"].name, stored["health"].responsible_staff_id, stored["health"].deputy_staff_id) == (
        "市卫生健康委员会", world.liaisons[0].id, world.liaisons[1].id)
    assert (stored["housing"].name, stored["housing"].responsible_staff_id) == ("市住建局", world.liaisons[2].id)
    again = run("departments", session, clock, write_xlsx(tmp_path / "e.xlsx", DEPARTMENT_HEADERS, rows[:2]))
    assert (again.unchanged, again.written) == (2, 0)
    assert "部门代码" in load_workbook(io.BytesIO(imports.department_template(session))).sheetnames


# --- the CLI -----------------------------------------------------------------------------------------------


@pytest.fixture
def cli_world(tmp_path, clock):
    """A migrated SQLite database for the CLI with the chain town in it, and its environment."""
    env = cli_env(tmp_path)
    assert CliRunner().invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    engine = make_engine(env["DATABASE_URL"])
    with make_session_factory(engine)() as session:
        world = make_chain_town(session, clock())
    yield env, world, engine
    engine.dispose()


def test_cli_imports_the_rota_and_the_village_split(cli_world, tmp_path):
    """`import duty` and `import village-officers`: dry run, refusal with row numbers, then the writes."""
    env, world, engine = cli_world
    runner = CliRunner()
    write_xlsx(tmp_path / "值班.xlsx", DUTY_HEADERS, [
        ["C0001", "", "2026-12-01 17:30", "2026-12-02 08:30"],
        ["C0009", "", "2026-12-01 17:30", "2026-12-02 08:30"],
    ])
    dry = runner.invoke(main, ["import", "duty", str(tmp_path / "值班.xlsx"), "--dry-run"], env=env)
    assert dry.exit_code == 1 and "第3行：工号：没有找到工号 C0009" in dry.output, dry.output
    good = runner.invoke(main, ["import", "duty", str(tmp_path / "值班.xlsx"), "--accept-good-rows"], env=env)
    assert good.exit_code == 0 and "写入 1 行" in good.output, good.output

    write_xlsx(tmp_path / "包村.xlsx", VILLAGE_HEADERS, [[world.villages[0].code, "一村", "T0003", "T0004"]])
    split = runner.invoke(main, ["import", "village-officers", str(tmp_path / "包村.xlsx")], env=env)
    assert split.exit_code == 0 and "新增 1" in split.output, split.output
    with make_session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(DutyShift)) == 1
        row = session.get(VillageOfficers, world.villages[0].id)
        assert (row.responsible_staff_id, row.deputy_staff_id) == (world.officers[2].id, world.officers[3].id)
        labels = set(session.scalars(select(AuditEntry.actor_label).where(AuditEntry.action.startswith("import."))))
        assert labels == {"cli"}
