"""The whole 三直达 loop in the simulator, in headless Chromium: a family member scans the card and
asks for help; the assistant sees the push and accepts; time moves on and an unanswered second
request escalates to the town officer; the first is resolved and rated.

Screenshots of each persona's chat go to test-artifacts/ (gitignored)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from models import Beneficiary, Staff
from models.enums import StaffRole
from services import roster
from tests.browser.conftest import screenshot


@pytest.fixture
def page(live_base, browser):
    """A headless Chromium page on the simulator."""
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page.goto(f"{live_base}/dev/simulator/")
    yield page
    page.close()


def persona(page, label_start: str):
    """Switch to the persona whose label starts with `label_start`."""
    page.locator("#personas button", has_text=label_start).first.click()
    expect(page.locator("#phone-title")).to_contain_text(label_start)


def say(page, text: str) -> None:
    """Type and send a text message as the current persona."""
    page.fill("#text", text)
    page.click("#send-btn")


def chat(page):
    """The current persona's chat pane."""
    return page.locator("#chat")


def shot(page, name: str) -> None:
    """Save a screenshot of the current persona's chat."""
    screenshot(page, f"simulator-{name}")


@pytest.mark.parametrize("live_base", ["inline", "queued"], indirect=True)
def test_the_whole_loop_in_the_browser(page, session, live_base):
    """Bind by scanning, ask by voice, accept, escalate after time moves, resolve, rate: with passive
    replies, and with queued replies that arrive as customer-service messages."""
    first, second = session.scalars(select(Beneficiary).order_by(Beneficiary.id).limit(2)).all()
    assistant = roster.current_assignment(session, first).staff
    officer = session.scalars(select(Staff).where(Staff.role == StaffRole.TOWN_OFFICER.value).order_by(Staff.id)).first()
    expect(page.locator("#personas button")).not_to_have_count(0)

    # A family member scans the care card and binds as 子女.
    persona(page, f"{first.name}的家属")
    page.locator("#cards li", has_text=first.bind_code).locator("button").click()
    expect(chat(page)).to_contain_text("请问您是")
    say(page, "2")
    expect(chat(page)).to_contain_text("绑定成功")
    # A voice message (what was said is typed in the prompt) raises the request.
    page.once("dialog", lambda dialog: dialog.accept("我妈腿疼得厉害，降压药也吃完了"))
    page.click("#voice-btn")
    expect(chat(page)).to_contain_text("已收到您的求助，编号")
    number = re.search(r"编号 (\d+)", chat(page).inner_text()).group(1)
    expect(chat(page)).to_contain_text(assistant.name)
    shot(page, "family-asks")

    # The assistant sees the task push (a customer-service message: they wrote to the account
    # when they bound, so WeChat's 48-hour window is open), and accepts.
    persona(page, f"{assistant.name}（协理员")
    expect(chat(page)).to_contain_text(f"新求助 {number}号", timeout=15000)
    say(page, f"接单 {number}")
    expect(chat(page)).to_contain_text(f"已接单：{number}号")
    shot(page, "assistant-accepts")

    # A second family raises a request nobody answers.
    persona(page, f"{second.name}的家属")
    page.locator("#cards li", has_text=second.bind_code).locator("button").click()
    expect(chat(page)).to_contain_text("请问您是")
    say(page, "4")
    expect(chat(page)).to_contain_text("绑定成功")
    say(page, "家里房子漏雨了，墙也裂了")
    expect(chat(page)).to_contain_text("已收到您的求助，编号")
    second_number = re.findall(r"编号 (\d+)", chat(page).inner_text())[-1]

    # Time moves on three hours: the scheduler escalates the unanswered request to the town officer.
    page.click("button[data-minutes='180']")
    expect(page.locator("#tick-log")).to_contain_text("escalation_scan: 1")
    persona(page, officer.name)
    # The demo's older open cases climb in the same scan, so the officer gets them as one digest.
    expect(chat(page)).to_contain_text("请督办：", timeout=15000)
    expect(chat(page)).to_contain_text(re.compile(rf"\b{second_number}号 .*已等待3小时"))
    shot(page, "town-officer-escalation")
    expect(page.locator("#chat")).to_contain_text("已等待3小时")

    # The assistant resolves the first request; the family member is asked to rate, and rates.
    persona(page, f"{assistant.name}（协理员")
    say(page, f"完成 {number} 已送药上门，血压正常")
    expect(chat(page)).to_contain_text(f"已办结：{number}号")
    persona(page, f"{first.name}的家属")
    expect(chat(page)).to_contain_text(f"评价 {number} 5", timeout=15000)
    say(page, f"评价 {number} 5 很及时")
    expect(chat(page)).to_contain_text("谢谢您的评价")
    shot(page, "family-rates")
    persona(page, f"{second.name}的家属")
    expect(chat(page)).to_contain_text("已提请乡镇民政办督办", timeout=15000)
    shot(page, "second-family-pressed")
