"""The phone case page in headless Chromium at 390×844: the whole WeChat sign-in runs through the
stand-in, the voice loads and has a length, the photo decodes, 接单 lands on the timeline; another
town's assistant gets the kind 404 page; 代办 from the phone opens a new case. Screenshots in test-artifacts/."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from urllib.parse import quote

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from bot.app import create_app
from models.enums import RegionLevel, StaffRole
from tests.browser.conftest import screenshot
from tests.browser.test_mobile_list import PHONE, assert_fits_a_phone
from tests.support.case_media import WORDS, make_case_with_media
from tests.support.factories import make_beneficiary, make_region, make_staff, make_town

# Resolves with the element's duration once its metadata has loaded (or rejects on a media error).
AUDIO_DURATION = """async (selector) => {
  const audio = document.querySelector(selector);
  if (audio.readyState < 1) {
    await new Promise((resolve, reject) => {
      audio.addEventListener('loadedmetadata', resolve, {once: true});
      audio.addEventListener('error', () => reject(new Error('media error ' + audio.error.code)), {once: true});
    });
  }
  return audio.duration;
}"""
IMAGE_WIDTH = """async (selector) => {
  const img = document.querySelector(selector);
  if (!img.complete) await new Promise((resolve) => img.addEventListener('load', resolve, {once: true}));
  return img.naturalWidth;
}"""


@pytest.fixture
def live(settings, db, redis_client, session, clock):
    """The app on a real port whose PUBLIC_BASE_URL is that port (WeChat sends browsers back to it),
    with a case that has a voice, a photo and a place, and a second town's assistant."""
    routed = {}
    server = make_server("127.0.0.1", 0, lambda environ, start: routed["app"](environ, start), threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    app = create_app(settings.with_overrides(public_base_url=base), clock=clock, engine=db, redis=redis_client)
    routed["app"] = app
    svc = app.extensions["sanzhida"]
    town = make_town(session, clock())
    person = make_beneficiary(session, town.village, clock(), assistant=town.assistant, name="张秀英")
    case = make_case_with_media(session, svc.request_env, svc.media_store, person, clock())
    far_town = make_region(session, RegionLevel.TOWN, town.city, clock(), name="青湖镇")
    far_village = make_region(session, RegionLevel.VILLAGE, far_town, clock(), name="北坡村")
    make_staff(session, StaffRole.ASSISTANT, far_village, clock(), openid="o-far-assistant", name="孙丽")
    session.commit()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield SimpleNamespace(base=base, town=town, case=case, number=case.request.id)
    server.shutdown()


@pytest.fixture
def phone(browser):
    """A new phone-sized browser (its own cookies), as WeChat's in-app browser opens a page."""
    pages = []

    def open_page():
        page = browser.new_page(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True)
        pages.append(page)
        return page

    yield open_page
    for page in pages:
        page.close()


def through_wechat(page, fake_wechat, openid: str, url: str):
    """Sign the browser in to "WeChat" as `openid` and open `url`; the page's final answer."""
    wechat = fake_wechat.oauth_url.split("/connect/")[0]
    return page.goto(f"{wechat}/_oauth/login?openid={openid}&next={quote(url, safe='')}")


def test_the_assistant_opens_listens_looks_and_accepts(phone, live, fake_wechat):
    """Sign-in runs through WeChat's authorise page; the voice has a length, the photo pixels; 接单 is recorded."""
    page = phone()
    response = through_wechat(page, fake_wechat, "o-assistant", f"{live.base}/m/cases/{live.number}")
    # A browser keeps the authorise address's #wechat_redirect across the redirects, as WeChat's does.
    assert response.status == 200 and page.url.split("#")[0] == f"{live.base}/m/cases/{live.number}"
    expect(page.locator("h1")).to_contain_text("张秀英")
    expect(page.locator("#urgency")).to_have_text("紧急")
    assert page.eval_on_selector("#urgency", "el => getComputedStyle(el).backgroundColor") == "rgb(196, 22, 28)"
    expect(page.locator("#voices")).to_contain_text(WORDS)
    duration = page.evaluate(AUDIO_DURATION, "#voices audio")
    assert 1.0 < duration < 10.0
    assert page.evaluate(IMAGE_WIDTH, "#photos img") == 240
    expect(page.locator("#places a")).to_have_attribute("href", "https://uri.amap.com/marker?position=113.160002,30.650001")
    assert_fits_a_phone(page)
    screenshot(page, "mobile-case")

    page.click("#accept")
    expect(page.locator("#flash")).to_contain_text(f"已接单：{live.number}号")
    expect(page.locator("#timeline")).to_contain_text("王芳 接单")
    expect(page.locator("#status")).to_have_text("办理中")
    assert_fits_a_phone(page)
    screenshot(page, "mobile-case-accepted")


def test_a_reply_from_the_phone_shows_on_the_timeline(phone, live, fake_wechat):
    """Typing in the box and pressing 回复 sends it the chat's way and lists it."""
    page = phone()
    through_wechat(page, fake_wechat, "o-assistant", f"{live.base}/m/cases/{live.number}")
    page.fill("#reply-text", "别着急，我十分钟就到")
    page.click("#reply")
    expect(page.locator("#flash")).to_contain_text("已转告求助人")
    expect(page.locator("#timeline")).to_contain_text("别着急，我十分钟就到")


def test_another_towns_assistant_gets_the_kind_404(phone, live, fake_wechat):
    """Signed in through WeChat too, but the case is not theirs: 404, nothing of it, and no file."""
    page = phone()
    response = through_wechat(page, fake_wechat, "o-far-assistant", f"{live.base}/m/cases/{live.number}")
    assert response.status == 404
    expect(page.locator("h1")).to_have_text("没有这件求助")
    expect(page.locator("body")).not_to_contain_text("张秀英")
    assert page.goto(f"{live.base}/m/media/{live.case.voice.id}?playable=1").status == 404
    page.goto(f"{live.base}/m/cases/{live.number}")
    assert_fits_a_phone(page)
    screenshot(page, "mobile-case-not-in-scope")


def test_the_assistant_logs_a_phone_call_for_her_beneficiary(phone, live, fake_wechat):
    """/m/log through WeChat's sign-in: tap the person, keep 电话, write the words, land on the new case."""
    page = phone()
    response = through_wechat(page, fake_wechat, "o-assistant", f"{live.base}/m/log")
    assert response.status == 200 and page.url.split("#")[0] == f"{live.base}/m/log"
    expect(page.locator("h1")).to_have_text("代办登记")
    assert_fits_a_phone(page)
    screenshot(page, "mobile-log-pick")
    page.click("#people a.person:has-text('张秀英')")
    expect(page.locator("#person")).to_contain_text("张秀英")
    expect(page.locator("#channel-phone")).to_be_checked()
    # Large enough to hit with a thumb.
    for selector in ("label[for=channel-home]", "#submit"):
        assert page.locator(selector).bounding_box()["height"] >= 48
    page.fill("#log-text", "女儿打电话说家里停水三天了")
    assert_fits_a_phone(page)
    screenshot(page, "mobile-log-form")
    page.click("#submit")
    expect(page.locator("#channel")).to_have_text("电话（王芳代为登记）")
    expect(page.locator("#flash")).to_contain_text("已代张秀英登记求助")
    expect(page.locator("#summary")).to_have_text("女儿打电话说家里停水三天了")
    number = int(page.url.split("#")[0].rsplit("/", 1)[1])
    assert number != live.number
    assert_fits_a_phone(page)
    screenshot(page, "mobile-log")
    # The new case offers 代办 again for the same person, straight to her form.
    page.click("#log-for")
    expect(page.locator("#person")).to_contain_text("张秀英")
