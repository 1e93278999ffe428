"""The trends page in headless Chromium on the small demo as a fresh `make run` has it (its history up
to today, the daily figures computed as the scheduler would): as an administrator and as a town officer, wide and at
390 px. Every chart draws, the one legend hides a line in all of them, the accept chart switches to
wall time, and nothing is refused by the page's CSP."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import expect
from sqlalchemy import select

from models import Region, Staff
from models.enums import RegionLevel
from runtime.clock import ShiftedClock
from services import daily_figures, weekly_figures
from tests.browser.conftest import screenshot, signed_in_page

TZ = ZoneInfo("Asia/Shanghai")
MEASURES = ("raised", "acceptService", "escalated", "rating", "coverage", "overdue")
# How many pixels of each chart's canvas are drawn on (not transparent): axes alone draw some, so
# the charts are also asked how many of their points have a value.
INK = """(box) => {
  const canvas = box.querySelector("canvas");
  if (!canvas) return 0;
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let drawn = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) drawn += 1;
  return drawn;
}"""
POINTS = """(box) => echarts.getInstanceByDom(box).getOption().series
  .reduce((n, s) => n + s.data.filter((v) => v !== null && v !== undefined).length, 0)"""


def _daily_figures(session, tmp_path) -> None:
    """What the scheduler's figures job keeps: every day of the demo's history, to the app's today."""
    now = ShiftedClock(tmp_path / "clock-offset")()
    today = now.astimezone(TZ).date()
    daily_figures.rebuild(session, today - timedelta(days=70), today, TZ, now)
    weekly_figures.rebuild(session, today, TZ, now)
    session.commit()


def _open(browser, fresh_demo_base, staff_no: str, width: int = 1280):
    """Sign in as `staff_no` and open the trends from the navigation; return the page and what the console reported."""
    page, reported = signed_in_page(browser, fresh_demo_base, staff_no, width)
    expect(page.locator(".nav")).to_contain_text("服务趋势")
    page.click(".nav >> text=服务趋势")
    expect(page.locator("h1")).to_contain_text("服务趋势")
    expect(page.locator("#chart-raised canvas")).to_have_count(1)
    page.wait_for_timeout(900)  # the lines' entry animation
    return page, reported


def _charts_drew(page, measures=MEASURES) -> None:
    """Each chart has a canvas with ink on it, and points with values behind it."""
    for key in measures:
        box = page.locator(f"#chart-{key}")
        assert box.evaluate(INK) > 2000, key
    for key in ("raised", "coverage", "overdue"):
        assert page.locator(f"#chart-{key}").evaluate(POINTS) > 0, key


def _selected(page, key: str) -> dict:
    """Which lines a chart shows, by name."""
    return page.locator(f"#chart-{key}").evaluate(
        "(box) => echarts.getInstanceByDom(box).getOption().legend[0].selected")


def test_trends_as_admin_wide_and_phone(fresh_demo_base, browser, session, tmp_path):
    """The city and its town as lines, the workload below; the legend and the wall-time switch work."""
    _daily_figures(session, tmp_path)
    town = session.scalars(select(Region).where(Region.level == RegionLevel.TOWN.value)).one()
    admin, errors = _open(browser, fresh_demo_base, "S0001")
    _charts_drew(admin)
    expect(admin.locator("#trend-legend .chip")).to_have_count(2)
    expect(admin.locator("#trend-legend")).to_contain_text(town.name)
    expect(admin.locator("#trend-summary li")).to_have_count(len(MEASURES))
    expect(admin.locator("#workload tbody tr").first).to_be_visible()
    assert admin.locator("#load-chart").evaluate(INK) > 2000
    screenshot(admin, "office-trends-admin")

    # One click on the town's chip hides its line in every chart; 全部显示 brings it back.
    admin.locator("#trend-legend .chip", has_text=town.name).click()
    assert all(_selected(admin, key)[town.name] is False for key in MEASURES)
    admin.click("button[data-legend=all]")
    assert all(_selected(admin, key)[town.name] is not False for key in MEASURES)
    # The time to accept, in wall hours instead of service hours.
    admin.click("button[data-variant=acceptWall]")
    wall = admin.locator("#chart-acceptService").evaluate(
        "(box) => echarts.getInstanceByDom(box).getOption().series[0].data")
    expected = admin.evaluate("JSON.parse(document.getElementById('trends-data').textContent).series[0].acceptWall")
    assert wall[:-1] == expected[:-1]  # the solid line; this week is in the dashed one
    assert errors == []

    phone, errors = _open(browser, fresh_demo_base, "S0001", width=390)
    _charts_drew(phone)
    # The charts fit the screen; the wide workload table scrolls inside its own box.
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    assert phone.locator("#chart-raised canvas").evaluate("(c) => c.getBoundingClientRect().width") <= 390
    screenshot(phone, "office-trends-admin-390")
    assert errors == []


def test_trends_as_town_officer(fresh_demo_base, browser, session, tmp_path):
    """The town officer's lines are the town's villages and the town; no town chooser."""
    _daily_figures(session, tmp_path)
    officer_staff = session.scalars(select(Staff).where(Staff.staff_no == "T0003")).one()
    villages = session.scalars(select(Region).where(Region.parent_id == officer_staff.region_id)).all()
    officer, errors = _open(browser, fresh_demo_base, "T0003")
    _charts_drew(officer)
    expect(officer.locator("#trend-legend .chip")).to_have_count(len(villages) + 1)
    for village in villages:
        expect(officer.locator("#trend-legend")).to_contain_text(village.name)
    expect(officer.locator("select[name=town]")).to_have_count(0)
    screenshot(officer, "office-trends-town-officer")
    assert errors == []

    phone, errors = _open(browser, fresh_demo_base, "T0003", width=390)
    _charts_drew(phone)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(phone, "office-trends-town-officer-390")
    assert errors == []
