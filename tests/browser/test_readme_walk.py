"""The README's simulator walk, step by step as written, on a fresh demo as `make run` makes it.

The walk names no request number of its own: it tells you to use the number the reply gives, and
so does this test. Whatever it types, the README's walk says too (checked first)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.test_simulator import MEDIA_TIMEOUT_MS, audio_seconds, chat, prompted, say, shot

README = Path(__file__).resolve().parents[2] / "README.md"
# What the walk has you type or press, as the README writes it.
WALK_WORDS = ("**扫码**", "Answer `2`", "我摔倒了起不来", "`接单 144`", "answer `4`", "家里房子漏雨了",
              "**+3小时**", "请督办", "`完成 144 已送药上门`", "`评价 144 5`", "**+1天**", "今日走访")


@pytest.fixture
def settings(settings, fake_asr):
    """Speech recognition on, at the stand-in the simulator tells what each voice says (as make run has it)."""
    return settings.with_overrides(asr_url=fake_asr.url)


@pytest.fixture
def page(fresh_demo_base, browser):
    """A headless Chromium page on the simulator of a fresh demo."""
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page.goto(f"{fresh_demo_base}/dev/simulator/")
    expect(page.locator("#personas button")).not_to_have_count(0)
    yield page
    page.close()


def walk_text() -> str:
    """The README's walk section."""
    text = README.read_text(encoding="utf-8")
    start = text.index("### Try the whole loop in the simulator")
    return text[start:text.index("The menu buttons", start)]


def choose(page, button):
    """Switch to the persona of that button."""
    label = button.inner_text().strip()
    button.click()
    expect(page.locator("#phone-title")).to_have_text(re.compile(re.escape(label[:6])))


def family(page, nth: int):
    """The nth …的家属 persona's button and the beneficiary's name."""
    button = page.locator("#personas button", has_text="的家属").nth(nth)
    return button, button.inner_text().split("的家属")[0].strip()


def scan_card_of(page, name: str) -> None:
    """Press 扫码 on that beneficiary's care card."""
    page.locator("#cards li", has_text=re.compile(rf"^{re.escape(name)}（")).first.locator("button").click()


def test_the_readme_walk_as_written(page):
    """Steps 1 to 6 of the README's walk, each as it says, each with what it says happens."""
    walk = walk_text()
    for words in WALK_WORDS:
        assert words in walk, f"the README's walk no longer says {words!r}"

    # 1. The first …的家属 scans the card and answers 2 (子女).
    first, first_name = family(page, 0)
    choose(page, first)
    scan_card_of(page, first_name)
    expect(chat(page)).to_contain_text("请问您是")
    say(page, "2")
    expect(chat(page)).to_contain_text("绑定成功", timeout=15000)

    # 2. 语音: 我摔倒了起不来. The reply gives the number, the assistant (负责人) and 120; the
    # speech stand-in hears the words and the family is told again to call 120.
    prompted(page, "#voice-btn", "我摔倒了起不来")
    expect(chat(page)).to_contain_text("已收到您的求助，编号", timeout=15000)
    expect(chat(page)).to_contain_text("120")
    replied = chat(page).inner_text()
    number = re.search(r"编号 (\d+)", replied).group(1)
    assistant = re.search(r"负责人：([^，]+)，", replied).group(1)
    assert audio_seconds(page, "#chat .msg.me audio") > 0.5
    expect(chat(page)).to_contain_text("听到您说“我摔倒了起不来”", timeout=MEDIA_TIMEOUT_MS)
    shot(page, "walk-1-family-asks")

    # 3. That assistant sees the task, the words and the voice, and sends 接单 with the number.
    choose(page, page.locator("#personas button", has_text=f"{assistant}（协理员").first)
    expect(chat(page)).to_contain_text(f"新求助 {number}号", timeout=15000)
    expect(chat(page)).to_contain_text(f"紧急！求助 {number}号 语音内容：我摔倒了起不来", timeout=MEDIA_TIMEOUT_MS)
    say(page, f"接单 {number}")
    expect(chat(page)).to_contain_text(f"已接单：{number}号", timeout=15000)

    # 4. The second …的家属 scans, answers 4, sends 家里房子漏雨了: a new case, not an old one joined.
    second, second_name = family(page, 1)
    choose(page, second)
    scan_card_of(page, second_name)
    expect(chat(page)).to_contain_text("请问您是")
    say(page, "4")
    expect(chat(page)).to_contain_text("绑定成功", timeout=15000)
    say(page, "家里房子漏雨了")
    expect(chat(page)).to_contain_text("已收到您的求助，编号", timeout=15000)
    expect(chat(page)).not_to_contain_text("已补充到求助")
    second_number = re.findall(r"编号 (\d+)", chat(page).inner_text())[-1]
    # +3小时: the town officer gets 请督办 for it.
    page.click("button[data-minutes='180']")
    expect(page.locator("#tick-log")).to_contain_text("超时督办检查")
    choose(page, page.locator("#personas button", has_text="乡镇民政助理员").first)
    expect(chat(page)).to_contain_text("请督办", timeout=15000)
    expect(chat(page)).to_contain_text(re.compile(rf"\b{second_number}号"))
    shot(page, "walk-4-town-officer")

    # 5. The assistant resolves with the number; the first family member rates it.
    choose(page, page.locator("#personas button", has_text=f"{assistant}（协理员").first)
    say(page, f"完成 {number} 已送药上门")
    expect(chat(page)).to_contain_text(f"已办结：{number}号", timeout=15000)
    choose(page, first)
    expect(chat(page)).to_contain_text(f"评价 {number} 5", timeout=15000)
    say(page, f"评价 {number} 5")
    expect(chat(page)).to_contain_text("谢谢您的评价", timeout=15000)

    # 6. +1天 passes 08:00: the visit reminders run at 08:00 and reach the assistants.
    page.click("button[data-minutes='1440']")
    expect(page.locator("#tick-log")).to_contain_text(re.compile(r"每日08:00走访提醒：\d\d-\d\d 08:00 已运行"))
    assistants = page.locator("#personas button", has_text="（协理员")
    deadline = time.monotonic() + 15
    while not any(re.search(r"今日走访|待走访", chat(page).inner_text()) for _ in switch_through(page, assistants)):
        assert time.monotonic() < deadline, "no assistant got the 08:00 visit reminder"
    shot(page, "walk-6-visit-reminders")


def switch_through(page, buttons):
    """Switch to each persona of `buttons` in turn, stopping at the one the caller is looking for."""
    for index in range(buttons.count()):
        choose(page, buttons.nth(index))
        yield index
