"""The office case page in headless Chromium plays a case's voice and shows its photo: the audio has
a length and starts playing, the photo decodes. Screenshot in test-artifacts/."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect, sync_playwright
from sqlalchemy import select

from devtools import demo
from models import Beneficiary, Region, Staff
from runtime.clock import ShiftedClock
from runtime.container import request_env
from runtime.media_store import make_media_store
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, screenshot
from tests.browser.test_mobile_case import AUDIO_DURATION, IMAGE_WIDTH
from tests.support.case_media import WORDS, make_case_with_media

OFFICER = "T0003"
# Resolves when playback has started (play() resolved and the clock moved), or rejects.
PLAYS = """async (selector) => {
  const audio = document.querySelector(selector);
  await audio.play();
  await new Promise((resolve) => audio.addEventListener('timeupdate', resolve, {once: true}));
  const at = audio.currentTime;
  audio.pause();
  return at;
}"""


@pytest.fixture
def chromium():
    """Headless Chromium that may start audio without a tap (as a member of staff's click would allow)."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM,
                                    args=[*CHROMIUM_ARGS, "--autoplay-policy=no-user-gesture-required"])
        yield browser
        browser.close()


@pytest.fixture
def case_with_media(live_base, settings, session, tmp_path):
    """A case of the demo officer's town with a spoken voice and a photo, kept in the app's media store."""
    officer = session.scalars(select(Staff).where(Staff.staff_no == OFFICER)).one()
    person = session.scalars(
        select(Beneficiary).join(Region, Region.id == Beneficiary.village_id)
        .where(Region.parent_id == officer.region_id).order_by(Beneficiary.id)
    ).first()
    # The live app's clock, which its fixture shifted to 09:00.
    now = ShiftedClock(str(tmp_path / "clock-offset"))()
    case = make_case_with_media(session, request_env(settings), make_media_store(settings), person, now)
    session.commit()
    return case


def test_the_office_case_page_plays_the_voice(chromium, live_base, case_with_media):
    """Signed in as the town officer: the player has the voice's length and plays; the photo shows."""
    page = chromium.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page.goto(f"{live_base}/office/")
    page.fill("input[name=staff_no]", OFFICER)
    page.fill("input[name=password]", demo.DEMO_PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator(".nav")).to_contain_text("退出")
    page.goto(f"{live_base}/office/cases/{case_with_media.request.id}")
    expect(page.locator("#media")).to_contain_text(WORDS)
    assert 1.0 < page.evaluate(AUDIO_DURATION, "#media audio") < 10.0
    assert page.evaluate(PLAYS, "#media audio") > 0
    assert page.evaluate(IMAGE_WIDTH, "#media img") == 240
    screenshot(page, "office-case-media")
    page.close()
