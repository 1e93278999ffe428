"""Spreadsheet imports: files as offices save them, every row checked, all-or-nothing, idempotent upserts."""

from __future__ import annotations

import csv
import io

import pytest
from click.testing import CliRunner
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from cli import main
from models import Assignment, AuditEntry, Beneficiary, BeneficiaryCategoryLink, Staff
from models.db import make_engine, make_session_factory
from models.enums import RegionLevel, StaffRole
from services import imports, roster
from services.policy import id_number
from services.policy import validate as rules
from tests.cli.test_cli import cli_env
from tests.support.factories import PII, fresh, make_region, make_staff, make_town

HEADERS = ["姓名", "身份证号", "联系电话", "对象类别", "所属村（社区）代码", "家庭住址", "协理员工号"]
STAFF_HEADERS = ["工号", "姓名", "联系电话", "角色", "所属区域代码"]


def make_id(n: int) -> str:
    """A valid ID number (right check digit), different for each n."""
    first17 = f"4210831950{n // 1000 + 1:02d}01{n % 1000:03d}"
    return first17 + id_number.check_digit(first17)


def bad_check_digit(n: int) -> str:
    """An ID number whose check digit is wrong."""
    good = make_id(n)
    return good[:17] + ("0" if good[17] != "0" else "1")


def write_xlsx(path, headers, rows) -> bytes:
    """An .xlsx with a header row and data rows, as an office saves it; returns its bytes."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path.read_bytes()


def write_csv(path, headers, rows, encoding: str) -> bytes:
    """A .csv in the given encoding ("utf-8-sig" writes the BOM Excel adds)."""
    with open(path, "w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(headers)
        writer.writerows(rows)
    return path.read_bytes()


def counts(session) -> tuple[int, int, int]:
    """Beneficiaries, category links and assignment rows (history included)."""
    return tuple(
        session.scalar(select(func.count()).select_from(model))
        for model in (Beneficiary, BeneficiaryCategoryLink, Assignment)
    )


@pytest.fixture
def world(session, clock):
    """City > town > two villages, an assistant in each, a town officer and a supervisor."""
    return make_town(session, clock())


def people_rows(world):
    """Three good beneficiary rows for the first village, categories written three ways."""
    code, assistant = world.village.code, world.assistant.staff_no
    return [
        ["刘大爷", make_id(1), "13912340001", "低保、留守老人", code, "东湾村东头组3号", assistant],
        ["陈奶奶", make_id(2), "0716 2345678", "特困供养,残疾人", code, "东湾村西湾组8号", assistant],
        ["小周", make_id(3).lower(), "", "留守儿童；孤儿/困境儿童", code, "", assistant],
    ]


def run_import(session, clock, data: bytes, name: str, **kwargs):
    """Read and import a beneficiary file as the town officer, then commit what was written."""
    table = imports.read_table(data, name)
    report = imports.import_beneficiaries(session, PII, table, now=clock(), actor=kwargs.pop("actor", "test"), **kwargs)
    session.commit()
    return report


# --- pure field rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, stored",
    [
        ("13912345678", "13912345678"),
        ("139 1234 5678", "13912345678"),
        ("+86 139-1234-5678", "13912345678"),
        ("１３９１２３４５６７８", "13912345678"),  # full-width digits from a Chinese input method
        ("0716-1234567", "0716-1234567"),
        ("(0716)1234567", "0716-1234567"),
        ("07161234567", "0716-1234567"),
        ("01012345678", "010-12345678"),  # Beijing has a three-digit area code
        ("1234567", None),  # a landline without its area code
        ("12912345678", None),  # no mobile prefix 12
        ("电话", None),
    ],
)
def test_phone_normalisation(raw, stored):
    """Mobiles and landlines are accepted however they are typed, and stored one way."""
    assert rules.normalize_phone(raw) == stored


@pytest.mark.parametrize(
    "raw, categories, unknown",
    [
        ("低保、留守老人", ["低保", "留守老人"], []),
        ("特困供养，残疾", ["特困", "残疾人"], []),
        ("孤儿／困境儿童; 低保；低保", ["孤儿/困境儿童", "低保"], []),
        ("低保、贫困户", ["低保"], ["贫困户"]),
    ],
)
def test_category_parsing(raw, categories, unknown):
    """Several categories in one cell, any separator, office aliases; unknown words reported."""
    found, bad = rules.parse_categories(raw)
    assert [c.value for c in found] == categories
    assert bad == unknown


@pytest.mark.parametrize(
    "raw, role",
    [("协理员", StaffRole.ASSISTANT), ("乡镇民政助理员", StaffRole.TOWN_OFFICER), ("市级督办", StaffRole.CITY_SUPERVISOR),
     ("管理员", StaffRole.ADMIN), ("信息员", StaffRole.ASSISTANT), ("村(社区)民政协理员", StaffRole.ASSISTANT),
     ("assistant", StaffRole.ASSISTANT), ("村长", None)],
)
def test_role_labels(raw, role):
    """Roles as offices write them."""
    assert rules.parse_role(raw) is role


# --- beneficiaries --------------------------------------------------------------------------------


def test_a_good_file_imports_with_categories_assignments_and_encrypted_ids(session, clock, world, tmp_path):
    """Every row becomes a beneficiary in the village, assigned, categorised, the ID number only encrypted."""
    data = write_xlsx(tmp_path / "名单.xlsx", HEADERS, people_rows(world))
    report = run_import(session, clock, data, "名单.xlsx")

    assert report.applied and report.errors == 0
    assert [(r.row, r.status, r.action) for r in report.rows] == [(2, "ok", "create"), (3, "ok", "create"),
                                                                 (4, "ok", "create")]
    people = {p.name: p for p in session.scalars(select(Beneficiary))}
    assert set(people) == {"刘大爷", "陈奶奶", "小周"}
    assert people["刘大爷"].category_names == ["低保", "留守老人"]
    assert people["陈奶奶"].category_names == ["残疾人", "特困"]
    assert people["陈奶奶"].phone == "0716-2345678"
    assert people["小周"].phone is None and people["小周"].address is None
    for n, name in enumerate(["刘大爷", "陈奶奶", "小周"], start=1):
        person = people[name]
        assert person.village_id == world.village.id
        assert roster.current_assignment(session, person).staff_id == world.assistant.id
        assert PII.decrypt(person.id_number_encrypted) == make_id(n)
        assert person.id_number_hash == PII.lookup_hash(make_id(n))
        # No column of the row holds the number in the clear.
        row = session.execute(select(Beneficiary.__table__).where(Beneficiary.id == person.id)).one()
        assert not any(make_id(n) in str(value) for value in row)
        assert person.bind_code and len(person.bind_code) == 6

    audit = session.scalars(select(AuditEntry)).one()
    assert audit.action == "import.beneficiaries" and audit.actor_label == "test"
    assert audit.detail["create"] == 3 and audit.detail["errors"] == 0
    assert make_id(1) not in str(audit.detail) and "13912340001" not in str(audit.detail)


def test_reimporting_the_same_file_changes_nothing(session, clock, world, tmp_path):
    """Same rows, same hashes: every row unchanged, no writes, no new assignments, no audit entry."""
    data = write_xlsx(tmp_path / "名单.xlsx", HEADERS, people_rows(world))
    run_import(session, clock, data, "名单.xlsx")
    before = counts(session)
    stamps = sorted(session.scalars(select(Beneficiary.updated_at)))

    clock.advance(days=1)
    fresh(session)
    again = run_import(session, clock, data, "名单.xlsx")

    assert [r.action for r in again.rows] == ["unchanged"] * 3
    assert again.applied and again.written == 0
    fresh(session)
    assert counts(session) == before
    assert sorted(session.scalars(select(Beneficiary.updated_at))) == stamps
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == 1


def test_one_bad_check_digit_imports_nothing_and_names_row_and_field(session, clock, world, tmp_path):
    """All or nothing by default: the report names the row and the field, without echoing the number."""
    rows = people_rows(world)
    rows[1][1] = bad_check_digit(2)
    data = write_xlsx(tmp_path / "名单.xlsx", HEADERS, rows)
    report = run_import(session, clock, data, "名单.xlsx")

    assert not report.applied and report.errors == 1 and report.ok == 2
    bad = report.error_rows()[0]
    assert bad.row == 3
    assert any("身份证号" in m and "校验位" in m for m in bad.messages)
    assert not any(bad_check_digit(2) in m for m in bad.messages)
    assert counts(session) == (0, 0, 0)
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_accept_good_rows_imports_the_rest(session, clock, world, tmp_path):
    """With the user's confirmation the good rows are written and the bad one left out."""
    rows = people_rows(world)
    rows[1][1] = bad_check_digit(2)
    data = write_xlsx(tmp_path / "名单.xlsx", HEADERS, rows)
    report = run_import(session, clock, data, "名单.xlsx", accept_good_rows=True)

    assert report.applied and report.written == 2 and report.errors == 1
    assert sorted(session.scalars(select(Beneficiary.name))) == sorted(["刘大爷", "小周"])
    audit = session.scalars(select(AuditEntry)).one()
    assert (audit.detail["create"], audit.detail["errors"]) == (2, 1)


def test_a_changed_row_updates_and_reassigns_keeping_history(session, clock, world, tmp_path):
    """A new assistant in the same village ends the old assignment; other fields are updated."""
    run_import(session, clock, write_xlsx(tmp_path / "a.xlsx", HEADERS, people_rows(world)), "a.xlsx")
    second = make_staff(session, StaffRole.ASSISTANT, world.village, clock(), name="孙丽")
    session.commit()
    rows = people_rows(world)
    rows[0][2], rows[0][3], rows[0][6] = "13912340009", "低保", second.staff_no
    clock.advance(days=30)
    fresh(session)
    report = run_import(session, clock, write_xlsx(tmp_path / "b.xlsx", HEADERS, rows), "b.xlsx",
                        actor=world.officer.id)

    assert [r.action for r in report.rows] == ["update", "unchanged", "unchanged"]
    fresh(session)
    person = session.scalars(select(Beneficiary).where(Beneficiary.name == "刘大爷")).one()
    assert person.phone == "13912340009" and person.category_names == ["低保"]
    history = session.scalars(select(Assignment).where(Assignment.beneficiary_id == person.id)
                              .order_by(Assignment.id)).all()
    assert [(a.staff_id, a.ended_at) for a in history] == [(world.assistant.id, clock()), (second.id, None)]
    assert history[1].assigned_by_staff_id == world.officer.id
    audit = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert audit.actor_kind == "staff" and audit.actor_staff_id == world.officer.id
    assert (audit.detail["update"], audit.detail["unchanged"]) == (1, 2)


def test_moving_village_needs_that_village_s_assistant(session, clock, world, tmp_path):
    """A move keeps no assistant from the old village: without a new 工号 it is refused, with one it reassigns."""
    run_import(session, clock, write_xlsx(tmp_path / "a.xlsx", HEADERS, people_rows(world)), "a.xlsx")
    moved = [["刘大爷", make_id(1), "", "低保、留守老人", world.other_village.code, "", ""]]
    refused = run_import(session, clock, write_xlsx(tmp_path / "b.xlsx", HEADERS, moved), "b.xlsx")
    assert refused.rows[0].messages == [imports.MSG_MOVED_WITHOUT_ASSISTANT]

    moved[0][6] = world.other_assistant.staff_no
    fresh(session)
    report = run_import(session, clock, write_xlsx(tmp_path / "c.xlsx", HEADERS, moved), "c.xlsx")
    assert report.rows[0].action == "update"
    person = session.scalars(select(Beneficiary).where(Beneficiary.name == "刘大爷")).one()
    assert person.village_id == world.other_village.id
    assert roster.current_assignment(session, person).staff_id == world.other_assistant.id


def test_blank_optional_cells_keep_what_is_stored(session, clock, world, tmp_path):
    """A phone, address or assistant left blank on re-import is not erased."""
    run_import(session, clock, write_xlsx(tmp_path / "a.xlsx", HEADERS, people_rows(world)), "a.xlsx")
    rows = [["刘大爷", make_id(1), "", "低保、留守老人", world.village.code, "", ""]]
    fresh(session)
    report = run_import(session, clock, write_xlsx(tmp_path / "b.xlsx", HEADERS, rows), "b.xlsx")
    assert report.rows[0].action == "unchanged"
    person = session.scalars(select(Beneficiary).where(Beneficiary.name == "刘大爷")).one()
    assert person.phone == "13912340001" and person.address == "东湾村东头组3号"


def test_assistant_must_be_an_active_assistant_of_that_village(session, clock, world, tmp_path):
    """Unknown, inactive, wrong role and another village's assistant are each refused, naming the 工号."""
    gone = make_staff(session, StaffRole.ASSISTANT, world.village, clock())
    gone.active = False
    session.commit()
    code = world.village.code
    rows = [
        ["甲", make_id(1), "", "低保", code, "", "NOBODY"],
        ["乙", make_id(2), "", "低保", code, "", gone.staff_no],
        ["丙", make_id(3), "", "低保", code, "", world.officer.staff_no],
        ["丁", make_id(4), "", "低保", code, "", world.other_assistant.staff_no],
        ["戊", make_id(5), "", "低保", code, "", world.assistant.staff_no.lower()],
    ]
    report = run_import(session, clock, write_xlsx(tmp_path / "a.xlsx", HEADERS, rows), "a.xlsx")
    messages = {r.row: " ".join(r.messages) for r in report.rows}
    assert "没有找到工号 NOBODY" in messages[2]
    assert "已停用" in messages[3] and gone.staff_no in messages[3]
    assert "不是协理员" in messages[4]
    assert "南岭村" in messages[5] and "东湾村" in messages[5]
    assert report.rows[4].status == "ok"  # 工号 typed in lower case still match
    assert counts(session) == (0, 0, 0)


def test_village_by_name_and_the_checks_on_it(session, clock, world, tmp_path):
    """The village may be named instead of coded; unknown, ambiguous or non-village places are refused."""
    other_town = make_region(session, RegionLevel.TOWN, world.city, clock(), name="新堤街道")
    make_region(session, RegionLevel.VILLAGE, other_town, clock(), name="南岭村")  # a second 南岭村
    session.commit()
    headers = ["姓名", "身份证号", "对象类别", "所属村（社区）"]
    rows = [
        ["甲", make_id(1), "低保", " 东湾村 "],
        ["乙", make_id(2), "低保", "南岭村"],
        ["丙", make_id(3), "低保", "北山村"],
    ]
    report = run_import(session, clock, write_xlsx(tmp_path / "a.xlsx", headers, rows), "a.xlsx",
                        accept_good_rows=True)
    assert [r.status for r in report.rows] == ["ok", "error", "error"]
    assert "有2个村（社区）叫“南岭村”" in report.rows[1].messages[0]
    assert "没有找到“北山村”" in report.rows[2].messages[0]
    person = session.scalars(select(Beneficiary)).one()
    assert person.village_id == world.village.id and person.assignments == []

    coded = [["丁", make_id(4), "低保", world.town.code]]
    report = run_import(session, clock, write_xlsx(tmp_path / "b.xlsx", HEADERS[:2] + ["对象类别", "所属村（社区）代码"],
                                                   coded), "b.xlsx")
    assert "是乡镇（街道），不是村（社区）" in report.rows[0].messages[0]


def test_row_checks_report_every_problem(session, clock, world, tmp_path):
    """Blank required cells, unknown categories, bad phones and repeated ID numbers, each by row."""
    code = world.village.code
    rows = [
        ["", "", "123", "", code, "", ""],
        ["甲", make_id(1), "", "低保、贫困户", code, "", ""],
        ["乙", make_id(2), "", "低保", code, "", ""],
        ["丙", make_id(2), "", "特困", code, "", ""],
        ["丁", "4210831950", "", "低保", "", "", ""],
    ]
    report = run_import(session, clock, write_xlsx(tmp_path / "a.xlsx", HEADERS, rows), "a.xlsx")
    messages = {r.row: r.messages for r in report.rows}
    assert {"姓名：不能为空", "身份证号：不能为空", "对象类别：不能为空"} <= set(messages[2])
    assert any(m.startswith("联系电话：") for m in messages[2])
    assert any("贫困户" in m for m in messages[3])
    assert messages[4] == ["身份证号：与第 5 行重复"] and messages[5] == ["身份证号：与第 4 行重复"]
    assert any("18位" in m for m in messages[6]) and imports.MSG_VILLAGE_REQUIRED in messages[6]
    assert report.errors == 5 and counts(session) == (0, 0, 0)


def test_an_id_number_excel_stored_as_a_number_gets_its_own_message(session, clock, world, tmp_path):
    """Excel keeps 15 digits of a number: say so instead of a puzzling check-digit error."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["姓名", "身份证号", "对象类别", "所属村（社区）代码"])
    sheet.append(["甲", int(make_id(1)[:17] + "1"), "低保", world.village.code])
    workbook.save(tmp_path / "a.xlsx")
    report = run_import(session, clock, (tmp_path / "a.xlsx").read_bytes(), "a.xlsx")
    assert report.rows[0].messages == [imports.MSG_ID_AS_NUMBER]


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8-sig", "utf-8"])
def test_csv_in_the_encodings_excel_saves(session, clock, world, tmp_path, encoding):
    """CSV from Excel in China is GB18030; UTF-8 with or without BOM works too."""
    data = write_csv(tmp_path / "名单.csv", HEADERS, people_rows(world), encoding)
    report = run_import(session, clock, data, "名单.csv")
    assert report.applied and report.creates == 3
    assert sorted(session.scalars(select(Beneficiary.name))) == sorted(["刘大爷", "陈奶奶", "小周"])
    assert session.scalars(select(AuditEntry)).one().detail["format"] == "csv"


@pytest.mark.parametrize(
    "headers, data_name, message",
    [
        (["姓名", "身份证", "对象类别", "所属村（社区）代码"], "a.xlsx", "无法识别的列：“身份证”"),
        (["姓名", "对象类别", "所属村（社区）代码"], "a.xlsx", "缺少必填列：“身份证号”"),
        (["姓名", "身份证号", "对象类别"], "a.xlsx", "所属村（社区）代码"),
        (["姓名", "身份证号", "对象类别", "所属村(社区)代码", "姓名*"], "a.xlsx", "列名重复"),
    ],
)
def test_file_level_errors_name_the_header(session, world, tmp_path, headers, data_name, message):
    """A missing, unknown or repeated column stops the file with one message naming it."""
    data = write_xlsx(tmp_path / data_name, headers, [["甲"] * len(headers)])
    table = imports.read_table(data, data_name)
    with pytest.raises(imports.ImportFileError) as caught:
        imports.check_beneficiaries(session, PII, table)
    assert message in caught.value.message


def test_unreadable_files_are_refused_with_a_reason(tmp_path):
    """Old .xls, other formats, corrupt files and empty sheets each get a clear message."""
    cases = [
        (b"anything", "a.xls", "另存为"),
        (b"anything", "a.txt", ".xlsx 或 .csv"),
        (b"not a zip", "a.xlsx", "无法读取"),
        (b"", "a.csv", "第1行应为列名"),
        ("姓名,身份证号\n".encode(), "a.csv", "没有数据行"),
    ]
    for data, name, message in cases:
        with pytest.raises(imports.ImportFileError) as caught:
            imports.read_table(data, name)
        assert message in caught.value.message, name


def test_row_numbers_match_the_spreadsheet_across_blank_rows(tmp_path):
    """Blank rows are skipped but row numbers stay those Excel shows."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["姓名", "身份证号"])
    sheet.append(["甲", make_id(1)])
    sheet.append([])
    sheet.append([None, None])
    sheet.append(["乙", make_id(2)])
    workbook.save(tmp_path / "a.xlsx")
    table = imports.read_table((tmp_path / "a.xlsx").read_bytes(), "a.xlsx")
    assert [(r.number, r.cells["姓名"]) for r in table.rows] == [(2, "甲"), (5, "乙")]


def test_error_report_lists_bad_rows_with_masked_ids(session, clock, world, tmp_path):
    """The downloadable report: original columns plus 行号, 结果, 问题; ID numbers masked."""
    rows = people_rows(world)
    rows[1][1] = bad_check_digit(2)
    report = run_import(session, clock, write_xlsx(tmp_path / "a.xlsx", HEADERS, rows), "a.xlsx")
    content = imports.error_report(report)

    sheet = load_workbook(io.BytesIO(content)).active
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert values[0] == [*HEADERS, "行号", "结果", "问题"]
    assert len(values) == 2
    bad = dict(zip(values[0], values[1], strict=True))
    assert bad["姓名"] == "陈奶奶" and bad["行号"] == 3 and bad["结果"] == "有误"
    assert "校验位" in bad["问题"]
    assert bad["身份证号"] == id_number.mask(bad_check_digit(2))
    assert bad_check_digit(2) not in str(values)

    # The corrected report imports as it is: its extra columns are ignored.
    fixed = write_xlsx(tmp_path / "fixed.xlsx", values[0], [[*values[1][:1], make_id(2), *values[1][2:]]])
    again = run_import(session, clock, fixed, "fixed.xlsx")
    assert again.applied and again.creates == 1


def test_beneficiary_template_round_trip(session, clock, world, tmp_path):
    """The template has the office's headers, an example row that is skipped, and imports once filled in."""
    content = imports.beneficiary_template(session)
    workbook = load_workbook(io.BytesIO(content))
    sheet = workbook.worksheets[0]
    assert [c.value for c in sheet[1]] == [*HEADERS, "独居", "平安计划"]
    assert sheet["A2"].value.startswith("示例")
    assert id_number.is_valid(sheet["B2"].value)
    assert sheet.column_dimensions["B"].width > 15
    assert any("低保" in dv.formula1 for dv in sheet.data_validations.dataValidation)
    reference = workbook["村（社区）代码"]
    listed = [r for r in reference.iter_rows(min_row=2, values_only=True)]
    assert (world.village.code, "东湾村", "柳河镇", world.assistant.staff_no, "王芳") in listed

    for n, row in enumerate(people_rows(world), start=3):
        for col, value in enumerate(row, start=1):
            sheet.cell(row=n, column=col, value=value)
    workbook.save(tmp_path / "filled.xlsx")
    report = run_import(session, clock, (tmp_path / "filled.xlsx").read_bytes(), "filled.xlsx")
    assert [r.status for r in report.rows] == ["skipped", "ok", "ok", "ok"]
    assert report.applied and report.creates == 3
    assert session.scalar(select(func.count()).select_from(Beneficiary)) == 3


# --- staff ------------------------------------------------------------------------------------------------


def run_staff(session, clock, data: bytes, name: str = "staff.xlsx", **kwargs):
    """Read and import a staff file, then commit."""
    report = imports.import_staff(session, imports.read_table(data, name), now=clock(), actor="test", **kwargs)
    session.commit()
    return report


def test_staff_import_creates_updates_and_leaves_alone(session, clock, world, tmp_path):
    """Upsert on 工号: new staff created in their region, changed ones updated, same ones untouched."""
    rows = [
        ["a0101", "吴晓", "13700000001", "协理员", world.village.code],
        ["T0101", "郑涛", "0716-3456789", "乡镇民政助理员", world.town.code],
        [world.assistant.staff_no, "王芳", "13711112222", "协理员", world.village.code],
        [world.other_assistant.staff_no, world.other_assistant.name, world.other_assistant.phone, "协理员",
         world.other_village.code],
    ]
    report = run_staff(session, clock, write_xlsx(tmp_path / "s.xlsx", STAFF_HEADERS, rows))
    assert [r.action for r in report.rows] == ["create", "create", "update", "unchanged"]
    created = session.scalars(select(Staff).where(Staff.staff_no == "A0101")).one()
    assert (created.name, created.role, created.region_id, created.active) == (
        "吴晓", "assistant", world.village.id, True)
    fresh(session)
    assert session.get(Staff, world.assistant.id).phone == "13711112222"
    audit = session.scalars(select(AuditEntry)).one()
    assert audit.action == "import.staff" and (audit.detail["create"], audit.detail["update"]) == (2, 1)

    again = run_staff(session, clock, write_xlsx(tmp_path / "s.xlsx", STAFF_HEADERS, rows))
    assert [r.action for r in again.rows] == ["unchanged"] * 4
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == 1


def test_staff_rows_are_checked(session, clock, world, tmp_path):
    """Role spelled wrong, role at the wrong level, unknown region, repeated 工号, bad phone."""
    rows = [
        ["A0201", "甲", "13700000001", "村长", world.village.code],
        ["A0202", "乙", "13700000002", "协理员", world.town.code],
        ["A0203", "丙", "13700000003", "市级督办", "999999"],
        ["A0204", "丁", "13700000004", "协理员", world.village.code],
        ["a0204", "戊", "137", "协理员", world.village.code],
        ["A 02 05", "己", "13700000005", "协理员", world.village.code],
    ]
    report = run_staff(session, clock, write_xlsx(tmp_path / "s.xlsx", STAFF_HEADERS, rows))
    messages = {r.row: " ".join(r.messages) for r in report.rows}
    assert "角色：应为" in messages[2]
    assert "协理员应属于村（社区）区域" in messages[3] and "柳河镇" in messages[3]
    assert "没有找到这个代码" in messages[4]
    assert "与第 6 行重复" in messages[5]
    assert "与第 5 行重复" in messages[6] and "联系电话" in messages[6]
    assert report.rows[5].status == "ok"  # spaces inside a typed 工号 are dropped
    assert not report.applied
    assert session.scalar(select(func.count()).select_from(Staff)) == 4


def test_an_assistant_with_beneficiaries_cannot_be_moved_by_import(session, clock, world, tmp_path):
    """Moving an assistant who still holds beneficiaries would strand them: refused until reassigned."""
    run_import(session, clock, write_xlsx(tmp_path / "a.xlsx", HEADERS, people_rows(world)), "a.xlsx")
    rows = [[world.assistant.staff_no, "王芳", world.assistant.phone, "协理员", world.other_village.code]]
    report = run_staff(session, clock, write_xlsx(tmp_path / "s.xlsx", STAFF_HEADERS, rows))
    assert "仍负责 3 位服务对象" in report.rows[0].messages[0]
    fresh(session)
    assert session.get(Staff, world.assistant.id).region_id == world.village.id


def test_staff_template_round_trip(session, clock, world, tmp_path):
    """The staff template, filled in below its example, imports; it lists the region codes."""
    workbook = load_workbook(io.BytesIO(imports.staff_template(session)))
    sheet = workbook.worksheets[0]
    assert [c.value for c in sheet[1]] == STAFF_HEADERS
    assert any("协理员" in dv.formula1 for dv in sheet.data_validations.dataValidation)
    codes = [r[0] for r in workbook["区域代码"].iter_rows(min_row=2, values_only=True)]
    assert world.town.code in codes and world.village.code in codes
    sheet.append(["A0301", "钱多", "13700000031", "协理员", world.other_village.code])
    workbook.save(tmp_path / "s.xlsx")
    report = run_staff(session, clock, (tmp_path / "s.xlsx").read_bytes())
    assert [r.status for r in report.rows] == ["skipped", "ok"]
    assert session.scalars(select(Staff).where(Staff.staff_no == "A0301")).one().region_id == world.other_village.id


# --- CLI ----------------------------------------------------------------------------------------------------


@pytest.fixture
def cli_world(tmp_path, clock):
    """A migrated SQLite database for the CLI with the small town in it, and its environment."""
    env = cli_env(tmp_path)
    assert CliRunner().invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    engine = make_engine(env["DATABASE_URL"])
    with make_session_factory(engine)() as session:
        world = make_town(session, clock())
    yield env, world, engine
    engine.dispose()


def test_cli_import_refuses_a_bad_file_then_accepts_good_rows(cli_world, tmp_path):
    """Summary, first errors and report file; exit 1 with nothing written; --accept-good-rows writes."""
    env, world, engine = cli_world
    rows = people_rows(world)
    rows[1][1] = bad_check_digit(2)
    write_xlsx(tmp_path / "名单.xlsx", HEADERS, rows)
    runner = CliRunner()

    refused = runner.invoke(main, ["import", "beneficiaries", str(tmp_path / "名单.xlsx"),
                                   "--report", str(tmp_path / "errors.xlsx")], env=env)
    assert refused.exit_code == 1, refused.output
    assert "正确 2，有误 1" in refused.output and "第3行：身份证号" in refused.output
    assert "未导入" in refused.output
    assert bad_check_digit(2) not in refused.output
    sheet = load_workbook(tmp_path / "errors.xlsx").active
    assert sheet.max_row == 2 and sheet["H2"].value == 3
    with make_session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(Beneficiary)) == 0

    accepted = runner.invoke(main, ["import", "beneficiaries", str(tmp_path / "名单.xlsx"), "--accept-good-rows"],
                             env=env)
    assert accepted.exit_code == 0, accepted.output
    assert "写入 2 行" in accepted.output
    with make_session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(Beneficiary)) == 2
        assert session.scalars(select(AuditEntry)).one().actor_label == "cli"


def test_cli_import_staff_then_beneficiaries_with_progress(cli_world, tmp_path):
    """Staff first, then 1,200 beneficiaries from CSV: progress on stderr, a second run changes nothing."""
    env, world, engine = cli_world
    write_xlsx(tmp_path / "staff.xlsx", STAFF_HEADERS,
               [["A0901", "冯雪", "13700000091", "协理员", world.village.code]])
    runner = CliRunner()
    staff = runner.invoke(main, ["import", "staff", str(tmp_path / "staff.xlsx")], env=env)
    assert staff.exit_code == 0 and "新增 1" in staff.output, staff.output

    rows = [[f"对象{n}", make_id(n), "", "留守老人", world.village.code, "", "A0901"] for n in range(1, 1201)]
    write_csv(tmp_path / "big.csv", HEADERS, rows, "gb18030")
    first = runner.invoke(main, ["import", "beneficiaries", str(tmp_path / "big.csv")], env=env)
    assert first.exit_code == 0, first.output
    assert "新增 1200" in first.stdout
    assert "检查: 1000" in first.stderr and "写入: 1000" in first.stderr
    second = runner.invoke(main, ["import", "beneficiaries", str(tmp_path / "big.csv")], env=env)
    assert "新增 0，更新 0，未变 1200" in second.stdout
    with make_session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(Assignment)) == 1200
        assert session.scalar(select(func.count(func.distinct(Beneficiary.bind_code)))) == 1200


def test_cli_import_reports_a_file_problem(cli_world, tmp_path):
    """A file-level problem is one line, exit 1, no stack trace."""
    env, _, _ = cli_world
    write_xlsx(tmp_path / "x.xlsx", ["名字"], [["甲"]])
    result = CliRunner().invoke(main, ["import", "staff", str(tmp_path / "x.xlsx")], env=env)
    assert result.exit_code == 1 and "无法识别的列：“名字”" in result.output
    assert "Traceback" not in result.output


def test_cli_dry_run_writes_nothing(cli_world, tmp_path):
    """--dry-run checks and summarises only."""
    env, world, engine = cli_world
    write_xlsx(tmp_path / "a.xlsx", HEADERS, people_rows(world))
    result = CliRunner().invoke(main, ["import", "beneficiaries", str(tmp_path / "a.xlsx"), "--dry-run"], env=env)
    assert result.exit_code == 0 and "新增 3" in result.output and "仅检查" in result.output
    with make_session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(Beneficiary)) == 0

