"""The 月报 page through HTTP: making a report, the list and downloads within each role's reach, the
download headers (type, a Chinese file name by RFC 5987), audit, and refusals."""

from __future__ import annotations

from datetime import date
from urllib.parse import quote

import pytest
from sqlalchemy import select

from models import AuditEntry, MonthlyReport, Region
from models.enums import RegionLevel, StaffRole
from services import accounts
from tests.bot.office.test_pages import PASSWORD, csrf, sign_in
from tests.support import figures_history
from tests.support.factories import fresh, make_staff


@pytest.fixture
def history(session, clock, app):
    """The hand-built November; an administrator, its supervisor, officer and assistant can sign in."""
    built = figures_history.build_for_sign_in(session, clock())
    city = session.scalars(select(Region).where(Region.level == RegionLevel.CITY.value)).one()
    built.admin = make_staff(session, StaffRole.ADMIN, city, clock(), name="管理员")
    accounts.set_password(built.admin, PASSWORD, clock())
    session.commit()
    return built


def kept(session, clock, month: date, town_id: int | None) -> int:
    """A report already kept (its files stand in for real ones: these tests are about reach)."""
    city_id = (session.get(Region, town_id).parent_id if town_id is not None else
               session.scalars(select(Region.id).where(Region.level == RegionLevel.CITY.value)).one())
    report = MonthlyReport(month=month, city_id=city_id, town_id=town_id, period_end=month.replace(day=30),
                           complete=True, made_at=clock(), made_by_label="scheduler", xlsx=b"PK\x03\x04 sheet",
                           pdf=b"%PDF-1.7 page", xlsx_size=13, pdf_size=13)
    session.add(report)
    session.commit()
    return report.id


def make(client, **form):
    """Press 生成月报 with these fields."""
    return client.post("/office/reports", data={"csrf_token": csrf(client, "/office/reports"), **form})


def test_an_administrator_makes_the_city_report_and_downloads_both_files(client, session, history):
    """303 back to the list with a message; the PDF and the spreadsheet download with their types and
    Chinese names, privately, each download audited."""
    sign_in(client, history.admin.staff_no)
    page = client.get("/office/reports").get_data(as_text=True)
    assert "还没有月报" in page and 'value="2026-11"' in page and "青湖镇（各村、服务专员）" in page
    answer = make(client, month="2026-11", town="")
    assert answer.status_code == 303 and "/office/reports#report-" in answer.headers["Location"]
    listed = client.get("/office/reports").get_data(as_text=True)
    assert "已生成示范市民政服务月报（2026年11月）" in listed and "由管理员生成" in listed
    fresh(session)
    (report,) = session.scalars(select(MonthlyReport)).all()
    pdf = client.get(f"/office/reports/{report.id}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF-")
    assert pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.headers["Content-Disposition"] == (
        "attachment; filename=\"monthly-report-2026-11.pdf\"; "
        f"filename*=UTF-8''{quote('示范市民政服务月报-2026年11月.pdf')}")
    assert pdf.headers["Cache-Control"] == "private, no-store"
    xlsx = client.get(f"/office/reports/{report.id}.xlsx")
    assert xlsx.headers["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert xlsx.data.startswith(b"PK") and "%E6%9C%88.xlsx" in xlsx.headers["Content-Disposition"]
    fresh(session)
    downloads = session.scalars(select(AuditEntry).where(AuditEntry.action == "report.download")
                                .order_by(AuditEntry.id)).all()
    assert [(e.actor_staff_id, e.target_id, e.detail["format"]) for e in downloads] == \
        [(history.admin.id, report.id, "pdf"), (history.admin.id, report.id, "xlsx")]
    made = session.scalars(select(AuditEntry).where(AuditEntry.action == "report.make")).one()
    assert made.actor_staff_id == history.admin.id and made.ip


def test_a_town_officer_sees_and_makes_only_their_town(client, session, history, clock):
    """Their town's reports only; the city's and another town's are 404; making another town's is 403;
    the button makes their own town's."""
    november = date(2026, 11, 1)
    city = kept(session, clock, november, None)
    theirs = kept(session, clock, november, history.a.town.id)
    other = kept(session, clock, november, history.town_b.id)
    sign_in(client, history.a.officer.staff_no)
    page = client.get("/office/reports").get_data(as_text=True)
    assert f'id="report-{theirs}"' in page
    assert f'id="report-{city}"' not in page and f'id="report-{other}"' not in page
    assert 'name="town"' not in page and "范围：柳河镇" in page
    assert client.get(f"/office/reports/{theirs}.pdf").status_code == 200
    assert client.get(f"/office/reports/{other}.pdf").status_code == 404
    assert client.get(f"/office/reports/{city}.xlsx").status_code == 404
    assert make(client, month="2026-11", town=str(history.town_b.id)).status_code == 403
    assert make(client, month="2026-11").status_code == 303
    fresh(session)
    remade = session.get(MonthlyReport, theirs)
    assert remade.made_by_staff_id == history.a.officer.id and remade.pdf.startswith(b"%PDF-")
    assert remade.pdf_size > 1000
    assert session.get(MonthlyReport, other).made_by_label == "scheduler"


def test_an_assistant_has_no_access(client, session, history, clock):
    """The page, the button and the files are all 403 for an assistant; the nav has no 月报 link."""
    report = kept(session, clock, date(2026, 11, 1), history.a.town.id)
    sign_in(client, history.a.assistant.staff_no)
    assert client.get("/office/reports").status_code == 403
    assert client.get(f"/office/reports/{report}.pdf").status_code == 403
    figures_page = client.get("/office/figures").get_data(as_text=True)
    assert 'href="/office/reports"' not in figures_page


def test_the_page_is_linked_from_the_nav_and_the_figures_page(client, history):
    """A supervisor finds 月报 in the navigation and on the figures page."""
    sign_in(client, history.a.supervisor.staff_no)
    html = client.get("/office/figures").get_data(as_text=True)
    assert html.count('href="/office/reports"') == 2 and 'id="to-reports"' in html


@pytest.mark.parametrize(("form", "says"), [
    ({"month": "2026-13"}, "请选择月份"),
    ({"month": ""}, "请选择月份"),
    ({"month": "2027-01"}, "这个月还没有开始"),
    ({"month": "2026-11", "town": "99999"}, "没有这个乡镇"),
    ({"month": "2026-11", "town": "abc"}, "没有这个乡镇"),
])
def test_bad_input_gets_400_with_a_chinese_message(client, session, history, form, says):
    """A month that is no month or has not begun, a town that is none: 400 and the reason, nothing made."""
    sign_in(client, history.a.supervisor.staff_no)
    answer = make(client, **form)
    assert answer.status_code == 400 and says in answer.get_data(as_text=True)
    fresh(session)
    assert session.scalars(select(MonthlyReport)).all() == []


def test_a_village_is_not_a_town_and_unknown_files_are_404(client, session, history, clock):
    """A village's id is refused as a town; a report id nobody has, or another extension, is 404."""
    report = kept(session, clock, date(2026, 11, 1), None)
    sign_in(client, history.a.supervisor.staff_no)
    assert make(client, month="2026-11", town=str(history.a.village.id)).status_code == 400
    assert client.get(f"/office/reports/{report + 100}.pdf").status_code == 404
    assert client.get(f"/office/reports/{report}.docx").status_code == 404
    assert client.get(f"/office/reports/{report}.pdf").status_code == 200
