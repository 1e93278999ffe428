"""The whole 三直达 loop in the simulator, in headless Chromium: a family member scans the card and
asks for help with a real voice message (spoken by espeak-ng, heard by the speech-recognition
stand-in) and a photo; the assistant sees the push, hears the voice, sees the photo and accepts;
time moves on and an unanswered second request escalates to the town officer; the first is
resolved and rated.

Screenshots of each persona's chat go to test-artifacts/ (gitignored)."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import requests
from playwright.sync_api import expect
from sqlalchemy import select

from devtools import devstack
from devtools.fake_sms import FakeSmsServer
from devtools.sim_sms import DEV_SMS_TEMPLATES, template_variables
from models import Beneficiary, Staff
from models.db import make_session_factory
from models.enums import RequestChannel, StaffRole
from runtime.container import request_env
from services import on_behalf, roster
from tests.browser.conftest import screenshot

# Loading a voice converts it with ffmpeg and the media pass runs on the inbox poll: allow for both.
MEDIA_TIMEOUT_MS = 20000



@pytest.fixture
def sms_standin():
    """The SMS stand-in as `make run` starts it: the demo's sign name and templates, strictly."""
    server = FakeSmsServer(access_key_id="sim-key", access_key_secret="sim-secret",
                           sign_names=(devstack.DEV_SMS_SIGN,),
                           templates={code: template_variables(kind) for kind, code in DEV_SMS_TEMPLATES.items()})
    yield server.start()
    server.stop()


@pytest.fixture
def settings(settings, fake_asr, sms_standin):
    """The test settings as `make run` has them: speech recognition on, at the stand-in the simulator
    registers words with, and SMS going to the SMS stand-in."""
    return settings.with_overrides(
        asr_url=fake_asr.url, sms_provider="aliyun", sms_endpoint=sms_standin.url, sms_access_key_id="sim-key",
        sms_access_key_secret="sim-secret", sms_sign_name=devstack.DEV_SMS_SIGN,
        sms_templates=tuple(DEV_SMS_TEMPLATES.items()),
    )


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
    # A loaded 2-core CI machine has taken more than the default 5 s to redraw the chat.
    expect(page.locator("#phone-title")).to_contain_text(label_start, timeout=15000)


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


def prompted(page, button: str, answer: str) -> None:
    """Click a button that asks for words in a prompt, and answer it."""
    page.once("dialog", lambda dialog: dialog.accept(answer))
    page.click(button)


def audio_seconds(page, selector: str) -> float:
    """The duration of the last audio element matching `selector`, once the browser has loaded it."""
    audio = page.locator(selector).last
    expect(audio).to_be_attached(timeout=MEDIA_TIMEOUT_MS)
    page.wait_for_function(
        "(sel) => { const all = document.querySelectorAll(sel); const a = all[all.length - 1];"
        " return a && a.readyState >= 1 && a.duration > 0; }",
        arg=selector, timeout=MEDIA_TIMEOUT_MS,
    )
    return audio.evaluate("a => a.duration")


def image_width(page, selector: str) -> int:
    """The natural width of the last image matching `selector`, once the browser has loaded it."""
    image = page.locator(selector).last
    expect(image).to_be_attached(timeout=MEDIA_TIMEOUT_MS)
    page.wait_for_function(
        "(sel) => { const all = document.querySelectorAll(sel); const i = all[all.length - 1];"
        " return i && i.complete && i.naturalWidth > 0; }",
        arg=selector, timeout=MEDIA_TIMEOUT_MS,
    )
    return image.evaluate("i => i.naturalWidth")


@pytest.mark.parametrize("live_base", ["inline", "queued"], indirect=True)
def test_the_whole_loop_in_the_browser(page, session, live_base, fake_asr):
    """Bind by scanning, ask by a real voice, send a photo, accept, escalate after time moves, resolve,
    rate: with passive replies, and with queued replies that arrive as customer-service messages."""
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
    # A real voice message (the typed words spoken in Mandarin, without WeChat's recognition)
    # raises the request; until it is heard it is urgent, and the reply says to call 120.
    prompted(page, "#voice-btn", "我摔倒了起不来")
    expect(chat(page)).to_contain_text("已收到您的求助，编号")
    expect(chat(page)).to_contain_text("120")
    number = re.search(r"编号 (\d+)", chat(page).inner_text()).group(1)
    expect(chat(page)).to_contain_text(assistant.name)
    # The sender's own bubble plays what was sent.
    assert audio_seconds(page, "#chat .msg.me audio") > 0.5
    # The speech-recognition stand-in hears 摔倒: the family is told again, with the words, to call 120.
    expect(chat(page)).to_contain_text("听到您说“我摔倒了起不来”", timeout=MEDIA_TIMEOUT_MS)
    heard = [call for call in requests.get(f"{fake_asr.http_url}/_calls", timeout=5).json() if call["text"]]
    assert [call["text"] for call in heard] == ["我摔倒了起不来"]
    shot(page, "family-asks")

    # The assistant sees the task push (a customer-service message: they wrote to the account
    # when they bound, so WeChat's 48-hour window is open), then the urgent words and the voice
    # itself, and accepts.
    persona(page, f"{assistant.name}（协理员")
    expect(chat(page)).to_contain_text(f"新求助 {number}号", timeout=15000)
    expect(chat(page)).to_contain_text(f"紧急！求助 {number}号 语音内容：我摔倒了起不来", timeout=MEDIA_TIMEOUT_MS)
    assert audio_seconds(page, "#chat .msg.account audio") > 0.5
    shot(page, "assistant-hears")
    say(page, f"接单 {number}")
    expect(chat(page)).to_contain_text(f"已接单：{number}号")
    shot(page, "assistant-accepts")

    # A photo from the family joins the same request and reaches the assistant as a picture.
    persona(page, f"{first.name}的家属")
    prompted(page, "#image-btn", "门口台阶很滑")
    expect(chat(page)).to_contain_text(f"已补充到求助 {number}")
    assert image_width(page, "#chat .msg.me img") > 100
    persona(page, f"{assistant.name}（协理员")
    expect(chat(page)).to_contain_text(f"求助 {number}号 有新消息", timeout=15000)
    assert image_width(page, "#chat .msg.account img") > 100
    shot(page, "assistant-sees-photo")

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
    expect(page.locator("#tick-log")).to_contain_text("超时督办检查：1")
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


def test_overlapping_polls_show_each_push_once(page, session, live_base):
    """Polls that overlap (the timer, a send, a clock step) never show one push twice."""
    first = session.scalars(select(Beneficiary).order_by(Beneficiary.id).limit(1)).one()
    assistant = roster.current_assignment(session, first).staff
    openid, api = f"sim-family-{first.id}", f"{live_base}/dev/simulator/api/send"
    # Straight to the simulator's API, so the page itself has not polled for the push yet.
    page.request.post(api, data={"openid": openid, "kind": "scan", "bind_code": first.bind_code})
    page.request.post(api, data={"openid": openid, "kind": "text", "text": "2"})
    sent = page.request.post(api, data={"openid": openid, "kind": "text", "text": "家里的米快吃完了"}).json()
    number = re.search(r"编号 (\d+)", sent["messages"][-1]["text"]).group(1)
    page.evaluate("Promise.all([poll(), poll(), poll(), poll()])")
    persona(page, f"{assistant.name}（协理员")
    expect(chat(page)).to_contain_text(f"新求助 {number}号", timeout=15000)
    assert chat(page).inner_text().count(f"新求助 {number}号") == 1
    pushed = [call for call in requests.get(f"{live_base}/dev/simulator/api/inbox?after=-1", timeout=5).json()["items"]
              if f"新求助 {number}号" in call.get("text", "")]
    assert len(pushed) == 1, "the stand-in got the push once"


def test_an_sms_shows_in_the_persona_s_chat_with_a_phone_icon(page, session, db, settings, live_base, sms_standin):
    """The assistant logs a phoned-in request (代办) for an elder nobody has bound on WeChat: the SMS
    to the elder's phone shows in the elder's persona, after its WeChat reply, marked with a phone
    icon and 短信."""
    people = session.scalars(select(Beneficiary).order_by(Beneficiary.id).limit(6)).all()
    # The first persona's elder has family bound on WeChat (the 报平安 walk); this one must have nobody.
    elder = next(b for b in people if b.phone and not any(link.active for link in b.family_links))
    assistant = roster.current_assignment(session, elder).staff
    persona(page, f"{elder.name}的家属")
    say(page, "你好")
    expect(chat(page).locator(".msg.account")).not_to_have_count(0)
    # Written as the app writes (SQLite's write lock taken up front), while the page keeps polling.
    now = session_now(live_base)
    with make_session_factory(db)() as writer:
        request = on_behalf.log_on_behalf(writer, request_env(settings), writer.merge(assistant), beneficiary_id=elder.id,
                                          channel=RequestChannel.PHONE, content="家里水管漏水", now=now)
        writer.commit()
    sms = chat(page).locator(".msg.sms")
    expect(sms).to_contain_text(f"您的求助已登记，编号{request.id}，由{assistant.name}为您办理", timeout=15000)
    expect(sms.locator("svg.sms-icon")).to_be_visible()
    expect(sms.locator(".sms-label")).to_have_text("短信")
    assert sms.locator("svg.sms-icon").bounding_box()["width"] >= 12
    # In the order it came: after the WeChat reply to 你好.
    kinds = chat(page).locator(".msg").evaluate_all("nodes => nodes.map((n) => n.className)")
    assert kinds.index("msg sms") > max(i for i, k in enumerate(kinds) if k == "msg account")
    assert [call["template"] for call in sms_standin.state.calls
            if call["phones"] == [elder.phone]] == [DEV_SMS_TEMPLATES["received"]]
    shot(page, "sms-received")


def session_now(live_base):
    """The simulated time the live app runs at (its shifted clock)."""
    shown = requests.get(f"{live_base}/dev/simulator/api/state", timeout=5).json()["now"]
    return datetime.strptime(shown, "%Y-%m-%d %H:%M").replace(tzinfo=ZoneInfo("Asia/Shanghai"))


# The contrast of the header's text on its background, by WCAG's formula, in the page.
CONTRAST_JS = """(selector) => {
  const rgb = (css) => css.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number);
  const lum = (c) => {
    const [r, g, b] = c.map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const node = document.querySelector(selector);
  const fg = lum(rgb(getComputedStyle(node).color));
  const bg = lum(rgb(getComputedStyle(document.querySelector(".topbar")).backgroundColor));
  return (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
}"""


def test_at_a_phone_s_width_nothing_runs_off_and_the_header_reads(live_base, browser):
    """At 390 px: no sideways scrolling, the header's hint readable on its green, the panel in Chinese."""
    page = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page.goto(f"{live_base}/dev/simulator/")
    expect(page.locator("#personas button")).not_to_have_count(0)
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    for selector in (".topbar .hint", ".topbar strong", ".topbar .clock"):
        assert page.evaluate(CONTRAST_JS, selector) >= 4.5, selector
    page.click("button[data-minutes='20']")
    expect(page.locator("#tick-log")).to_contain_text("发送推送：")
    expect(page.locator("#tick-log")).to_contain_text("每日08:00走访提醒：")
    expect(page.locator("#tick-log")).not_to_contain_text("outbox_dispatch")
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    screenshot(page, "simulator-390px")
    page.close()
