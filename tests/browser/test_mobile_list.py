"""The mobile list page in headless Chromium at phone width (390 px): the whole list, large type,
nothing cut off or scrolled sideways; the expired page says so kindly. Screenshots in test-artifacts/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from config import policy
from models import ServiceRequest, Staff
from models.enums import OPEN_STATUSES, StaffRole
from runtime.clock import ShiftedClock
from services.summary_links import CASES, TOWN_DIGEST, VISITS, ListLinks
from tests.browser.conftest import screenshot

PHONE = {"width": 390, "height": 844}

# Every element that holds text fits its box: nothing clipped, nothing wider than the screen.
NOTHING_CUT = """() => {
  const cut = [];
  for (const el of document.querySelectorAll('main *')) {
    if (!el.textContent.trim() || el.clientWidth === 0) continue;
    const box = el.getBoundingClientRect();
    if (el.scrollWidth > el.clientWidth + 1 || box.right > window.innerWidth + 0.5 || box.left < -0.5) {
      cut.push(el.tagName + ': ' + el.textContent.trim().slice(0, 30));
    }
  }
  return {cut, pageWidth: document.documentElement.scrollWidth,
          fontSize: parseFloat(getComputedStyle(document.body).fontSize)};
}"""


@pytest.fixture
def phone(browser):
    """A phone-sized page, as WeChat's in-app browser opens it."""
    page = browser.new_page(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True)
    yield page
    page.close()


@pytest.fixture
def app_clock(live_base, tmp_path):
    """The running app's clock (shifted to 09:00 by the live server's fixture)."""
    return ShiftedClock(str(tmp_path / "clock-offset"))


@pytest.fixture
def link(live_base, settings, app_clock):
    """A link signed as the running app signs them, at the app's time, to the live server."""
    signer = ListLinks(secret_key=settings.secret_key, base_url=live_base)
    return lambda staff, kind, covers, at=None: signer.url(staff.id, kind, covers, at or app_clock())


def first_officer(session) -> Staff:
    """The demo's first town officer."""
    return session.scalars(select(Staff).where(Staff.role == StaffRole.TOWN_OFFICER.value).order_by(Staff.id)).first()


def assert_fits_a_phone(page) -> None:
    """No horizontal scrolling, no clipped text, type large enough for older readers."""
    # After a form's redirect the text can be there before the stylesheet is applied.
    page.wait_for_load_state("load")
    found = page.evaluate(NOTHING_CUT)
    assert found["cut"] == []
    assert found["pageWidth"] <= PHONE["width"]
    assert found["fontSize"] >= 18


def test_a_town_officer_reads_every_case_of_an_escalation_digest(phone, link, session):
    """Every case the push was about, one card each, with number, name, village, state and wait."""
    officer = first_officer(session)
    cases = session.scalars(
        select(ServiceRequest).where(ServiceRequest.town_id == officer.region_id,
                                     ServiceRequest.status.in_([s.value for s in OPEN_STATUSES]))
        .order_by(ServiceRequest.id)
    ).all()
    assert len(cases) >= 2, "the demo has open cases in the first town"
    phone.goto(link(officer, CASES, [c.id for c in cases]))
    expect(phone.locator("#cases .item")).to_have_count(len(cases))
    for case in cases:
        expect(phone.locator("#cases")).to_contain_text(f"{case.id}号 {case.beneficiary.name}")
    expect(phone.locator("#cases")).to_contain_text("已等")
    assert_fits_a_phone(phone)
    screenshot(phone, "mobile-list-cases")


def test_an_assistant_reads_the_morning_visits(phone, link, session, settings, app_clock):
    """The visits due, how late, the categories and the number to report a visit with."""
    assistant = session.scalars(select(Staff).where(Staff.staff_no == "A0005")).one()
    phone.goto(link(assistant, VISITS, app_clock().astimezone(settings.tz).date()))
    expect(phone.locator("h1")).to_have_text("走访清单")
    expect(phone.locator("#visits .item").first).to_contain_text("对象编号")
    assert_fits_a_phone(phone)
    screenshot(phone, "mobile-list-visits")


def test_a_town_officer_reads_the_daily_digest(phone, link, session, settings, app_clock):
    """Today's figures, the town's open cases and its overdue visits."""
    officer = first_officer(session)
    phone.goto(link(officer, TOWN_DIGEST, app_clock().astimezone(settings.tz).date()))
    expect(phone.locator("h1")).to_contain_text("民政日报")
    expect(phone.locator("#figures")).to_contain_text("在办求助")
    assert_fits_a_phone(phone)
    screenshot(phone, "mobile-list-town-digest")


def test_an_expired_link_says_so_kindly(phone, link, session, app_clock):
    """410, a short explanation, nothing of the list."""
    officer = first_officer(session)
    old = app_clock() - timedelta(days=policy.MOBILE_LIST_DAYS, minutes=1)
    response = phone.goto(link(officer, TOWN_DIGEST, old.date(), at=old))
    assert response.status == 410
    expect(phone.locator("h1")).to_have_text("链接已过期")
    assert response.headers["cache-control"] == "private, no-store"
    assert_fits_a_phone(phone)
    screenshot(phone, "mobile-list-expired")
