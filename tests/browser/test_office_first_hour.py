"""What a newcomer to the dashboard met in the first hour, in headless Chromium: the board's status
filter picks what it says, an empty month's problems chart says so, the audit log reads in Chinese,
and a wrong password keeps the staff number typed."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import expect
from sqlalchemy import select

from devtools import demo
from models import Beneficiary, ServiceRequest, Staff
from runtime.clock import ShiftedClock
from runtime.container import request_env
from services import roster, visits
from services.policy.commands import VisitReport
from tests.browser.conftest import screenshot
from tests.browser.test_office import office  # noqa: F401  # the signed-in page fixture


def board_statuses(page) -> list[str]:
    """The 状态 column of the case board, found by its heading."""
    headings = [cell.strip() for cell in page.locator("#board thead th").all_inner_texts()]
    column = headings.index("状态") + 1
    return [cell.strip() for cell in page.locator(f"#board tbody tr td:nth-child({column})").all_inner_texts()]


def test_the_status_filter_picks_what_it_says(office, live_base, session):  # noqa: F811
    """在办 shows 待接单 and 办理中 together; 待接单 only those, 办理中 only those, each staying chosen."""
    statuses = session.scalars(select(ServiceRequest.status)).all()
    assert {"open", "acknowledged"} <= set(statuses), "the demo has cases in both states"
    page = office("S0001")
    page.goto(f"{live_base}/office/cases")
    expect(page.locator("select[name=status] option:checked")).to_have_text("在办（待接单和办理中）")
    assert set(board_statuses(page)) == {"待接单", "办理中"}
    for wanted in ("待接单", "办理中"):
        page.select_option("select[name=status]", label=wanted)
        page.click("#filters button")
        expect(page.locator("select[name=status] option:checked")).to_have_text(wanted)
        assert set(board_statuses(page)) == {wanted}
        expected = statuses.count("open" if wanted == "待接单" else "acknowledged")
        expect(page.locator("h1 small")).to_have_text(f"共 {expected} 件")


def test_an_empty_month_says_no_data_instead_of_drawing_equal_slices(  # noqa: F811
        office, live_base, session, settings, tmp_path):
    """No problem found this month: 暂无数据, no pie; once a visit finds one, the pie is drawn."""
    page = office("S0001")
    page.goto(f"{live_base}/office/visits")
    expect(page.locator("#problems")).to_contain_text("吃：0")
    expect(page.locator("#problems-chart")).to_contain_text("暂无数据")
    expect(page.locator("#problems-chart canvas")).to_have_count(0)
    screenshot(page, "office-visits-empty")

    person = session.scalars(select(Beneficiary).order_by(Beneficiary.id).limit(1)).one()
    assistant = roster.current_assignment(session, person).staff
    now = ShiftedClock(tmp_path / "clock-offset")() - timedelta(minutes=1)
    visits.record_visit(session, request_env(settings), assistant,
                        VisitReport(beneficiary_id=person.id, problems={"housing": "屋顶漏雨"}), now)
    session.commit()
    page.reload()
    expect(page.locator("#problems")).to_contain_text("住：1")
    expect(page.locator("#problems-chart canvas")).to_have_count(1)
    expect(page.locator("#problems-chart")).not_to_contain_text("暂无数据")


def test_the_audit_log_reads_in_chinese(office, live_base, session):  # noqa: F811
    """Actions by name (打印关爱服务电话卡, not cards.print) and details as words, not JSON."""
    person = session.scalars(select(Beneficiary).order_by(Beneficiary.id).limit(1)).one()
    page = office("S0001")
    page.goto(f"{live_base}/office/beneficiaries/{person.id}/card")
    expect(page.locator("svg")).to_have_count(1)
    page.goto(f"{live_base}/office/audit")
    log = page.locator("#audit")
    expect(log).to_contain_text("登录工作台")
    expect(log).to_contain_text("打印关爱服务电话卡")
    expect(log).to_contain_text("张数：1")
    expect(log).not_to_contain_text("cards.print")
    expect(log).not_to_contain_text("{")
    page.select_option("select[name=action]", label="打印关爱服务电话卡")
    page.click(".filters button")
    expect(page.locator("#audit tbody tr")).to_have_count(1)
    screenshot(page, "office-audit-chinese")


def test_a_wrong_password_keeps_the_staff_number(live_base, browser, session):
    """The form comes back with the 工号 still there and the password field ready to type again."""
    assert session.scalars(select(Staff).where(Staff.staff_no == "S0001")).one()
    page = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page.goto(f"{live_base}/office/login")
    page.fill("input[name=staff_no]", "S0001")
    page.fill("input[name=password]", "not-the-password")
    page.click("button[type=submit]")
    expect(page.locator(".flash.error")).to_be_visible()
    expect(page.locator("input[name=staff_no]")).to_have_value("S0001")
    expect(page.locator("input[name=password]")).to_have_value("")
    expect(page.locator("input[name=password]")).to_be_focused()
    page.fill("input[name=password]", demo.DEMO_PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator(".nav")).to_contain_text("退出")
    page.close()
