"""一键紧急求助 in the simulator, in headless Chromium at its usual width: a family member binds, taps
平安 › 紧急求助 (the numbers to call and who is coming), then 平安 › 发送位置, picks a place in the
picker and sends it; the chat shows the place and 已收到您的位置, and the assistant gets the place
with its Amap link.

Screenshots go to test-artifacts/simulator-sos.png and simulator-sos-picker.png (gitignored)."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import select

from models import Beneficiary
from services import roster
from tests.browser.conftest import screenshot
from tests.browser.test_simulator import chat, page, persona, say  # noqa: F401  # `page` is a fixture

PUSH_TIMEOUT_MS = 15000


def tap(page, group: str, name: str) -> None:
    """Open a menu group and tap one of its buttons."""
    page.locator("#menu summary", has_text=group).click()
    page.locator("#menu .menu-btn", has_text=name).click()


def test_sos_and_a_picked_place_in_the_browser(page, session, live_base):  # noqa: F811  # the `page` fixture
    """紧急求助 → urgent advice; 发送位置 → the picker → 发送 → 已收到您的位置; the assistant sees the place and its map."""
    first = session.scalars(select(Beneficiary).order_by(Beneficiary.id).limit(1)).one()
    assistant = roster.current_assignment(session, first).staff
    expect(page.locator("#personas button")).not_to_have_count(0)

    persona(page, f"{first.name}的家属")
    page.locator("#cards li", has_text=first.bind_code).locator("button").click()
    expect(chat(page)).to_contain_text("请问您是")
    say(page, "2")
    expect(chat(page)).to_contain_text("绑定成功")

    tap(page, "平安", "紧急求助")
    expect(chat(page)).to_contain_text("【菜单】紧急求助")
    expect(chat(page)).to_contain_text("120（急救）")
    expect(chat(page)).to_contain_text(assistant.name)

    # 发送位置 opens the picker (no CLICK is sent): her home first, then the village committee.
    tap(page, "平安", "发送位置")
    picker = page.locator("#picker")
    expect(picker).to_be_visible()
    expect(chat(page)).not_to_contain_text("【菜单】发送位置")
    expect(picker.locator("li")).to_have_count(3)
    expect(picker.locator("li").first).to_contain_text(first.address)
    picker.locator("li", has_text="村委会").locator("input").check()
    screenshot(page, "simulator-sos-picker")
    page.click("#picker-send")
    expect(picker).to_be_hidden()
    expect(chat(page).locator(".msg.me.location").last).to_contain_text(f"[位置] {first.village.name}村委会")
    expect(chat(page)).to_contain_text(f"已收到您的位置，已转告{assistant.name}")
    screenshot(page, "simulator-sos")

    # The assistant has the case and the place, with Amap's marker for it.
    persona(page, f"{assistant.name}（协理员")
    expect(chat(page)).to_contain_text(f"{first.name}的位置：{first.village.name}村委会", timeout=PUSH_TIMEOUT_MS)
    expect(chat(page).locator("a[href^='https://uri.amap.com/marker?position=']").last).to_be_attached()
