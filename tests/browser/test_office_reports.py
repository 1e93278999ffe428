"""The 月报 page in headless Chromium: an administrator makes last month's city report and downloads
its PDF under its Chinese name (wide and at 390 px); a town officer sees only the town; no script
errors under the page's CSP."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import select

from models import Region, Staff
from tests.browser.conftest import screenshot, signed_in_page


def _open(browser, live_base, staff_no: str, width: int = 1280):
    """Sign in as `staff_no` and follow the navigation to 月报; the page and what the console reported."""
    page, reported = signed_in_page(browser, live_base, staff_no, width, accept_downloads=True)
    page.click(".nav >> text=月报")
    expect(page.locator("h1")).to_have_text("月报")
    return page, reported


def test_make_and_download_as_admin_then_the_town_officer_view(live_base, browser, session):
    """The button makes last month's city report; its PDF downloads as 示范…月报-YYYY年M月.pdf."""
    admin, errors = _open(browser, live_base, "S0001")
    month = admin.locator("input[name=month]").input_value()
    admin.click("#make-report-button")
    expect(admin.locator(".flash.ok")).to_contain_text("已生成")
    year, number = (int(part) for part in month.split("-"))
    card = admin.locator(".report-list li").first
    expect(card).to_contain_text(f"{year}年{number}月")
    with admin.expect_download() as download:
        card.locator("text=PDF").click()
    assert download.value.suggested_filename.endswith(f"民政服务月报-{year}年{number}月.pdf")
    screenshot(admin, "office-reports-admin")
    assert errors == []

    phone, errors = _open(browser, live_base, "S0002", width=390)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(phone, "office-reports-supervisor-390")
    assert errors == []

    officer_staff = session.scalars(select(Staff).where(Staff.staff_no == "T0003")).one()
    town = session.get(Region, officer_staff.region_id)
    officer, errors = _open(browser, live_base, "T0003", width=390)
    expect(officer.locator("select[name=town]")).to_have_count(0)
    expect(officer.locator("#make-report")).to_contain_text(f"范围：{town.name}")
    expect(officer.locator(".report-list li")).to_have_count(0)  # the city's report is not theirs
    officer.click("#make-report-button")
    expect(officer.locator(".report-list li")).to_have_count(1)
    expect(officer.locator(".report-list li").first).to_contain_text(town.name)
    screenshot(officer, "office-reports-town-officer-390")
    assert errors == []
