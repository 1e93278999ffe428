"""The office dashboard in headless Chromium: each role sees only what it may; filter the board and
open a case; reassign a beneficiary and set their 报平安 plan; import a spreadsheet with one bad row;
print a village's cards."""

from __future__ import annotations

from datetime import timedelta

import pytest
from openpyxl import Workbook
from playwright.sync_api import expect
from sqlalchemy import func, select

from devtools import demo
from models import Beneficiary, Region, ServiceRequest, Staff
from runtime.clock import ShiftedClock
from services import roster
from services.cards import display_phone
from services.policy import id_number
from tests.browser.conftest import screenshot


@pytest.fixture
def office(live_base, browser):
    """A function that opens a fresh browser session signed in as a staff number."""
    pages = []

    def sign_in(staff_no: str):
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        pages.append(page)
        page.goto(f"{live_base}/office/")
        page.fill("input[name=staff_no]", staff_no)
        page.fill("input[name=password]", demo.DEMO_PASSWORD)
        page.click("button[type=submit]")
        expect(page.locator(".nav")).to_contain_text("退出")
        return page

    yield sign_in
    for page in pages:
        page.close()


def test_each_role_sees_only_what_it_may(office, live_base, session):
    """Admin: audit log; supervisor: the city but no audit; town officer: the town; assistant: own cases, read-only."""
    admin = office("S0001")
    expect(admin.locator(".nav")).to_contain_text("审计日志")
    admin.click("text=审计日志")
    expect(admin.locator("#audit")).to_contain_text("登录工作台")
    screenshot(admin, "office-admin-audit")

    supervisor = office("S0002")
    expect(supervisor.locator(".nav")).not_to_contain_text("审计日志")
    supervisor.goto(f"{live_base}/office/audit")
    expect(supervisor.locator("body")).to_contain_text("您的角色不能查看这个页面")
    supervisor.goto(f"{live_base}/office/map")
    expect(supervisor.locator("#map")).to_contain_text("柳河镇")
    screenshot(supervisor, "office-supervisor-map")

    assistant_no = "A0005"
    assistant = session.scalars(select(Staff).where(Staff.staff_no == assistant_no)).one()
    own = office(assistant_no)
    own.goto(f"{live_base}/office/cases?status=all")
    rows = own.locator("#board tbody tr")
    theirs = session.scalars(select(ServiceRequest).where(ServiceRequest.assignee_staff_id == assistant.id)).all()
    others = session.scalars(select(ServiceRequest).where(ServiceRequest.assignee_staff_id != assistant.id)).all()
    expect(rows).to_have_count(max(len(theirs), 1))
    board = own.locator("#board").inner_text()
    for case in others:
        people_of_theirs = {c.beneficiary_id for c in theirs}
        if case.beneficiary_id not in people_of_theirs:
            assert f"\n{case.id}\t" not in f"\n{board}"
    expect(own.locator(".nav")).not_to_contain_text("导入导出")
    screenshot(own, "office-assistant-cases")


def test_filter_the_board_open_a_case_and_comment(office, live_base, session):
    """The town officer filters by category, opens a case, and adds a note that lands on the timeline."""
    case = session.scalars(select(ServiceRequest).where(ServiceRequest.status.in_(["open", "acknowledged"]))
                           .order_by(ServiceRequest.id)).first()
    page = office("T0003")
    page.click("text=案件看板")
    page.select_option("select[name=category]", case.category)
    page.click("#filters button")
    expect(page.locator("#board tbody tr").first).to_contain_text(case.category)
    page.click(f"#board a:text-is('{case.id}')")
    expect(page.locator("h1")).to_contain_text(f"求助 {case.id}号")
    page.fill("input[name=text] >> nth=0", "已电话联系家属，明早上门")
    page.click("text=添加备注")
    expect(page.locator("#timeline")).to_contain_text("已电话联系家属，明早上门")
    screenshot(page, "office-case")


def test_reassign_a_beneficiary_and_set_their_checkin_plan(office, live_base, session):
    """One action moves a beneficiary to another assistant of the village; the page shows the new one.
    Then a 每周 报平安 plan, living alone: saved as set by staff, shown on the page."""
    person = session.scalars(select(Beneficiary).order_by(Beneficiary.id)).first()
    current = roster.current_assignment(session, person).staff
    other = session.scalars(select(Staff).where(Staff.region_id == person.village_id, Staff.role == "assistant",
                                                Staff.id != current.id)).first()
    page = office("T0003")
    page.goto(f"{live_base}/office/beneficiaries/{person.id}")
    page.select_option("#reassign select[name=staff_id]", str(other.id))
    page.click("#reassign button")
    expect(page.locator(".flash.ok")).to_contain_text(f"已改由{other.name}负责")
    expect(page.locator("#assistant")).to_contain_text(other.name)
    screenshot(page, "office-reassigned")

    page.select_option("#checkin-form select[name=plan]", "weekly")
    page.select_option("#checkin-form select[name=lives_alone]", "1")
    page.click("#checkin-form button")
    expect(page.locator(".flash.ok")).to_contain_text(f"已保存：{person.name}报平安计划为每周（工作人员设定）")
    expect(page.locator("#checkin-plan")).to_contain_text("每周")
    expect(page.locator("#checkin-plan")).to_contain_text("工作人员设定")
    expect(page.locator("#lives-alone")).to_have_text("是")
    expect(page.locator("#checkin-form select[name=plan]")).to_have_value("weekly")
    session.rollback()
    saved = session.get(Beneficiary, person.id)
    assert (saved.checkin_plan, saved.checkin_plan_by_staff, saved.lives_alone) == ("weekly", True, True)
    screenshot(page, "office-checkin-plan")


def test_import_with_one_bad_row_then_confirm_the_good_rows(office, live_base, session, tmp_path):
    """A file with a bad ID number imports nothing; the report names the row; confirming imports the rest."""
    village = session.scalars(select(Region).where(Region.level == "village").order_by(Region.code)).first()
    assistant = session.scalars(select(Staff).where(Staff.region_id == village.id, Staff.role == "assistant")).first()
    book = Workbook()
    sheet = book.active
    sheet.append(["姓名", "身份证号", "联系电话", "对象类别", "所属村（社区）代码", "家庭住址", "协理员工号"])
    sheet.append(["新甲", "11010519491231002X", "13900001111", "低保", village.code, "东头组1号", assistant.staff_no])
    sheet.append(["新乙", "110105194912310021", "13900002222", "特困", village.code, "东头组2号", assistant.staff_no])
    third = "44030119800101003" + id_number.check_digit("44030119800101003")
    sheet.append(["新丙", third, "13900003333", "残疾人、低保", village.code, "东头组3号", assistant.staff_no])
    path = tmp_path / "新增对象.xlsx"
    book.save(path)
    before = session.scalar(select(func.count()).select_from(Beneficiary))

    page = office("S0001")
    page.click("text=导入导出")
    page.set_input_files("#file-beneficiaries", str(path))
    page.click("#upload-beneficiaries")
    expect(page.locator("#import-report")).to_contain_text("还没有导入任何数据")
    expect(page.locator("#import-errors")).to_contain_text("3")
    expect(page.locator("#import-errors")).to_contain_text("校验位")
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Beneficiary)) == before
    with page.expect_download() as download:
        page.click("text=下载问题报告")
    assert download.value.suggested_filename.endswith(".xlsx")
    screenshot(page, "office-import-report")
    page.click("#import-good-rows")
    expect(page.locator("#import-report")).to_contain_text("已导入 2 行")
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Beneficiary)) == before + 2
    assert {"新甲", "新丙"} <= set(session.scalars(select(Beneficiary.name)))


def test_print_a_villages_cards(office, live_base, session):
    """The village's cards carry a QR code each and the assistant's phone."""
    village = session.scalars(select(Region).where(Region.level == "village").order_by(Region.code)).first()
    people = session.scalars(select(Beneficiary).where(Beneficiary.village_id == village.id,
                                                       Beneficiary.active.is_(True))).all()
    first = sorted(people, key=lambda p: p.name)[0]
    phone = display_phone(roster.current_assignment(session, first).staff.phone)
    page = office("T0003")
    page.goto(f"{live_base}/office/villages/{village.id}")
    page.click("text=打印本村关爱服务电话卡")
    expect(page.locator("svg")).to_have_count(len(people))
    expect(page.locator("body")).to_contain_text(phone)
    expect(page.locator("body")).to_contain_text(first.bind_code)
    expect(page.locator("body")).to_contain_text("120")
    screenshot(page, "office-cards")
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF")


def test_the_duty_rota_at_a_phone_s_width(live_base, browser, tmp_path):
    """At 20:00 the admin fills this week's rota on a 390 px screen: ten shifts by day, tonight's
    highlighted with the person on duty named, nothing wider than the screen."""
    # The live app's clock (09:00) moves to 20:00, outside office hours, before signing in.
    ShiftedClock(tmp_path / "clock-offset").advance(timedelta(hours=11))
    page = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN", device_scale_factor=2)
    try:
        page.goto(f"{live_base}/office/")
        page.fill("input[name=staff_no]", "S0001")
        page.fill("input[name=password]", demo.DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.click("text=包联与值班")
        expect(page.locator("h1")).to_contain_text("包村责任")
        page.click(".tabs >> text=值班表")
        expect(page.locator("#fill-week")).to_contain_text("这一周还没有排班")
        page.click("#fill-week-button")
        expect(page.locator(".flash.ok")).to_contain_text("已排好这一周的 10 个班次")
        expect(page.locator("#rota .shift")).to_have_count(10)
        expect(page.locator("#rota .shift.current")).to_have_count(1)
        on_duty = page.locator("#rota .shift.current .who").inner_text()
        expect(page.locator("#on-duty")).to_contain_text(f"现在值班：{on_duty}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        screenshot(page, "office-duty-rota-390")
    finally:
        page.close()
