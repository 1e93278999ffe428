"""代办 on the phone, /m/log: staff signed in through WeChat pick a beneficiary within their reach,
the channel and the words, and the request opens through services.on_behalf as from the chat;
anyone else's beneficiary is 404, bad input is the form again with a Chinese message, all audited."""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from bot.api.schemas import RequestCreate
from models import Beneficiary, RequestEvent, ServiceRequest
from models.enums import RegionLevel, RequestSource, StaffRole
from services import on_behalf
from tests.bot.test_mobile_cases import audits, text_of, wechat_redirect
from tests.support.factories import fresh, make_beneficiary, make_region, make_staff, make_town

WORDS = "家里停水三天了，老人腿脚不方便"


@pytest.fixture
def world(session, clock):
    """The factory's town: 张秀英 (王芳's, 东湾村), 李桂兰 (李强's, 南岭村); 刘长顺 in another town."""
    town = make_town(session, clock())
    town.mine = make_beneficiary(session, town.village, clock(), assistant=town.assistant, name="张秀英")
    town.neighbours = make_beneficiary(session, town.other_village, clock(), assistant=town.other_assistant,
                                       name="李桂兰")
    far_town = make_region(session, RegionLevel.TOWN, town.city, clock(), name="青湖镇")
    far_village = make_region(session, RegionLevel.VILLAGE, far_town, clock(), name="北坡村")
    far_assistant = make_staff(session, StaffRole.ASSISTANT, far_village, clock(), openid="o-far-assistant")
    town.far = make_beneficiary(session, far_village, clock(), assistant=far_assistant, name="刘长顺")
    session.commit()
    return town


def sign_in(client, openid: str, path: str = "/m/log"):
    """Open `path`, go through WeChat's authorisation as `openid`, and come back; the final answer."""
    first = client.get(path)
    assert first.status_code == 302
    back = client.get(wechat_redirect(first.headers["Location"], openid).removeprefix("http://127.0.0.1:5000"))
    assert back.status_code == 302
    return client.get(back.headers["Location"])


def form_token(client, beneficiary_id: int) -> str:
    """The form token the 代办 form carries."""
    page = client.get(f"/m/log?beneficiary={beneficiary_id}").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def post(client, beneficiary_id, channel="phone", text=WORDS, **extra):
    """Submit the form as the page would (with its token unless `csrf_token=None`)."""
    data = {"beneficiary": str(beneficiary_id), "channel": channel, "text": text,
            "csrf_token": form_token(client, beneficiary_id), **extra}
    return client.post("/m/log", data={k: v for k, v in data.items() if v is not None})


def requests_count(session) -> int:
    """How many requests exist, as another session committed them."""
    fresh(session)
    return session.scalar(select(func.count()).select_from(ServiceRequest))


def test_signed_out_goes_to_wechat_and_back_to_the_chosen_person(client, app, world, clock):
    """The signed state names /m/log with its ?beneficiary=; after WeChat the form for that person."""
    response = client.get(f"/m/log?beneficiary={world.mine.id}")
    assert response.status_code == 302
    state = parse_qs(urlsplit(response.headers["Location"]).query)["state"][0]
    assert app.extensions["sanzhida"].web_auth.next_path(state, clock()) == f"/m/log?beneficiary={world.mine.id}"
    page = sign_in(client, "o-assistant", f"/m/log?beneficiary={world.mine.id}")
    assert page.status_code == 200
    assert "张秀英" in text_of(page) and "东湾村" in text_of(page) and f"对象编号 {world.mine.id}" in text_of(page)
    html = page.get_data(as_text=True)
    assert 'id="channel-phone" checked' in html  # 电话 unless staff choose otherwise
    assert "form-action 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "private, no-store"


def test_a_post_without_a_sign_in_is_refused(client, world, session):
    """Signed out (with a valid form token): 401, nothing logged."""
    sign_in(client, "o-assistant")
    token = form_token(client, world.mine.id)
    with client.session_transaction() as cookie:
        cookie.pop("mobile_sign_in")
    response = client.post("/m/log", data={"beneficiary": world.mine.id, "channel": "phone", "text": WORDS,
                                           "csrf_token": token})
    assert response.status_code == 401 and "请先登录" in text_of(response)
    assert requests_count(session) == 0


def test_the_assistant_picks_among_their_own_and_the_officer_within_the_town(client, app, world, session):
    """The same reach as the dashboard: 王芳 sees 张秀英 only; 赵敏 both of 柳河镇, never 刘长顺."""
    mine = sign_in(client, "o-assistant")
    assert mine.status_code == 200
    assert "张秀英" in text_of(mine) and "李桂兰" not in text_of(mine) and "刘长顺" not in text_of(mine)
    assert f'href="/m/log?beneficiary={world.mine.id}"' in mine.get_data(as_text=True)
    officer = app.test_client()
    town = sign_in(officer, "o-officer")
    assert "张秀英" in text_of(town) and "李桂兰" in text_of(town) and "刘长顺" not in text_of(town)
    viewed = audits(session, "mobile.log")
    assert [(a.actor_staff_id, a.detail["items"]) for a in viewed] == [(world.assistant.id, 1), (world.officer.id, 2)]


def test_the_assistant_logs_a_phone_call_and_lands_on_the_new_case(client, world, session, caplog):
    """Through log_on_behalf: channel, source, raised by 王芳; the case page says 电话 and who logged it."""
    sign_in(client, "o-assistant")
    with caplog.at_level(logging.DEBUG):
        response = post(client, world.mine.id)
    assert response.status_code == 303
    fresh(session)
    case = session.scalars(select(ServiceRequest)).one()
    assert response.headers["Location"].endswith(f"/m/cases/{case.id}")
    assert (case.beneficiary_id, case.channel, case.source) == (world.mine.id, "phone", RequestSource.OFFICE.value)
    assert case.raised_by_staff_id == world.assistant.id and case.summary == WORDS
    created = session.scalars(select(RequestEvent).where(RequestEvent.request_id == case.id,
                                                         RequestEvent.kind == "created")).one()
    assert created.actor_staff_id == world.assistant.id
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    text = text_of(page)
    assert f"已代张秀英登记求助 {case.id}号（电话）" in text
    assert re.search(r"渠道 电话（王芳代为登记）", text) and WORDS in text
    [entry] = audits(session, "mobile.case.log")
    assert (entry.actor_staff_id, entry.target_type, entry.target_id) == (
        world.assistant.id, "service_request", case.id)
    assert entry.detail == {"beneficiary_id": world.mine.id, "channel": "phone"}
    assert WORDS not in caplog.text


def test_the_town_officer_logs_a_walk_in_for_anyone_in_the_town(client, world, session):
    """赵敏 logs for 李桂兰 (another assistant's): 来访 on the case page."""
    sign_in(client, "o-officer")
    response = post(client, world.neighbours.id, channel="walk_in", text="想问问低保复核的事")
    assert response.status_code == 303
    page = client.get(response.headers["Location"])
    assert "渠道 来访（赵敏代为登记）" in text_of(page) and "李桂兰" in text_of(page)


def test_someone_elses_beneficiary_is_404(client, world, session):
    """Another assistant's, another town's, an unknown or an inactive one: 404 for the form and the post."""
    sign_in(client, "o-assistant")
    token = form_token(client, world.mine.id)
    fresh(session)
    session.get(Beneficiary, world.mine.id).active = False
    session.commit()
    for number in (world.neighbours.id, world.far.id, world.mine.id, 999999, "abc", 2147483648):
        page = client.get(f"/m/log?beneficiary={number}")
        assert page.status_code == 404 and "没有这位服务对象" in text_of(page)
        posted = client.post("/m/log", data={"beneficiary": number, "channel": "phone", "text": WORDS,
                                             "csrf_token": token})
        assert posted.status_code == 404
        assert "李桂兰" not in text_of(posted) and "刘长顺" not in text_of(posted)
    assert requests_count(session) == 0


def test_a_form_without_its_token_is_refused(client, world, session):
    """400 and the kind page; nothing logged."""
    sign_in(client, "o-assistant")
    response = post(client, world.mine.id, csrf_token=None)
    assert response.status_code == 400 and "页面已过期" in text_of(response)
    assert requests_count(session) == 0


@pytest.mark.parametrize("text", ["", "   \n "])
def test_empty_content_shows_the_form_again(client, world, session, text):
    """400, the same person's form with 请写上求助内容; nothing logged."""
    sign_in(client, "o-assistant")
    response = post(client, world.mine.id, channel="home", text=text)
    assert response.status_code == 400
    assert "请写上求助内容" in text_of(response) and "张秀英" in text_of(response)
    assert 'id="channel-home" checked' in response.get_data(as_text=True)  # what was chosen stays chosen
    assert requests_count(session) == 0


@pytest.mark.parametrize("channel", ["wechat", "fax", "", "电话"])
def test_an_unknown_channel_shows_the_form_again(client, world, session, channel):
    """WeChat is no channel staff log, and anything else is none at all: 400 with the four named."""
    sign_in(client, "o-assistant")
    response = post(client, world.mine.id, channel=channel)
    assert response.status_code == 400
    assert "请选择渠道：电话、上门、来访或其他" in text_of(response)
    assert WORDS in response.get_data(as_text=True)  # the words typed are kept
    assert requests_count(session) == 0


def test_too_long_content_and_no_beneficiary_are_refused(client, world, session):
    """Over 500 characters (as the dashboard and the API): 400; no beneficiary chosen: the list, 400."""
    sign_in(client, "o-assistant")
    too_long = post(client, world.mine.id, text="水" * (on_behalf_limit() + 1))
    assert too_long.status_code == 400 and "最多500字" in text_of(too_long)
    exact = post(client, world.mine.id, text="水" * on_behalf_limit())
    assert exact.status_code == 303
    token = form_token(client, world.mine.id)
    nobody = client.post("/m/log", data={"channel": "phone", "text": WORDS, "csrf_token": token})
    assert nobody.status_code == 400 and "请先选择要为谁登记" in text_of(nobody) and "张秀英" in text_of(nobody)
    assert requests_count(session) == 1


def on_behalf_limit() -> int:
    """The content limit the other 代办 entries use (the admin API's)."""
    return RequestCreate.model_json_schema()["properties"]["content"]["maxLength"]


def test_many_people_are_found_by_name_or_number(client, world, session, clock):
    """More than fit on a phone: a search box; a name's part or a 对象编号 finds them, % matches nothing."""
    extra = [make_beneficiary(session, world.village, clock(), assistant=world.assistant, name=f"陈{n:02d}")
             for n in range(31)]
    session.commit()
    page = sign_in(client, "o-assistant")
    assert 'id="search"' in page.get_data(as_text=True) and "还有2位没有列出" in text_of(page)
    by_name = client.get("/m/log?q=秀英")
    assert "张秀英" in text_of(by_name) and "陈01" not in text_of(by_name)
    by_number = client.get(f"/m/log?q={extra[5].id}")
    assert f"对象编号 {extra[5].id}" in text_of(by_number)
    nothing = client.get("/m/log?q=%25")
    assert nothing.status_code == 200 and "没有找到“%”" in text_of(nothing)
    for query in (world.far.id, "刘长顺"):
        far = client.get(f"/m/log?q={query}").get_data(as_text=True)
        assert f"/m/log?beneficiary={world.far.id}\"" not in far and "刘长顺</strong>" not in far


def test_the_case_page_and_the_list_page_offer_it(client, app, world, session, clock):
    """为TA登记 on the case page for someone the viewer may log for, not once they are inactive; and the list's entry."""
    sign_in(client, "o-assistant")
    opened = post(client, world.mine.id)
    case_path = urlsplit(opened.headers["Location"]).path
    html = client.get(case_path).get_data(as_text=True)
    assert f'id="log-for" href="/m/log?beneficiary={world.mine.id}"' in html
    fresh(session)
    session.get(Beneficiary, world.mine.id).active = False
    session.commit()
    assert 'id="log-for"' not in client.get(case_path).get_data(as_text=True)
    links = app.extensions["sanzhida"].request_env.links
    listed = client.get(links.url(world.assistant.id, "cases", [int(case_path.rsplit("/", 1)[1])], clock())
                        .removeprefix("http://127.0.0.1:5000"))
    assert listed.status_code == 200 and 'id="log-entry" href="/m/log"' in listed.get_data(as_text=True)


def test_the_reply_matches_the_chat(client, world, session):
    """The flash is the chat's own reply for the same request (logged_reply)."""
    sign_in(client, "o-assistant")
    response = client.get(post(client, world.mine.id, channel="other").headers["Location"])
    fresh(session)
    case = session.scalars(select(ServiceRequest)).one()
    assert text_of_reply(on_behalf.logged_reply(case)) in text_of(response)


def text_of_reply(reply: str) -> str:
    """The reply as the page shows it: its first line."""
    return reply.splitlines()[0]
