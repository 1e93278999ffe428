"""Text that looks like a formula stays text in every spreadsheet we write: exports, the import error
report and the import templates (names and notes come from chat, the API and uploaded files)."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook, load_workbook

from models import ServiceRequest, Visit
from services import exports, imports
from services.sheet_text import text_row
from tests.services.test_imports import HEADERS, bad_check_digit, people_rows, run_import, write_csv
from tests.support.factories import make_beneficiary, make_staff, make_town

TZ = ZoneInfo("Asia/Shanghai")
HYPERLINK = '=HYPERLINK("http://x","y")'
AT = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)


def formulas_in(content: bytes) -> list[str]:
    """Every sheet of the saved file that holds a formula element."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return [name for name in archive.namelist()
                if name.startswith("xl/worksheets/") and b"<f>" in archive.read(name)]


def cell_with(sheet, value):
    """The one cell of `sheet` holding `value`."""
    found = [c for row in sheet.iter_rows() for c in row if c.value == value]
    assert len(found) == 1, (value, found)
    return found[0]


@pytest.fixture
def world(session, clock):
    """A town whose beneficiary is called `+1`, visited by `-2`, with a formula typed as the visit note."""
    town = make_town(session, clock())
    visitor = make_staff(session, town.assistant.role, town.village, clock(), name="-2")
    person = make_beneficiary(session, town.village, clock(), assistant=visitor, name="+1")
    session.add(Visit(beneficiary_id=person.id, staff_id=visitor.id, visited_at=AT, created_at=AT,
                      housing="problem", housing_note="@SUM(A1)", notes=HYPERLINK))
    session.add(ServiceRequest(beneficiary_id=person.id, village_id=town.village.id, town_id=town.town.id,
                               category="医", urgency="normal", status="open", summary="", source="wechat",
                               assignee_staff_id=visitor.id, escalation_level=0, created_at=AT, updated_at=AT))
    session.commit()
    town.visitor = visitor
    return town


def test_exports_write_names_and_notes_as_text(session, clock, world):
    """A note `=HYPERLINK(...)` and a name `+1` come back as strings, never formulas, quote-prefixed."""
    visits = exports.export_visits(session, now=clock(), tz=TZ, actor="test").content
    cases = exports.export_cases(session, now=clock(), tz=TZ, actor="test").content
    assert formulas_in(visits) == [] and formulas_in(cases) == []
    visit_sheet = load_workbook(io.BytesIO(visits)).active
    for value in (HYPERLINK, "+1", "@SUM(A1)"):
        cell = cell_with(visit_sheet, value)
        assert cell.data_type == "s" and cell.quotePrefix
    case_sheet = load_workbook(io.BytesIO(cases)).active
    assert cell_with(case_sheet, "+1").data_type == "s"
    assert cell_with(case_sheet, "东湾村").data_type == "s"


def test_the_error_report_writes_the_uploaded_cells_back_as_text(session, clock, world, tmp_path):
    """A bad row named `=HYPERLINK(...)` in an uploaded .csv is listed in the report as text."""
    rows = people_rows(world)
    rows[1][0], rows[1][1] = HYPERLINK, bad_check_digit(2)
    report = run_import(session, clock, write_csv(tmp_path / "a.csv", HEADERS, rows, "utf-8"), "a.csv")
    content = imports.error_report(report)
    assert formulas_in(content) == []
    cell = cell_with(load_workbook(io.BytesIO(content)).active, HYPERLINK)
    assert cell.data_type == "s" and cell.quotePrefix


def test_templates_list_staff_names_as_text(session, clock, world):
    """A member of staff named like a formula is listed in the template's reference sheet as text."""
    world.visitor.name = "=1+2"
    session.commit()
    content = imports.beneficiary_template(session)
    assert formulas_in(content) == []
    cell = cell_with(load_workbook(io.BytesIO(content))["村（社区）代码"], "=1+2")
    assert cell.data_type == "s"


@pytest.mark.parametrize("value", ["=1+2", "+1", "-1", "@A1", "\t=1+2", "\r=1+2", "＝1+2", "#N/A"])
def test_risky_text_becomes_a_quote_prefixed_text_cell(value):
    """Each lead a spreadsheet reads as a formula (or an error literal) gives a text cell."""
    sheet = Workbook(write_only=True).create_sheet()
    cell = text_row(sheet, [value])[0]
    assert cell.value == value and cell.data_type == "s" and cell.quotePrefix


def test_plain_values_pass_through_unchanged():
    """Ordinary text, numbers and blanks are left for openpyxl as they are."""
    sheet = Workbook(write_only=True).create_sheet()
    assert text_row(sheet, ["东湾村", 5, None, "", "1级"]) == ["东湾村", 5, None, "", "1级"]
