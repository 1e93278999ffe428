"""Care cards: the QR from WeChat fetched once and drawn locally, village printing, outdated cards,
WeChat failures, and temporary codes past the permanent limit."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
import requests
import segno
from flask import render_template
from sqlalchemy import func, select

from models import CareCard
from models.enums import StaffRole
from services import binding, cards, roster
from tests.support.factories import make_beneficiary, make_staff, make_town

STYLESHEET = "/office/static/cards.css"


def calls(server, path="qrcode/create"):
    """What the WeChat stand-in recorded for one path."""
    recorded = requests.get(f"http://{server.host}:{server.port}/_calls", timeout=5).json()
    return [c for c in recorded if c["path"] == path]


def fault(server, **spec):
    """Queue a failure on the stand-in."""
    requests.post(f"http://{server.host}:{server.port}/_faults", json=spec, timeout=5).raise_for_status()


def render(app, views, title="东湾村 关爱服务电话卡"):
    """The print page as the office route renders it."""
    with app.test_request_context():
        return render_template("cards.html", cards=views, title=title, stylesheet_url=STYLESHEET)


def article(html, beneficiary_id):
    """One card's markup from the page."""
    match = re.search(rf'<article[^>]*data-beneficiary-id="{beneficiary_id}".*?</article>', html, re.S)
    assert match, f"no card for beneficiary {beneficiary_id}"
    return match.group(0)


@pytest.fixture
def wechat(app):
    """The app's WeChat client, pointed at the stand-in."""
    return app.extensions["sanzhida"].wechat


@pytest.fixture
def town(session, clock):
    """A town with two villages, an assistant in each, and the town office phone 0716-1234101."""
    return make_town(session, clock())


def test_qr_is_fetched_once_as_a_permanent_code_and_reused(session, wechat, fake_wechat, town, clock):
    """The first print asks WeChat for a permanent `bind:<code>` QR; the second print reuses it."""
    person = make_beneficiary(session, town.village, clock(), assistant=town.assistant)
    first = cards.print_cards(session, wechat, [person], clock())
    session.commit()
    clock.advance(days=40)
    second = cards.print_cards(session, wechat, [person], clock())
    session.commit()

    created = calls(fake_wechat)
    assert len(created) == 1
    assert created[0]["body"] == {
        "action_name": "QR_LIMIT_STR_SCENE",
        "action_info": {"scene": {"scene_str": f"bind:{person.bind_code}"}},
    }
    assert first[0].qr_url == second[0].qr_url == f"http://weixin.qq.com/q/fake-bind:{person.bind_code}"
    rows = session.scalars(select(CareCard).where(CareCard.beneficiary_id == person.id)).all()
    assert len(rows) == 2
    assert all(r.qr_expires_at is None and r.qr_ticket == f"ticket-bind:{person.bind_code}" for r in rows)


def test_the_card_page_shows_the_contacts_and_a_locally_drawn_qr(app, session, wechat, town, clock):
    """The page has the assistant's and the office's phones, 120, the bind code and an inline SVG
    drawn from the url WeChat returned (no remote image, no script)."""
    person = make_beneficiary(session, town.village, clock(), assistant=town.assistant, name="张桂英")
    [view] = cards.print_cards(session, wechat, [person], clock())
    html = render(app, [view])

    card = article(html, person.id)
    phone = town.assistant.phone
    assert f"{phone[:3]} {phone[3:7]} {phone[7:]}" in card and f'href="tel:{phone}"' in card
    assert "王芳" in card and "张桂英" in card and "关爱服务电话卡" in card
    assert "柳河镇民政办" in card and "0716-1234101" in card
    assert all(f"<b>{n}</b>" in card for n in ("120", "110", "119"))
    assert person.bind_code in card and "绑定码" in card and "家属扫码绑定" in card
    url = f"http://weixin.qq.com/q/fake-bind:{person.bind_code}"
    assert f'data-qr-url="{url}"' in card
    # Drawn from the API's url: segno makes the very same symbol from it.
    expected = segno.make(url, error="m").svg_inline(scale=1, border=4, omitsize=True, dark="#000", light="#fff")
    assert expected in card
    assert "<img" not in html and "<script" not in html and "https://" not in html
    assert f'href="{STYLESHEET}"' in html


def test_without_a_stylesheet_url_the_page_links_the_office_static_css(app, session, wechat, town, clock):
    """The office route renders with `cards` and `title` only; the stylesheet is its own static file."""
    person = make_beneficiary(session, town.village, clock(), assistant=town.assistant)
    views = cards.print_cards(session, wechat, [person], clock())
    with app.test_request_context():
        html = render_template("cards.html", cards=views, title="卡片")
    assert 'href="/office/static/cards.css"' in html
    with app.test_client() as client:
        assert b"@page" in client.get("/office/static/cards.css").data


def test_printing_a_village_gives_one_card_per_active_beneficiary(app, session, wechat, fake_wechat, town, clock):
    """Active beneficiaries of the village only; one without an assistant gets the note and the office phone."""
    a = make_beneficiary(session, town.village, clock(), assistant=town.assistant, name="甲")
    b = make_beneficiary(session, town.village, clock(), assistant=town.assistant, name="乙")
    alone = make_beneficiary(session, town.village, clock(), name="丙")
    gone = make_beneficiary(session, town.village, clock(), assistant=town.assistant, name="丁")
    gone.active = False
    make_beneficiary(session, town.other_village, clock(), assistant=town.other_assistant)
    session.commit()

    views = cards.print_cards(session, wechat, cards.village_beneficiaries(session, town.village.id), clock())
    session.commit()

    assert sorted(v.beneficiary_id for v in views) == sorted([a.id, b.id, alone.id])
    assert session.scalar(select(func.count()).select_from(CareCard)) == 3
    assert len(calls(fake_wechat)) == 3
    html = render(app, views)
    assert html.count("<article") == 3 and html.count("<svg") == 3
    lonely = article(html, alone.id)
    assert cards.NO_ASSISTANT_NOTE in lonely and "0716-1234101" in lonely and "tel:1380000" not in lonely


def test_an_empty_village_prints_an_empty_page(app, session, wechat, town):
    """An empty village gives an empty page that says so."""
    assert cards.village_beneficiaries(session, town.other_village.id) == []
    assert "没有可打印的服务对象" in render(app, [])


def test_reassigning_outdates_the_card_and_a_reprint_shows_the_new_assistant(
    app, session, wechat, fake_wechat, town, clock
):
    """The earlier card is marked outdated and listed; the reprint shows the new assistant, same QR."""
    person = make_beneficiary(session, town.village, clock(), assistant=town.assistant)
    other = make_beneficiary(session, town.village, clock(), assistant=town.assistant)
    newcomer = make_staff(session, StaffRole.ASSISTANT, town.village, clock(), name="陈静", phone="13912345678")
    cards.print_cards(session, wechat, [person, other], clock())
    session.commit()
    old = session.scalars(select(CareCard).where(CareCard.beneficiary_id == person.id)).one()
    assert not cards.is_outdated(session, old)

    later = clock.advance(days=3)
    roster.assign_assistant(session, person, newcomer, later)
    session.commit()

    assert old.outdated_at == later
    assert cards.is_outdated(session, old)
    [listed] = cards.outdated_cards(session, town.village.id)
    assert listed.beneficiary.id == person.id and listed.reasons == (cards.REASON_ASSISTANT_CHANGED,)
    assert cards.outdated_cards(session, town.other_village.id) == []

    [view] = cards.print_cards(session, wechat, [person], later)
    session.commit()
    card = article(render(app, [view]), person.id)
    assert "陈静" in card and "139 1234 5678" in card and "王芳" not in card
    assert cards.outdated_cards(session) == []
    assert len(calls(fake_wechat)) == 2, "the QR of an unchanged bind code is reused"


def test_reassigning_to_the_same_assistant_keeps_the_card(session, wechat, town, clock):
    """Nothing changed on the wall, so nothing is marked."""
    person = make_beneficiary(session, town.village, clock(), assistant=town.assistant)
    cards.print_cards(session, wechat, [person], clock())
    roster.assign_assistant(session, person, town.assistant, clock.advance(days=1))
    session.commit()
    card = session.scalars(select(CareCard)).one()
    assert card.outdated_at is None and not cards.is_outdated(session, card)


def test_a_first_assignment_outdates_a_card_printed_without_an_assistant(session, wechat, town, clock):
    """A card that said 'no assistant yet' is outdated once one is assigned."""
    person = make_beneficiary(session, town.village, clock())
    cards.print_cards(session, wechat, [person], clock())
    roster.assign_assistant(session, person, town.assistant, clock.advance(hours=1))
    session.commit()
    assert [o.beneficiary.id for o in cards.outdated_cards(session)] == [person.id]


def test_a_new_bind_code_fetches_a_new_qr_and_outdates_the_card(session, wechat, fake_wechat, town, clock):
    """The old scene is useless after the code is regenerated: a new QR for the new scene."""
    person = make_beneficiary(session, town.village, clock(), assistant=town.assistant)
    old_code = person.bind_code
    cards.print_cards(session, wechat, [person], clock())
    new_code = binding.regenerate_bind_code(session, person)
    session.commit()
    old = session.scalars(select(CareCard)).one()
    assert cards.is_outdated(session, old)
    assert cards.outdated_cards(session)[0].reasons == (cards.REASON_BIND_CODE_CHANGED,)

    [view] = cards.print_cards(session, wechat, [person], clock())
    scenes = [c["body"]["action_info"]["scene"]["scene_str"] for c in calls(fake_wechat)]
    assert scenes == [f"bind:{old_code}", f"bind:{new_code}"]
    assert view.bind_code == new_code and view.qr_url.endswith(f"bind:{new_code}")


def test_a_wechat_failure_is_a_clear_error_and_records_no_card(session, wechat, fake_wechat, town, clock):
    """Daily quota reached (45009): a Chinese message naming the cause, and nothing half-printed."""
    first = make_beneficiary(session, town.village, clock(), assistant=town.assistant)
    second = make_beneficiary(session, town.village, clock(), assistant=town.assistant)
    session.commit()
    fault(fake_wechat, path="qrcode/create", errcode=45009)
    with pytest.raises(cards.CardError) as raised:
        cards.print_cards(session, wechat, [first, second], clock())
    assert "今日二维码生成次数已用完" in raised.value.message and "绑定码" in raised.value.message
    assert session.scalar(select(func.count()).select_from(CareCard)) == 0


def test_with_allow_without_qr_the_bind_code_still_prints(app, session, wechat, fake_wechat, town, clock):
    """When asked, a failed QR leaves a card with the bind code, listed for a later reprint."""
    person = make_beneficiary(session, town.village, clock(), assistant=town.assistant)
    fault(fake_wechat, path="qrcode/create", errcode=45009)
    [view] = cards.print_cards(session, wechat, [person], clock(), allow_without_qr=True)
    session.commit()
    card = article(render(app, [view]), person.id)
    assert view.qr_svg is None and "<svg" not in card and person.bind_code in card
    assert cards.outdated_cards(session)[0].reasons == (cards.REASON_QR_MISSING,)
    # The next print fetches the QR the failed one could not.
    [again] = cards.print_cards(session, wechat, [person], clock())
    assert again.qr_svg and len(calls(fake_wechat)) == 2


def test_past_the_permanent_limit_cards_get_a_30_day_code(session, wechat, fake_wechat, town, clock):
    """With the limit reached, a temporary code with its expiry recorded; reused while most of it is left."""
    a = make_beneficiary(session, town.village, clock(), assistant=town.assistant)
    b = make_beneficiary(session, town.village, clock(), assistant=town.assistant)
    cards.print_cards(session, wechat, [a], clock(), permanent_limit=1)
    assert cards.permanent_scenes_issued(session) == 1
    # a's permanent code is reused even at the limit.
    cards.print_cards(session, wechat, [a, b], clock(), permanent_limit=1)
    session.commit()

    made = calls(fake_wechat)
    assert [c["body"]["action_name"] for c in made] == ["QR_LIMIT_STR_SCENE", "QR_STR_SCENE"]
    assert made[1]["body"]["expire_seconds"] == 2592000
    assert made[1]["body"]["action_info"]["scene"]["scene_str"] == f"bind:{b.bind_code}"
    temp = session.scalars(select(CareCard).where(CareCard.beneficiary_id == b.id)).one()
    assert temp.qr_expires_at == clock() + timedelta(days=30)
    assert cards.permanent_scenes_issued(session) == 1

    clock.advance(days=2)
    cards.print_cards(session, wechat, [b], clock(), permanent_limit=1)
    assert len(calls(fake_wechat)) == 2, "a fresh temporary code is reused"
    clock.advance(days=10)
    cards.print_cards(session, wechat, [b], clock(), permanent_limit=1)
    assert len(calls(fake_wechat)) == 3, "one with little life left is not printed again"
    assert not cards.is_outdated(session, temp)
    assert cards.is_outdated(session, temp, now=clock() + timedelta(days=30))


def test_qr_for_alone_gives_the_code_without_recording_a_card(session, wechat, fake_wechat, town, clock):
    """`qr_for` answers with the code; only printing records a card (the cache)."""
    person = make_beneficiary(session, town.village, clock())
    code = cards.qr_for(session, wechat, person, clock())
    assert code.permanent and code.scene == f"bind:{person.bind_code}"
    assert code.url.startswith("http://weixin.qq.com/q/")
    assert session.scalar(select(func.count()).select_from(CareCard)) == 0


def test_an_inactive_beneficiary_gets_no_card(session, wechat, town, clock):
    """A beneficiary no longer on the roll cannot bind, so no card is printed for them."""
    person = make_beneficiary(session, town.village, clock())
    person.active = False
    with pytest.raises(cards.CardError):
        cards.print_cards(session, wechat, [person], clock())


@pytest.mark.parametrize(
    ("phone", "shown"),
    [("13800001234", "138 0000 1234"), ("0716-1234101", "0716-1234101"), ("", None), (None, None)],
)
def test_phones_are_grouped_for_reading(phone, shown):
    """Mobile numbers in 3-4-4 groups; landlines as written."""
    assert cards.display_phone(phone) == shown


def test_the_stylesheet_prints_a4_with_local_fonts_only():
    """A4 with 10 mm margins, the CJK font stack, and nothing fetched from elsewhere."""
    css = (Path(__file__).resolve().parents[2] / "bot" / "static" / "cards.css").read_text(encoding="utf-8")
    assert re.search(r"@page\s*{\s*size:\s*A4;\s*margin:\s*10mm;", css)
    assert '"Noto Sans CJK SC", "WenQuanYi Zen Hei", sans-serif' in css
    assert "url(" not in css and "@import" not in css and "@font-face" not in css
