"""The service figures page in headless Chromium: the city by town as an administrator (wide and at
390 px), the town by assistant as a town officer; no script errors under the page's CSP."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import expect
from sqlalchemy import select

from models import Region, ServiceRequest, Staff
from models.enums import RegionLevel
from tests.browser.conftest import screenshot, signed_in_page

TZ = ZoneInfo("Asia/Shanghai")


def _open(browser, live_base, staff_no: str, query: str, width: int = 1280):
    """Sign in as `staff_no` and open the figures page; return the page and what the console reported."""
    page, reported = signed_in_page(browser, live_base, staff_no, width)
    expect(page.locator(".nav")).to_contain_text("服务统计")
    page.click("text=服务统计")
    expect(page.locator("h1")).to_have_text("服务统计")
    page.goto(f"{live_base}/office/figures?{query}")
    return page, reported


def test_figures_as_admin_and_town_officer(live_base, browser, session):
    """The admin sees every town and the city total; the town officer only their town's assistants."""
    first = session.scalar(select(ServiceRequest.created_at).order_by(ServiceRequest.created_at))
    start = first.astimezone(TZ).date()
    towns = session.scalars(select(Region).where(Region.level == RegionLevel.TOWN.value)).all()
    period = f"from={start.isoformat()}&to={(start + timedelta(days=70)).isoformat()}"

    admin, errors = _open(browser, live_base, "S0001", period)
    for town in towns:
        expect(admin.locator("#raised")).to_contain_text(town.name)
    expect(admin.locator("#raised tr.total")).to_contain_text("合计")
    expect(admin.locator("#visits")).to_contain_text("覆盖率")
    screenshot(admin, "office-figures-admin")
    assert errors == []

    phone, _ = _open(browser, live_base, "S0001", period, width=390)
    # The wide tables scroll inside their own box; the page itself does not grow sideways.
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(phone, "office-figures-admin-390")

    officer_staff = session.scalars(select(Staff).where(Staff.staff_no == "T0003")).one()
    own_town = session.get(Region, officer_staff.region_id)
    officer, errors = _open(browser, live_base, "T0003", period + "&level=assistant")
    expect(officer.locator("select[name=level]")).to_have_value("assistant")
    body = officer.locator("#raised").inner_text()
    outsiders = session.scalars(select(Staff).join(Region, Region.id == Staff.region_id)
                                .where(Staff.role == "assistant", Region.parent_id != own_town.id)).all()
    assert not any(s.staff_no in body for s in outsiders)
    expect(officer.locator("select[name=town]")).to_have_count(0)  # no other town to choose
    expect(officer.locator("#raised tr.total")).to_contain_text("合计")
    screenshot(officer, "office-figures-town-officer")
    assert errors == []
