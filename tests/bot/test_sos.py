"""一键紧急求助 end to end through /wechat, in both reply modes: the menu's SOS key opens an urgent case
at once, the assistant and both town officers are alerted in the same dispatch, the ladder goes on
without pushing them twice, a second tap joins the case, the shared place is attached once."""

from __future__ import annotations

import random

import pytest
import requests as http
from sqlalchemy import func, select

from devtools import wechat_side
from devtools.fake_sms import FakeSmsServer
from models import FamilyLink, OutboxMessage, RequestEvent, ServiceRequest
from models.enums import StaffRole
from models.responsibility import VillageOfficers
from runtime.dispatch import dispatch_outbox
from services import escalation, texts
from tests.conftest import TEST_SMS_KEY_ID, TEST_SMS_KEY_SECRET, TEST_SMS_SIGN
from tests.runtime.test_sms_outbox import SMS_SETTINGS, sent_to, sms_calls
from tests.runtime.test_sms_staff import CODES, REGISTERED
from tests.support.factories import fresh, make_beneficiary, make_staff, make_town, make_wechat_user
from tests.support.wechat import reply_content
from workers.inbox import InboxWorker

MODES = ["inline", "queued"]
# A place in the demo county, as WeChat's picker gives it (Location_X is the latitude).
LAT, LNG, LABEL, POI = "30.657412", "113.914286", "湖北省孝感市柳河镇东湾村3组", "东湾村村委会"


class Chat:
    """WeChat's side for one reply mode: post as someone, get the answer they see, run the dispatcher."""

    def __init__(self, app, sender, fake_wechat, clock, mode: str):
        self.app, self.client, self.sender, self.fake, self.clock = app, app.test_client(), sender, fake_wechat, clock
        self.worker = InboxWorker(app.extensions["sanzhida"]) if mode == "queued" else None

    def post(self, openid: str, xml: str) -> str:
        """Post a message or event; the passive reply, or in queued mode the customer-service answer."""
        before = len(self.texts(openid))
        response, _ = self.sender.post(self.client, xml)
        assert response.status_code == 200
        reply = reply_content(response.data).get("Content", "") if response.data != b"success" else ""
        if self.worker is not None:
            self.worker.drain()
            reply = reply or "\n".join(self.texts(openid)[before:])
        self.clock.advance(seconds=2)
        return reply

    def tap(self, openid: str, key: str) -> str:
        """A custom-menu CLICK."""
        return self.post(openid, self.sender.event(openid, "CLICK", key=key))

    def say(self, openid: str, text: str) -> str:
        """A text message."""
        return self.post(openid, self.sender.text(openid, text))

    def pick_place(self, openid: str) -> str:
        """The menu's 发送位置: the location_select event with the place picked."""
        inner = wechat_side.location_select_inner("SOS_LOCATION", LAT, LNG, LABEL, POI)
        return self.post(openid, self.sender.raw(openid, "event", inner))

    def send_place(self, openid: str) -> str:
        """The location message WeChat sends with the picked place."""
        return self.post(openid, self.sender.raw(openid, "location", wechat_side.location_inner(LAT, LNG, LABEL)))

    def dispatch(self):
        """One run of the outbox dispatcher, as the scheduler's tick runs it."""
        svc = self.app.extensions["sanzhida"]
        return dispatch_outbox(svc.session_factory, svc.wechat, svc.clock, rng=random.Random(7))

    def calls(self) -> list[dict]:
        """Every call the stand-in recorded."""
        return http.get(f"{self.fake.root_url}/_calls", timeout=5).json()

    def texts(self, openid: str) -> list[str]:
        """Customer-service texts delivered to `openid`."""
        return [c["body"]["text"]["content"] for c in self.calls()
                if c["path"] == "message/custom/send" and c["outcome"] == "delivered"
                and c["body"].get("touser") == openid and "text" in c["body"]]

    def inbox(self, openid: str) -> list[str]:
        """Everything delivered to `openid`: customer-service texts, and template fields and link joined."""
        found = []
        for call in self.calls():
            body = call.get("body") or {}
            if call["outcome"] != "delivered" or body.get("touser") != openid:
                continue
            if call["path"] == "message/custom/send" and "text" in body:
                found.append(body["text"]["content"])
            elif call["path"] == "message/template/send":
                found.append(" | ".join([*(str(v["value"]) for v in body["data"].values()), body.get("url") or ""]))
        return found


@pytest.fixture(params=MODES)
def chat(request, make_app, sender, fake_wechat, clock):
    """WeChat's side in inline and in queued reply mode."""
    return Chat(make_app(wechat_reply_mode=request.param), sender, fake_wechat, clock, request.param)


@pytest.fixture
def town(session, clock):
    """The town, with 东湾村's responsible officer 赵敏 and a deputy 钱军, both on WeChat."""
    world = make_town(session, clock())
    world.deputy = make_staff(session, StaffRole.TOWN_OFFICER, world.town, clock(), openid="o-deputy", name="钱军")
    session.add(VillageOfficers(village_id=world.village.id, responsible_staff_id=world.officer.id,
                                deputy_staff_id=world.deputy.id, updated_at=clock()))
    session.commit()
    return world


def bind(session, clock, openid: str, *people) -> None:
    """`openid` bound to each of these beneficiaries, as a child."""
    user = make_wechat_user(session, openid, clock())
    for person in people:
        session.add(FamilyLink(beneficiary_id=person.id, wechat_user_id=user.id, relation="子女", active=True,
                               created_at=clock()))
    session.commit()


def outbox_to(session, openid: str) -> list[OutboxMessage]:
    """The outbox rows for one recipient, oldest first."""
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.recipient_openid == openid)
                                .order_by(OutboxMessage.id)))


def test_the_button_opens_an_urgent_case_and_alerts_assistant_and_officers_in_one_dispatch(
        chat, town, session, clock):
    """The advice with 120 and the assistant's phone; three pushes queued and delivered in one run."""
    elder = make_beneficiary(session, town.village, clock(), assistant=town.assistant, name="陈桂兰")
    bind(session, clock, "o-son", elder)

    reply = chat.tap("o-son", "SOS")
    case = session.scalars(select(ServiceRequest)).one()
    assert f"编号 {case.id}" in reply and "陈桂兰" in reply
    assert "120（急救）" in reply and "110（报警）" in reply and "119（火警）" in reply
    assert "王芳" in reply and town.assistant.phone in reply
    assert "「平安」→「发送位置」" in reply
    assert (case.urgency, case.urgency_reason, case.category, case.summary) == ("urgent", "sos", "其他", "一键紧急求助")
    assert (case.assignee_staff_id, case.status) == (town.assistant.id, "open")

    for openid in ("o-assistant", "o-officer", "o-deputy"):
        assert len(outbox_to(session, openid)) == 1, openid
    report = chat.dispatch()
    assert report.sent >= 3
    assistant, officer, deputy = (chat.inbox(o) for o in ("o-assistant", "o-officer", "o-deputy"))
    assert len(assistant) == 1 and str(case.id) in assistant[0] and "陈桂兰" in assistant[0]
    assert len(officer) == 1 and "一键紧急求助" in officer[0]
    assert len(deputy) == 1 and "一键紧急求助" in deputy[0]
    assert chat.inbox("o-supervisor") == []
    pushed = [e.data for e in session.scalars(select(RequestEvent).where(RequestEvent.request_id == case.id,
                                                                         RequestEvent.kind == "push"))]
    assert len(pushed) == 3


def test_the_ladder_goes_on_without_pushing_the_officers_twice(chat, town, session, clock, app):
    """Rung 1 reminds only the assistant, rung 2 adds nobody, rung 3 reaches the city liaison."""
    elder = make_beneficiary(session, town.village, clock(), assistant=town.assistant)
    bind(session, clock, "o-son", elder)
    chat.tap("o-son", "SOS")
    chat.dispatch()
    env = app.extensions["sanzhida"].request_env

    def scan_at(minutes_after: int) -> None:
        clock.advance(minutes=minutes_after)
        with app.extensions["sanzhida"].session_factory() as s:
            escalation.scan(s, env, clock())
            s.commit()
        chat.dispatch()

    scan_at(16)
    fresh(session)
    case = session.scalars(select(ServiceRequest)).one()
    assert case.escalation_level == 1
    assert len(chat.inbox("o-assistant")) == 2, "the assistant's reminder"
    assert len(chat.inbox("o-officer")) == 1 and len(outbox_to(session, "o-officer")) == 1
    scan_at(15)
    assert len(chat.inbox("o-deputy")) == 1 and len(outbox_to(session, "o-deputy")) == 1
    scan_at(15)
    fresh(session)
    assert session.scalars(select(ServiceRequest)).one().escalation_level == 3
    assert len(chat.inbox("o-supervisor")) == 1, "the city liaison at rung 3"


def test_a_second_tap_joins_the_case_and_tells_the_assistant_once(chat, town, session, clock):
    """Within the merge window: the same case, a timeline entry per tap, one repeat push, officers left alone."""
    elder = make_beneficiary(session, town.village, clock(), assistant=town.assistant)
    bind(session, clock, "o-son", elder)
    chat.tap("o-son", "SOS")
    clock.advance(minutes=10)
    again = chat.tap("o-son", "SOS")
    third = chat.tap("o-son", "SOS")
    case = session.scalars(select(ServiceRequest)).one()
    assert f"求助 {case.id}号 已在处理" in again and "王芳" in again and "120" in again
    assert third == again
    taps = session.scalar(select(func.count()).select_from(RequestEvent).where(
        RequestEvent.request_id == case.id, RequestEvent.kind == "message"))
    assert taps == 2
    chat.dispatch()
    assert len(chat.inbox("o-assistant")) == 2
    assert sum("又按了一次" in m for m in chat.inbox("o-assistant")) == 1
    assert len(chat.inbox("o-officer")) == 1 and len(chat.inbox("o-deputy")) == 1

    # After the merge window a tap is a new emergency.
    clock.advance(hours=7)
    assert "编号" in chat.tap("o-son", "SOS")
    fresh(session)
    assert session.scalar(select(func.count()).select_from(ServiceRequest)) == 2


def test_the_picked_place_is_attached_once_and_sent_to_the_assistant(chat, town, session, clock):
    """The location_select event and its location message carry one place: one entry, one push with the map."""
    elder = make_beneficiary(session, town.village, clock(), assistant=town.assistant, name="陈桂兰")
    bind(session, clock, "o-son", elder)
    chat.tap("o-son", "SOS")
    chat.dispatch()

    thanks = chat.pick_place("o-son")
    assert thanks == texts.SOS_LOCATION_RECEIVED.format(name="王芳")
    assert chat.send_place("o-son") == ""
    case = session.scalars(select(ServiceRequest)).one()
    places = [e for e in session.scalars(select(RequestEvent).where(RequestEvent.request_id == case.id))
              if (e.data or {}).get("location")]
    assert len(places) == 1
    assert places[0].data["location"]["x"] == LAT and places[0].data["location"]["poiname"] == POI
    chat.dispatch()
    told = [m for m in chat.inbox("o-assistant") if "uri.amap.com/marker" in m]
    assert len(told) == 1 and POI in told[0] and f"position={LNG},{LAT}" in told[0]


def test_a_place_sent_as_a_message_alone_is_attached_and_thanked(chat, town, session, clock):
    """Only the location message (an older WeChat): attached to the SOS case all the same."""
    elder = make_beneficiary(session, town.village, clock(), assistant=town.assistant)
    bind(session, clock, "o-son", elder)
    chat.tap("o-son", "SOS")
    assert chat.send_place("o-son") == texts.SOS_LOCATION_RECEIVED.format(name="王芳")
    assert chat.pick_place("o-son") == ""
    case = session.scalars(select(ServiceRequest)).one()
    places = [e for e in case.events if (e.data or {}).get("location")]
    assert len(places) == 1


def test_with_several_bound_the_button_asks_which_and_the_answer_opens_the_case(chat, town, session, clock):
    """A son bound to both parents: asked who, with the numbers first; `2` opens the mother's case."""
    father = make_beneficiary(session, town.village, clock(), assistant=town.assistant, name="刘大山")
    mother = make_beneficiary(session, town.village, clock(), assistant=town.assistant, name="张秀英")
    bind(session, clock, "o-son", father, mother)

    question = chat.tap("o-son", "SOS")
    assert "120" in question and "1 刘大山" in question and "2 张秀英" in question
    assert session.scalar(select(func.count()).select_from(ServiceRequest)) == 0
    assert chat.say("o-son", "九") == texts.WHICH_NOT_UNDERSTOOD
    opened = chat.say("o-son", "2")
    fresh(session)
    case = session.scalars(select(ServiceRequest)).one()
    assert case.beneficiary_id == mother.id and case.urgency == "urgent"
    assert "张秀英" in opened and "120" in opened and town.assistant.phone in opened
    # A second tap goes to the open case without asking again.
    assert f"求助 {case.id}号 已在处理" in chat.tap("o-son", "SOS")


def test_an_unbound_follower_gets_the_numbers_and_how_to_bind(chat, session, clock):
    """Nobody to alert: the emergency numbers first, then how to bind; no case."""
    reply = chat.tap("o-stranger", "SOS")
    assert reply.startswith("情况危急请马上拨打：120（急救）")
    assert "绑定" in reply
    assert session.scalar(select(func.count()).select_from(ServiceRequest)) == 0


def test_with_sms_on_the_alerts_also_reach_every_phone_at_once(make_app, sender, fake_wechat, town, session, clock):
    """SMS_URGENT_ESCALATIONS: the assistant and both officers get the `sos` text in the same dispatch as
    their WeChat pushes (on WeChat too), once each, with the case, the person and the village; never the family."""
    sms = FakeSmsServer(access_key_id=TEST_SMS_KEY_ID, access_key_secret=TEST_SMS_KEY_SECRET,
                        sign_names=(TEST_SMS_SIGN,), templates=REGISTERED).start()
    try:
        app = make_app(sms_provider="aliyun", sms_endpoint=sms.url,
                       **{**SMS_SETTINGS, "sms_templates": tuple(CODES.items())})
        chat = Chat(app, sender, fake_wechat, clock, "inline")
        elder = make_beneficiary(session, town.village, clock(), assistant=town.assistant, name="陈桂兰")
        bind(session, clock, "o-son", elder)
        chat.tap("o-son", "SOS")
        case = session.scalars(select(ServiceRequest)).one()
        chat.dispatch()
        chat.dispatch()
        for person, openid in ((town.assistant, "o-assistant"), (town.officer, "o-officer"),
                               (town.deputy, "o-deputy")):
            [message] = sent_to(sms, person.phone)
            assert message["template"] == CODES["sos"]
            assert message["params"] == {"number": str(case.id), "name": "陈桂兰", "village": town.village.name}
            assert len(chat.inbox(openid)) == 1, openid
        assert len([c for c in sms_calls(sms) if c["code"] == "OK"]) == 3
    finally:
        sms.stop()
