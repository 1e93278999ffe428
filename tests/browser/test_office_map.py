"""The service map's picture in headless Chromium: the city as an administrator (wide, at 390 px and
printed on A4 landscape) and a town as its officer (wide and at 390 px), each place coloured by its
gap; a click on a town zooms in, a click on a village opens its page; no script errors under the
page's CSP."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from models import Region, Staff
from models.enums import RegionLevel, StaffRole
from services.dashboard import LOAD_THRESHOLD
from tests.browser.conftest import ARTIFACTS, screenshot, signed_in_page
from tests.support.factories import make_beneficiary, make_region, make_staff, make_visit

# The legend's colours (office.css), which the picture takes from the same stylesheet.
RED, ORANGE, AMBER, GREEN = "#c92a2a", "#e8590c", "#f5c242", "#2b8a3e"


@pytest.fixture
def gaps(live_base, session):
    """Beside the demo's town, a town with one gap per village, built here so the colours are known:

    北塘村: one assistant with more people than the load threshold (orange); 西岭村: everyone visited
    today (green); 石桥村: registered two months ago, nobody visited since (amber); 沙湾村: visited
    today, but one person has no assistant (red).
    """
    now = datetime.now(UTC)
    city = session.scalars(select(Region).where(Region.level == RegionLevel.CITY.value)).one()
    town = make_region(session, RegionLevel.TOWN, city, now, name="青湖镇")
    villages = {}

    def village(name: str, people: int, *, visited: bool = True, nobody: int = 0) -> None:
        place = villages[name] = make_region(session, RegionLevel.VILLAGE, town, now, name=name)
        assistant = make_staff(session, StaffRole.ASSISTANT, place, now)
        registered = now - timedelta(days=60)
        for _ in range(people):
            person = make_beneficiary(session, place, registered, assistant=assistant)
            if visited:
                make_visit(session, person, assistant, now - timedelta(hours=2))
        for _ in range(nobody):
            make_beneficiary(session, place, registered)

    village("北塘村", LOAD_THRESHOLD + 1)
    village("西岭村", 16)
    village("石桥村", 14, visited=False)
    village("沙湾村", 12, nobody=1)
    session.commit()
    return villages


def _open(browser, live_base, staff_no: str, width: int = 1280):
    """Sign in as `staff_no` and open the map; return the page and what the console reported."""
    page, reported = signed_in_page(browser, live_base, staff_no, width)
    expect(page.locator(".nav")).to_contain_text("服务示意图")
    page.click(".nav >> text=服务示意图")
    expect(page.locator("#map-chart svg")).to_have_count(1)
    _settle(page)
    return page, reported


# True once nothing drawn in the picture has moved or changed for a quarter of a second.
STILL = """() => new Promise((done) => {
  const drawing = () => (document.querySelector("#map-chart svg") || {}).innerHTML || "";
  const before = drawing();
  setTimeout(() => done(before.length > 0 && drawing() === before), 300);
})"""


def _settle(page) -> None:
    """Wait until the treemap's animation is over."""
    page.wait_for_function(STILL, timeout=10_000)


def _shows(page, shown: tuple[str, ...], hidden: tuple[str, ...] = ()) -> None:
    """Wait until the picture writes every name in `shown` and none in `hidden` (a zoom is animated)."""
    page.wait_for_function(
        """([shown, hidden]) => {
          const words = [...document.querySelectorAll("#map-chart svg text")].map((t) => t.textContent).join(" ");
          return shown.every((w) => words.includes(w)) && !hidden.some((w) => words.includes(w));
        }""",
        arg=[list(shown), list(hidden)], timeout=10_000,
    )
    _settle(page)


def _drawn(page) -> str:
    """Every word drawn in the picture."""
    return " ".join(page.locator("#map-chart svg text").evaluate_all("all => all.map((t) => t.textContent)"))


def _fills(page) -> set[str]:
    """Every fill colour in the picture."""
    return set(page.locator("#map-chart svg [fill]").evaluate_all("all => all.map((e) => e.getAttribute('fill'))"))


def _click(page, text: str) -> None:
    """Click the picture where it writes `text`."""
    page.locator("#map-chart svg text", has_text=text).first.click(force=True)


def test_admin_sees_the_city_zooms_into_a_town_and_opens_a_village(live_base, browser, gaps):
    """Both towns with their villages, every gap in its colour; a town zooms in; a village opens."""
    admin, errors = _open(browser, live_base, "S0001")
    drawn = _drawn(admin)
    for name in ("柳河镇", "东湾村", "南岭村", "新街社区", "青湖镇", *gaps):
        assert name in drawn
    assert {RED, ORANGE, AMBER, GREEN} <= _fills(admin)
    legend = admin.locator("#map-legend")
    for words in ("有服务对象没有在岗协理员", f"有协理员负责超过 {LOAD_THRESHOLD} 人", "走访覆盖率低于 90%", "没有缺口"):
        expect(legend).to_contain_text(words)
    expect(admin.locator("#map")).to_contain_text("沙湾村")  # the table stays below the picture
    admin.locator("#map-chart svg text", has_text="沙湾村").first.hover(force=True)
    expect(admin.locator("#map-chart")).to_contain_text("没有在岗协理员：1 人")
    screenshot(admin, "office-map-admin")

    _click(admin, "青湖镇")
    _shows(admin, ("石桥村", "沙湾村"), hidden=("柳河镇", "东湾村"))
    screenshot(admin, "office-map-admin-town")
    _click(admin, "沙湾村")
    expect(admin.locator("h1")).to_contain_text("沙湾村")
    assert admin.url.endswith(f"/office/villages/{gaps['沙湾村'].id}")
    assert errors == []


def test_admin_on_a_phone_and_on_paper(live_base, browser, gaps):
    """At 390 px the towns come first and a tap shows a town's villages; printing gives one A4 landscape picture."""
    phone, errors = _open(browser, live_base, "S0001", width=390)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    assert "柳河镇" in _drawn(phone) and "东湾村" not in _drawn(phone)
    screenshot(phone, "office-map-admin-390")
    _click(phone, "柳河镇")
    _shows(phone, ("东湾村", "新街社区"), hidden=("青湖镇", "北塘村"))
    screenshot(phone, "office-map-admin-390-town")
    assert errors == []

    wide, errors = _open(browser, live_base, "S0001")
    wide.emulate_media(media="print")
    _settle(wide)
    pdf = ARTIFACTS / "office-map-admin-print.pdf"
    wide.pdf(path=str(pdf), prefer_css_page_size=True, print_background=True)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    width, height = (float(n) for n in info.split("Page size:")[1].split("pts")[0].split(" x "))
    assert (round(width), round(height)) == (842, 595)  # A4 landscape
    first = subprocess.run(["pdftotext", "-f", "1", "-l", "1", "-layout", str(pdf), "-"],
                           capture_output=True, text=True, check=True).stdout
    for words in ("民政服务示意图", "柳河镇", "青湖镇", "北塘村", "石桥村", "没有缺口"):
        assert words in first
    subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", str(pdf),
                    str(ARTIFACTS / "office-map-admin-print")], check=True)
    assert errors == []


def test_town_officer_sees_the_town_only_and_opens_a_village(live_base, browser, session, gaps):
    """The officer's picture is their town's villages; another town never appears; a click opens a village."""
    officer, errors = _open(browser, live_base, "T0003")
    drawn = _drawn(officer)
    assert "东湾村" in drawn and "新街社区" in drawn
    assert not any(name in drawn for name in ("青湖镇", *gaps))
    expect(officer.locator("#map-picture h2")).to_contain_text("柳河镇")
    screenshot(officer, "office-map-town-officer")
    _click(officer, "东湾村")
    expect(officer.locator("h1")).to_contain_text("东湾村")
    east = session.scalars(select(Region).where(Region.name == "东湾村")).one()
    assert officer.url.endswith(f"/office/villages/{east.id}")
    assert errors == []

    phone, errors = _open(browser, live_base, "T0003", width=390)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    assert "东湾村" in _drawn(phone) and "青湖镇" not in _drawn(phone)
    screenshot(phone, "office-map-town-officer-390")
    assert errors == []

    assistant = session.scalars(select(Staff).where(Staff.staff_no == "A0005")).one()
    own, errors = _open(browser, live_base, "A0005")
    drawn = _drawn(own)
    home = session.get(Region, assistant.region_id).name
    assert home in drawn and not any(v in drawn for v in {"东湾村", "南岭村", "新街社区"} - {home})
    assert errors == []
