"""The monthly report on the hand-built November: the spreadsheet's sheets and 合计 rows equal the
service figures and the figures page, and the PDF shows Chinese text and charts on A4."""

from __future__ import annotations

import re
from datetime import date
from io import BytesIO

import pytest
from openpyxl import load_workbook

from models import MonthlyReport, Staff
from models.enums import StaffRole
from runtime import reports
from services import accounts, figures, monthly_report
from services.monthly_report import CATEGORIES, shown
from tests.bot.office.test_pages import PASSWORD, sign_in
from tests.support import figures_history
from tests.support import pdf as reader
from tests.support.factories import make_staff
from tests.support.figures_history import NOVEMBER, TZ

MONTH = date(2026, 11, 1)
CITY_SHEETS = ["概览", "求助件数", "响应时长（小时）", "督办", "满意度", "四查四帮走访", "报平安", "各村（社区）概况",
               "服务专员工作量"]
TOWN_SHEETS = ["概览", "求助件数", "响应时长（小时）", "督办", "满意度", "四查四帮走访", "报平安", "服务专员工作量"]
# The figures page's tables, by id, and the report's sheets that hold the same columns.
PAGE_TABLES = {"raised": "求助件数", "times": "响应时长（小时）", "escalations": "督办", "satisfaction": "满意度",
               "visits": "四查四帮走访", "checkins": "报平安"}


@pytest.fixture
def history(session, clock):
    """The hand-built November in two towns."""
    return figures_history.build(session, clock())


@pytest.fixture
def city_report(session, history, clock):
    """November's city report, made as the command line makes it, and kept."""
    made = reports.make_report(session, month=MONTH, town=None, tz=TZ, now=clock(), actor="cli")
    session.commit()
    return made


def sheet_rows(xlsx: bytes, name: str) -> list[tuple]:
    """A sheet's rows as values."""
    return list(load_workbook(BytesIO(xlsx))[name].iter_rows(values_only=True))


def total_row(rows: list[tuple]) -> tuple:
    """The 合计 row of a sheet."""
    (found,) = [row for row in rows if row[0] == "合计"]
    return found


def test_the_workbook_has_the_sheets_and_the_totals_of_the_service_figures(city_report, session):
    """Every sheet is there; each 合计 equals service_figures for November, percentages are % cells."""
    book = load_workbook(BytesIO(city_report.xlsx))
    assert book.sheetnames == CITY_SHEETS
    total = figures.service_figures(session, monthly_report.WHOLE_CITY, *NOVEMBER, TZ, today=date(2026, 12, 1)).total
    assert total.raised == 5  # the hand-built figure, so the comparison below compares something
    raised = total_row(sheet_rows(city_report.xlsx, "求助件数"))
    assert raised[1:2 + len(CATEGORIES)] == (5, *(total.by_category.get(c, 0) for c in CATEGORIES))
    assert raised[-3:] == (4, 1, 1)  # 一般 4, 紧急 1, and October's one case as last month's
    times = total_row(sheet_rows(city_report.xlsx, "响应时长（小时）"))
    assert times[1:5] == pytest.approx((total.accept.p50_wall, total.accept.p90_wall, total.accept.p50_service,
                                        total.accept.p90_service))
    assert times[1] == pytest.approx(7.5)
    visits = total_row(sheet_rows(city_report.xlsx, "四查四帮走访"))
    assert visits[1:8] == (total.beneficiaries, total.visits_due, total.visits_covered, pytest.approx(total.coverage),
                           total.visits_made, total.overdue, total.problems["吃"])
    sheet = book["四查四帮走访"]
    total_at = next(r for r in range(1, sheet.max_row + 1) if sheet.cell(r, 1).value == "合计")
    assert sheet.cell(total_at, 5).number_format == "0%" and sheet.cell(total_at, 1).font.bold
    assert sheet.freeze_panes == "B6"  # below the two header rows, right of the town's name
    overview = {row[0]: row for row in sheet_rows(city_report.xlsx, "概览") if row and row[0]}
    assert overview["求助件数"][1:3] == (5, 1)
    assert overview["平均评分"][1] == pytest.approx(3.0)
    # The village and assistant lists add up to the same city.
    assert total_row(sheet_rows(city_report.xlsx, "各村（社区）概况"))[2] == 5
    assistants = sheet_rows(city_report.xlsx, "服务专员工作量")
    assert total_row(assistants)[3] == 5
    assert any(row[:2] == ("青湖镇", "北塘村") and str(row[2]).startswith("赵六（") for row in assistants)


def test_the_totals_equal_what_the_figures_page_shows(city_report, session, client, app, clock):
    """An administrator's figures page for November shows, cell for cell, the workbook's 合计 rows."""
    admin = make_staff(session, StaffRole.ADMIN, figures_history_city(session), clock(), name="管理员")
    accounts.set_password(session.get(Staff, admin.id), PASSWORD, clock())
    session.commit()
    sign_in(client, admin.staff_no)
    html = client.get("/office/figures?from=2026-11-01&to=2026-11-30").get_data(as_text=True)
    kinds = {t.key: t for t in city_report.data.tables}
    compared = 0
    for table_id, sheet in PAGE_TABLES.items():
        section = re.search(rf'<table[^>]*id="{table_id}".*?</table>', html, re.S).group(0)
        cells = re.findall(r"<td[^>]*>(.*?)</td>", re.search(r'<tr class="total">(.*?)</tr>', section, re.S).group(1),
                           re.S)
        table = kinds[{v: k for k, v in PAGE_TABLES.items()}[sheet]]
        row = total_row(sheet_rows(city_report.xlsx, sheet))
        page = [c.strip() for c in cells]
        ours = [shown(v if v != "—" else None, column.kind) for v, column in zip(row, table.columns)]
        width = len(page)  # the report's 求助件数 adds last month's total after the page's columns
        assert ours[:width] == page, sheet
        compared += width
    assert compared > 40


def figures_history_city(session):
    """The hand-built history's city."""
    from sqlalchemy import select

    from models import Region

    return session.scalars(select(Region).where(Region.level == "city")).one()


def test_the_pdf_shows_chinese_text_and_charts(city_report, tmp_path):
    """Page 1 as PNG is not blank and carries the overview chart's colours; the CJK font is embedded;
    the text reads in Chinese; a chart page has its bars too."""
    pdf = city_report.pdf
    assert pdf.startswith(b"%PDF-")
    first = reader.page_png(pdf, 1, reader.ARTIFACTS / "monthly-report-page1.png")
    width, height = first.size
    assert height / width == pytest.approx(297 / 210, abs=0.01) and height == 702  # A4 portrait at 60 dpi
    assert reader.ink_share(first) > 0.08
    # The urgent requests' red bar and the coverage bars (red below 70 %, green from 90 %) of the chart.
    assert reader.pixels_near(first, "#c0392b", 30) > 400
    assert reader.pixels_near(first, "#3a8f5c", 30) > 400
    words = reader.text(pdf, tmp_path)
    assert "示范市民政服务月报" in words and "2026年11月" in words and "求助件数" in words
    cjk = [f for f in reader.fonts(pdf, tmp_path) if "WenQuanYi" in f["name"] or "CJK" in f["name"]]
    assert cjk and all(f["embedded"] == "yes" for f in cjk)
    charts = reader.page_png(pdf, 2, reader.ARTIFACTS / "monthly-report-page2.png")
    assert reader.pixels_near(charts, "#8fb3d9", 20) > 2000  # the median bars of time to accept


def test_a_town_report_covers_its_villages_and_assistants_only(session, history, clock, tmp_path):
    """--town: the villages of the town, its assistants, and its total; nothing of the other town."""
    made = reports.make_report(session, month=MONTH, town=history.a.town, tz=TZ, now=clock(), actor="cli")
    session.commit()
    assert load_workbook(BytesIO(made.xlsx)).sheetnames == TOWN_SHEETS
    raised = sheet_rows(made.xlsx, "求助件数")
    assert [row[0] for row in raised if row[0] in ("东湾村", "南岭村", "北塘村")] == ["东湾村", "南岭村"]
    assert total_row(raised)[1] == 4
    assistants = sheet_rows(made.xlsx, "服务专员工作量")
    assert "赵六" not in str(assistants) and total_row(assistants)[2] == 4
    assert "柳河镇民政服务月报" in reader.text(made.pdf, tmp_path)
    stored = session.get(MonthlyReport, made.report.id)
    assert (stored.town_id, stored.complete, stored.period_end) == (history.a.town.id, True, date(2026, 11, 30))


def test_making_a_month_again_replaces_it_and_the_month_so_far_is_marked(session, history, clock):
    """One row per month and place; a report of the running month covers it up to today and is not complete."""
    first = reports.make_report(session, month=MONTH, town=None, tz=TZ, now=clock(), actor="cli").report.id
    again = reports.make_report(session, month=MONTH, town=None, tz=TZ, now=clock(), actor="cli").report.id
    running = reports.make_report(session, month=date(2026, 12, 1), town=None, tz=TZ, now=clock(), actor="cli")
    session.commit()
    assert first == again
    assert session.query(MonthlyReport).count() == 2
    assert (running.report.complete, running.report.period_end) == (False, date(2026, 12, 1))
    assert "本月尚未结束" in running.data.period_label


def test_names_are_text_in_both_files(session, history, clock, tmp_path):
    """A village typed as a formula stays text in the spreadsheet; `$…$` in a name is no chart formula."""
    history.a.other_village.name = '=HYPERLINK("http://x")'
    history.a.village.name = r"东湾$\x$村"  # as a matplotlib formula: an unknown symbol, and no chart
    session.commit()
    made = reports.make_report(session, month=MONTH, town=history.a.town, tz=TZ, now=clock(), actor="cli")
    sheet = load_workbook(BytesIO(made.xlsx))["求助件数"]
    (cell,) = [c for row in sheet.iter_rows() for c in row if c.value == '=HYPERLINK("http://x")']
    assert cell.data_type == "s" and cell.quotePrefix
    assert r"东湾$\x$村" in reader.text(made.pdf, tmp_path, 1, 3)
