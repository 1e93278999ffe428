"""A shared link or mini-program card from a bound family member reaches a case like any message; a
follower scanning a QR code that binds nobody is answered as the follower they are, not as a newcomer."""

from __future__ import annotations

from sqlalchemy import func, select

from models import RequestEvent, ServiceRequest
from services import texts
from tests.bot.test_e2e_requests import Phone
from tests.support.factories import make_beneficiary
from devtools.wechat_side import cdata


def _link(title: str, url: str) -> str:
    return (f"<Title>{cdata(title)}</Title><Description>{cdata('社区通知')}</Description>"
            f"<Url>{cdata(url)}</Url>")


def _mini_program(title: str, page: str) -> str:
    return (f"<Title>{cdata(title)}</Title><AppId>{cdata('wx0123456789abcdef')}</AppId>"
            f"<PagePath>{cdata(page)}</PagePath><ThumbUrl>{cdata('http://mmbiz.qpic.cn/t.jpg')}</ThumbUrl>"
            f"<ThumbMediaId>{cdata('thumb-1')}</ThumbMediaId>")


def _bind(phone: Phone, openid: str, code: str) -> None:
    phone.say(openid, f"绑定 {code}")
    assert "绑定成功" in phone.say(openid, "2")


def test_a_shared_link_opens_a_case_with_its_title_and_address(phone, town, session, clock, sender):
    """A link from a bound family member opens a request the assistant is told about, title and URL kept."""
    elder = make_beneficiary(session, town.village, clock(), assistant=town.assistant)
    session.commit()
    _bind(phone, "o-son", elder.bind_code)

    url = "https://mp.weixin.qq.com/s/heating-subsidy"
    reply = phone._reply(sender.raw("o-son", "link", _link("冬季取暖补贴怎么申请", url)))

    case = session.scalars(select(ServiceRequest)).one()
    assert f"编号 {case.id}" in reply and texts.RECEIVED not in reply
    assert "冬季取暖补贴怎么申请" in case.summary and url in case.summary
    created = session.scalars(select(RequestEvent).where(RequestEvent.request_id == case.id,
                                                         RequestEvent.kind == "created")).one()
    assert (created.data["msg_type"], created.data["url"]) == ("link", url)
    phone.dispatch()
    assert any("冬季取暖补贴" in m for m in phone.inbox("o-assistant"))


def test_a_mini_program_card_joins_the_open_case(phone, town, session, clock, sender):
    """A mini-program card within the merge window is added to the family's open request."""
    elder = make_beneficiary(session, town.village, clock(), assistant=town.assistant)
    session.commit()
    _bind(phone, "o-daughter", elder.bind_code)
    phone.say("o-daughter", "家里没米了")

    reply = phone._reply(sender.raw("o-daughter", "miniprogrampage", _mini_program("粮油店下单", "pages/order")))

    case = session.scalars(select(ServiceRequest)).one()
    assert f"已补充到求助 {case.id}" in reply
    added = session.scalars(select(RequestEvent).where(RequestEvent.request_id == case.id,
                                                       RequestEvent.kind == "message")).one()
    assert added.body == "[小程序] 粮油店下单 pages/order"
    assert added.data["page_path"] == "pages/order"


def test_unbound_links_are_told_how_to_bind(phone, town, session, sender):
    """A link from someone bound to nobody opens nothing and says how to bind."""
    reply = phone._reply(sender.raw("o-stranger", "link", _link("看看这个", "https://example.cn/a")))
    assert reply == texts.HOW_TO_BIND
    assert session.scalar(select(func.count()).select_from(ServiceRequest)) == 0


def test_a_follower_scanning_a_plain_code_is_welcomed_back(phone, town, session, clock):
    """SCAN without a bind scene: a bound follower is welcomed back, an unbound one told how to bind."""
    elder = make_beneficiary(session, town.village, clock(), assistant=town.assistant)
    session.commit()
    assert phone.event("o-son", "subscribe") == texts.WELCOME
    assert phone.event("o-son", "SCAN", key="poster-2026") == texts.HOW_TO_BIND
    _bind(phone, "o-son", elder.bind_code)
    assert phone.event("o-son", "SCAN", key="poster-2026") == texts.WELCOME_BACK
