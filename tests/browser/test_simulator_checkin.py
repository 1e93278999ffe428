"""The 报平安 walk in the simulator, in headless Chromium: a family member binds and taps 平安 ›
报平安 and gets a warm reply; the next day nobody checks in, so moving the clock past 10:00 brings
the family the reminder, and past 16:00 gives the assistant a 联系 task.

Screenshots go to test-artifacts/simulator-checkin-*.png (gitignored)."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import select

from models import Beneficiary
from models.enums import CheckinPlan
from services import roster
from tests.browser.conftest import screenshot
from tests.browser.test_simulator import chat, page, persona, say  # noqa: F401  # `page` is a fixture

PUSH_TIMEOUT_MS = 15000
# A day's step runs every job due on the way (the 16:00 scan opens a case for each silent person).
TICK_TIMEOUT_MS = 60000


def advance(page, minutes: int) -> None:
    """Press one of the clock buttons and wait until the tick has run."""
    before = page.locator("#now").inner_text()
    page.click(f"button[data-minutes='{minutes}']")
    expect(page.locator("#now")).not_to_have_text(before, timeout=TICK_TIMEOUT_MS)
    expect(page.locator("#tick-log")).to_contain_text("发送推送：")


def show(page, words: str) -> None:
    """Scroll the chat to the last message with `words` (other people's tasks may follow it)."""
    chat(page).locator("*", has_text=words).last.scroll_into_view_if_needed()


def test_the_checkin_walk_in_the_browser(page, session, live_base):  # noqa: F811  # the `page` fixture
    """Tap 报平安 → warm reply; the next day without a check-in: 10:00 → family reminder, 16:00 → assistant's task."""
    first = session.scalars(select(Beneficiary).order_by(Beneficiary.id).limit(1)).one()
    assert first.checkin_plan == CheckinPlan.DAILY.value, "the demo's first persona is on a daily plan"
    assistant = roster.current_assignment(session, first).staff
    expect(page.locator("#personas button")).not_to_have_count(0)

    # The family member binds by scanning the care card, then taps 平安 › 报平安 (09:00).
    persona(page, f"{first.name}的家属")
    page.locator("#cards li", has_text=first.bind_code).locator("button").click()
    expect(chat(page)).to_contain_text("请问您是")
    say(page, "2")
    expect(chat(page)).to_contain_text("绑定成功")
    page.locator("#menu summary", has_text="平安").click()
    page.locator("#menu .menu-btn", has_text="报平安").click()
    expect(chat(page)).to_contain_text("【菜单】报平安")
    expect(chat(page)).to_contain_text(f"已记下{first.name}今天平安")
    screenshot(page, "simulator-checkin-reply")

    # Today's 10:00 and 16:00 pass: they checked in, so nothing for them. The next morning, 09:00.
    advance(page, 1440)
    expect(chat(page)).not_to_contain_text("还没有报平安")
    # 12:00: nobody has checked in since yesterday, so at 10:00 the family is reminded.
    advance(page, 180)
    expect(page.locator("#tick-log")).to_contain_text("每日10:00报平安提醒家属")
    expect(chat(page)).to_contain_text(f"{first.name}今天还没有报平安", timeout=PUSH_TIMEOUT_MS)
    show(page, f"{first.name}今天还没有报平安")
    screenshot(page, "simulator-checkin-reminder")

    # 18:00: still nothing by 16:00, so the assistant has a 联系 task for them.
    advance(page, 180)
    advance(page, 180)
    expect(page.locator("#tick-log")).to_contain_text("每日16:00未报平安转协理员")
    persona(page, f"{assistant.name}（协理员")
    expect(chat(page)).to_contain_text(f"{first.name}今天没有报平安", timeout=PUSH_TIMEOUT_MS)
    show(page, f"{first.name}今天没有报平安")
    screenshot(page, "simulator-checkin-task")
