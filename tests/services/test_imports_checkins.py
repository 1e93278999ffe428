"""The beneficiary import's 独居 and 平安计划 columns: optional, checked like the other columns, and the
plan following the categories and living alone unless the file (or staff) set it."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from models import Beneficiary
from services import checkins, imports
from tests.services.test_imports import HEADERS, make_id, run_import, write_xlsx
from tests.support.factories import fresh, make_town

COLUMNS = [*HEADERS, "独居", "平安计划"]


@pytest.fixture
def world(session, clock):
    """City > town > two villages, an assistant in each, a town officer and a supervisor."""
    return make_town(session, clock())


def row(world, n: int, name: str, categories: str, alone: str, plan: str) -> list[str]:
    """One beneficiary row of the first village with the two check-in cells."""
    return [name, make_id(n), "", categories, world.village.code, "", world.assistant.staff_no, alone, plan]


def stored(session) -> dict[str, tuple]:
    """Each beneficiary's (lives_alone, plan, set by staff), by name."""
    fresh(session)
    return {b.name: (b.lives_alone, b.checkin_plan, b.checkin_plan_by_staff) for b in session.scalars(select(Beneficiary))}


def test_living_alone_and_plans_are_imported(session, clock, world, tmp_path):
    """是 puts a 特困 on the daily default; a written plan is kept as set; blank cells are the defaults."""
    rows = [
        row(world, 1, "刘大爷", "特困", "是", ""),
        row(world, 2, "陈奶奶", "留守老人", "否", ""),
        row(world, 3, "王大妈", "低保", "是", "每周"),
        row(world, 4, "周奶奶", "留守老人", "是", "关闭"),
        row(world, 5, "赵爷爷", "留守老人", "", ""),
    ]
    report = run_import(session, clock, write_xlsx(tmp_path / "a.xlsx", COLUMNS, rows), "a.xlsx")
    assert report.applied and report.errors == 0, [r.messages for r in report.rows]
    assert stored(session) == {
        "刘大爷": (True, "daily", False),
        "陈奶奶": (False, "off", False),
        "王大妈": (True, "weekly", True),
        "周奶奶": (True, "off", True),
        "赵爷爷": (False, "off", False),
    }


def test_bad_cells_are_row_errors_naming_the_column(session, clock, world, tmp_path):
    """独居 other than 是/否 and a plan other than 每天/每周/关闭 fail their row, saying what was written."""
    rows = [row(world, 1, "刘大爷", "特困", "有时", ""), row(world, 2, "陈奶奶", "特困", "是", "每月")]
    report = run_import(session, clock, write_xlsx(tmp_path / "b.xlsx", COLUMNS, rows), "b.xlsx")
    assert not report.applied and report.errors == 2
    assert report.rows[0].messages == ["独居：请填“是”或“否”，不认识“有时”"]
    assert report.rows[1].messages == ["平安计划：请填每天、每周、关闭之一，不认识“每月”"]
    assert stored(session) == {}


def test_reimport_changes_the_default_and_keeps_a_staff_plan(session, clock, world, tmp_path):
    """Living alone changed in a later file moves a default plan, not one staff set; blank keeps; same is unchanged."""
    first = [row(world, 1, "刘大爷", "特困", "否", ""), row(world, 2, "陈奶奶", "特困", "否", "")]
    run_import(session, clock, write_xlsx(tmp_path / "c.xlsx", COLUMNS, first), "c.xlsx")
    fresh(session)
    chen = session.scalars(select(Beneficiary).where(Beneficiary.name == "陈奶奶")).one()
    checkins.set_plan(session, chen, "weekly", staff=world.assistant, now=clock())
    session.commit()
    again = [row(world, 1, "刘大爷", "特困", "是", ""), row(world, 2, "陈奶奶", "特困", "是", "")]
    report = run_import(session, clock, write_xlsx(tmp_path / "d.xlsx", COLUMNS, again), "d.xlsx")
    assert [r.action for r in report.rows] == ["update", "update"]
    assert stored(session) == {"刘大爷": (True, "daily", False), "陈奶奶": (True, "weekly", True)}
    blank = [row(world, 1, "刘大爷", "特困", "", ""), row(world, 2, "陈奶奶", "特困", "是", "每周")]
    report = run_import(session, clock, write_xlsx(tmp_path / "e.xlsx", COLUMNS, blank), "e.xlsx")
    assert [r.action for r in report.rows] == ["unchanged", "unchanged"]
    assert stored(session) == {"刘大爷": (True, "daily", False), "陈奶奶": (True, "weekly", True)}


def test_the_template_offers_the_two_columns_with_drop_downs(session):
    """The template's last two columns are 独居 and 平安计划, each with its list of values."""
    sheet = load_workbook(io.BytesIO(imports.beneficiary_template(session))).worksheets[0]
    assert [c.value for c in sheet[1]][-2:] == ["独居", "平安计划"]
    formulas = {dv.formula1 for dv in sheet.data_validations.dataValidation}
    assert '"是,否"' in formulas and '"每天,每周,关闭"' in formulas
