"""The dashboard under its Content-Security-Policy in headless Chromium: every page works and the
browser reports no violation; the ECharts coverage charts still draw."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import select

from devtools import demo
from models import Region, ServiceRequest

VIOLATION = ("Content Security Policy", "Refused to")


def test_office_pages_satisfy_their_csp(live_base, browser, session):
    """Map, board, a case, visits (charts drawn), a village, its cards: no CSP violation reported."""
    village = session.scalars(select(Region).where(Region.level == "village").order_by(Region.code)).first()
    case = session.scalars(select(ServiceRequest).order_by(ServiceRequest.id)).first()
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    reported: list[str] = []
    page.on("console", lambda message: reported.append(message.text)
            if any(word in message.text for word in VIOLATION) else None)
    try:
        page.goto(f"{live_base}/office/")
        page.fill("input[name=staff_no]", "S0001")
        page.fill("input[name=password]", demo.DEMO_PASSWORD)
        page.click("button[type=submit]")
        expect(page.locator(".nav")).to_contain_text("退出")
        for path in ("/office/map", "/office/cases", f"/office/cases/{case.id}", f"/office/villages/{village.id}",
                     f"/office/villages/{village.id}/cards"):
            assert page.goto(f"{live_base}{path}").status == 200, path
        page.goto(f"{live_base}/office/visits")
        expect(page.locator("#coverage-chart canvas")).to_have_count(1)
        # The demo's visits were all before this month: the problems chart says so instead of a pie
        # (tests/browser/test_office_first_hour.py draws one).
        expect(page.locator("#problems-chart")).to_contain_text("暂无数据")
        page.hover("#coverage-chart canvas")
        assert reported == []
    finally:
        page.close()
