"""Subscription-notice choices (订阅通知) through the webhook, as WeChat pushes them
(https://developers.weixin.qq.com/doc/service/guide/product/subscription_messages/push.html):
subscribe_msg_popup_event (accept or reject per template, one or several <List> items),
subscribe_msg_change_event (reject) and subscribe_msg_sent_event; and the dispatcher sending no
notice of a template the user rejected: the push ends as WeChat's 43101 does, by SMS for staff."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import requests as http
from sqlalchemy import select

from devtools.fake_sms import FakeSmsServer
from models import NoticeConsent, OutboxMessage, WeChatUser
from runtime.dispatch import drain_outbox
from services import notify
from services.notify import Push, SmsPlan, sms_text
from tests.conftest import TEST_SMS_KEY_ID, TEST_SMS_KEY_SECRET, TEST_SMS_SIGN
from tests.runtime.test_subscription_notices import FIELDS, NOTICE, NOTICE_KEYS, SETTING, URL, accept, calls
from tests.support.factories import fresh, make_town

TZ = ZoneInfo("Asia/Shanghai")
OTHER = "sub-progress-9nLI"
BIZSEND = "message/subscribe/bizsend"


def items(*pairs, scene: str | None = "2", status_tag: str = "SubscribeStatusString") -> str:
    """<List> items for (template id, status) pairs, as WeChat writes them."""
    return "".join(f"<List><TemplateId><![CDATA[{template}]]></TemplateId><{status_tag}><![CDATA[{status}]]>"
                   f"</{status_tag}>" + (f"<PopupScene>{scene}</PopupScene>" if scene else "") + "</List>"
                   for template, status in pairs)


def popup(sender, openid: str, *pairs, at: int | None = None) -> str:
    """A subscribe_msg_popup_event's XML."""
    inner = ("<Event><![CDATA[subscribe_msg_popup_event]]></Event>"
             f"<SubscribeMsgPopupEvent>{items(*pairs)}</SubscribeMsgPopupEvent>")
    return _event(sender, openid, inner, at)


def change(sender, openid: str, *pairs, at: int | None = None) -> str:
    """A subscribe_msg_change_event's XML (WeChat pushes only rejections)."""
    inner = ("<Event><![CDATA[subscribe_msg_change_event]]></Event>"
             f"<SubscribeMsgChangeEvent>{items(*pairs, scene=None)}</SubscribeMsgChangeEvent>")
    return _event(sender, openid, inner, at)


def _event(sender, openid: str, inner: str, at: int | None) -> str:
    """An event's whole XML at `at` (Unix seconds; the clock's now by default)."""
    created = at if at is not None else int(sender.clock().timestamp())
    return (f"<xml><ToUserName><![CDATA[{sender.account}]]></ToUserName><FromUserName><![CDATA[{openid}]]>"
            f"</FromUserName><CreateTime>{created}</CreateTime><MsgType><![CDATA[event]]></MsgType>{inner}</xml>")


def choices(session, openid: str) -> dict[str, str]:
    """The recorded choice per template for one user, as committed."""
    fresh(session)
    rows = session.execute(select(NoticeConsent.template_id, NoticeConsent.choice)
                           .join(WeChatUser, WeChatUser.id == NoticeConsent.wechat_user_id)
                           .where(WeChatUser.openid == openid))
    return dict(rows.all())


def test_a_popup_with_several_templates_records_each_choice(client, sender, session):
    """Accept one, reject another: both recorded; WeChat gets "success" and the user sees nothing."""
    response, _ = sender.post(client, popup(sender, "o-pop-1", (NOTICE, "accept"), (OTHER, "reject")))
    assert response.status_code == 200 and response.data == b"success"
    assert choices(session, "o-pop-1") == {NOTICE: "accept", OTHER: "reject"}


def test_a_popup_with_one_template_is_recorded(client, sender, session):
    """One <List> item (parsed as a single element, not a list) is recorded as well."""
    sender.post(client, popup(sender, "o-pop-2", (NOTICE, "reject")))
    assert choices(session, "o-pop-2") == {NOTICE: "reject"}


def test_a_change_event_rejects_what_was_accepted_and_an_older_event_does_not_undo_it(client, sender, session):
    """Accepted, then turned off in 服务通知: rejected; the accept's event arriving late changes nothing."""
    now = int(sender.clock().timestamp())
    sender.post(client, popup(sender, "o-pop-3", (NOTICE, "accept"), at=now - 120))
    sender.post(client, change(sender, "o-pop-3", (NOTICE, "reject"), at=now - 60))
    assert choices(session, "o-pop-3") == {NOTICE: "reject"}
    sender.post(client, popup(sender, "o-pop-3", (NOTICE, "accept"), at=now - 90))
    assert choices(session, "o-pop-3") == {NOTICE: "reject"}
    sender.post(client, popup(sender, "o-pop-3", (NOTICE, "accept"), at=now))
    assert choices(session, "o-pop-3") == {NOTICE: "accept"}


def test_a_retried_event_is_recorded_once(client, sender, session):
    """WeChat's retry of the same event (same sender and CreateTime) is one event."""
    xml = popup(sender, "o-pop-4", (NOTICE, "accept"))
    for _ in range(3):
        assert sender.post(client, xml)[0].status_code == 200
    fresh(session)
    assert session.scalar(select(NoticeConsent.id).where(NoticeConsent.template_id == NOTICE)) is not None
    assert len(session.scalars(select(NoticeConsent)).all()) == 1


def test_a_sent_report_and_odd_items_change_nothing(client, sender, session):
    """subscribe_msg_sent_event is a delivery report; an item with an unknown status is left out."""
    inner = ("<Event><![CDATA[subscribe_msg_sent_event]]></Event><SubscribeMsgSentEvent>"
             f"<List><TemplateId><![CDATA[{NOTICE}]]></TemplateId><MsgID>1700827132819554304</MsgID>"
             "<ErrorCode>0</ErrorCode><ErrorStatus><![CDATA[success]]></ErrorStatus></List></SubscribeMsgSentEvent>")
    assert sender.post(client, _event(sender, "o-pop-5", inner, None))[0].status_code == 200
    sender.post(client, popup(sender, "o-pop-5", (NOTICE, "maybe"), at=int(sender.clock().timestamp()) + 1))
    assert choices(session, "o-pop-5") == {}


@pytest.fixture
def sms():
    """The Aliyun SMS stand-in taking the task template with any variables."""
    server = FakeSmsServer(access_key_id=TEST_SMS_KEY_ID, access_key_secret=TEST_SMS_KEY_SECRET,
                           sign_names=(TEST_SMS_SIGN,), templates={"SMS_400001": None}).start()
    yield server
    server.stop()


def test_the_dispatcher_sends_no_notice_the_user_rejected_and_texts_staff_instead(make_app, sender,
                                                                                  session, clock, fake_wechat, sms):
    """Both users accepted at WeChat; one then rejected the template through the pop-up. The accepting one
    gets the notice; the rejecting one gets no bizsend call, their push ends as 43101 does, and being
    staff with a phone they get its SMS instead."""
    http.post(f"{fake_wechat.root_url}/_subscribe/templates", json={"template_id": NOTICE, "keys": NOTICE_KEYS},
              timeout=5).raise_for_status()
    app = make_app(wechat_subscribe_templates=SETTING, sms_provider="aliyun", sms_endpoint=sms.url,
                   sms_access_key_id=TEST_SMS_KEY_ID, sms_access_key_secret=TEST_SMS_KEY_SECRET,
                   sms_sign_name=TEST_SMS_SIGN, sms_templates=(("task", "SMS_400001"),))
    now = clock()
    town = make_town(session, now)
    keen, weary = town.supervisor, town.officer
    for user in (keen.wechat_user, weary.wechat_user):
        user.last_message_at = now - timedelta(days=3)
        accept(fake_wechat, user.openid)
    session.commit()
    sender.post(app.test_client(), popup(sender, "o-officer", (NOTICE, "reject")))
    plan = SmsPlan(templates=frozenset({"task"}))
    for staff in (keen, weary):
        push = Push(key=f"alert:7:{staff.id}", text="请督办", template_id="dev-template-task", fields=FIELDS, url=URL,
                    sms=sms_text("task", number=7, name="x", village="x", what="x"))
        assert notify.enqueue(session, push, staff.wechat_user, now, tz=TZ, staff=staff, urgent=True, sms=plan)
    session.commit()
    svc = app.extensions["sanzhida"]
    drain_outbox(svc.session_factory, svc.wechat, clock)
    drain_outbox(svc.session_factory, svc.wechat, clock)
    assert [c["body"]["touser"] for c in calls(fake_wechat, BIZSEND)] == ["o-supervisor"]
    fresh(session)
    rows = {r.idempotency_key: r for r in session.scalars(select(OutboxMessage))}
    refused = rows[f"alert:7:{weary.id}"]
    assert refused.status == "dead" and refused.last_error.startswith("43101")
    assert rows[f"alert:7:{keen.id}"].status == "sent"
    assert rows[f"sms:alert:7:{weary.id}"].status == "sent"
    assert [c["phones"] for c in http.get(f"{sms.url}_calls", timeout=5).json()] == [[weary.phone]]
