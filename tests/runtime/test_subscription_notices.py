"""Subscription notices (订阅通知, message/subscribe/bizsend) as the channel of a template's pushes,
through the WeChat API stand-in, which refuses what WeChat's documentation says it refuses:
https://developers.weixin.qq.com/doc/service/api/notify/notify/api_sendnewsubscribemsg.html"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import requests as http
from sqlalchemy import select
from wechatpy.exceptions import WeChatClientException

from config.settings import ConfigError, load_settings
from models import OutboxMessage, WeChatUser
from runtime.dispatch import drain_outbox
from services import notify
from services.notify import Push
from services.policy.push import UnfitValue, notice_data
from tests.support.factories import fresh, make_wechat_user

TZ = ZoneInfo("Asia/Shanghai")
PATH = "message/subscribe/bizsend"
URL = "https://mz.example.cn/m/list/abc.def.ghi"
NOTICE = "sub-task-Lw3Q"
# A library template whose keywords are numbered differently from ours, each of the same type.
NOTICE_KEYS = {"character_string2": "character_string", "thing1": "thing", "thing4": "thing",
               "phrase3": "phrase", "time5": "time"}
SETTING = f"task:{NOTICE}:character_string2/thing1/thing4/phrase3/time5"
FIELDS = {"character_string1": "12", "thing2": "张秀英 东湖村", "thing3": "家里房子漏雨了",
          "phrase4": "一般", "time5": "2026-12-01 09:00"}
# Our keyword -> the notice's, as the setting maps them.
NOTICE_KEYS_BY_OURS = dict(zip(FIELDS, NOTICE_KEYS))
LONG = "家里房子漏雨了屋顶有一个大洞雨水一直往下流请尽快来看看谢谢"


def standin(fake_wechat, path: str, body: dict) -> None:
    """Use one of the stand-in's test controls."""
    http.post(f"{fake_wechat.root_url}{path}", json=body, timeout=5).raise_for_status()


def calls(fake_wechat, path: str) -> list[dict]:
    """What the stand-in received on one path."""
    return [c for c in http.get(f"{fake_wechat.root_url}/_calls", timeout=5).json() if c["path"] == path]


@pytest.fixture
def notice_app(make_app, fake_wechat):
    """The app with task pushes going as subscription notices, the template registered on the stand-in."""
    standin(fake_wechat, "/_subscribe/templates", {"template_id": NOTICE, "keys": NOTICE_KEYS})
    return make_app(wechat_subscribe_templates=SETTING)


def drain(app, clock):
    """Dispatch the outbox as the scheduler does."""
    svc = app.extensions["sanzhida"]
    return drain_outbox(svc.session_factory, svc.wechat, clock)


def queue(session, clock, openid: str, key: str, **fields) -> str:
    """Queue a task push to a follower whose customer-service window is closed; returns its key."""
    user = session.scalars(select(WeChatUser).where(WeChatUser.openid == openid)).first()
    user = user or make_wechat_user(session, openid, clock() - timedelta(days=3))
    push = Push(key=key, text="请督办", template_id="dev-template-task", fields={**FIELDS, **fields}, url=URL)
    assert notify.enqueue(session, push, user, clock(), tz=TZ, urgent=True)
    session.commit()
    return key


def row(session, key: str) -> OutboxMessage:
    """The outbox row of a push, as committed."""
    fresh(session)
    return session.scalars(select(OutboxMessage).where(OutboxMessage.idempotency_key == key)).one()


def accept(fake_wechat, openid: str, template_id: str = NOTICE) -> None:
    """The user accepts the template in WeChat's subscription pop-up."""
    standin(fake_wechat, "/_subscribe/users", {"openid": openid, "template_id": template_id, "status": "accept"})


def test_a_task_push_goes_as_a_notice_with_exactly_the_fields_bizsend_requires(session, clock, notice_app,
                                                                                fake_wechat):
    """touser, template_id, data under the notice's keywords, page the link; no template message."""
    accept(fake_wechat, "o-notice-1")
    key = queue(session, clock, "o-notice-1", "alert:1:1")
    report = drain(notice_app, clock)
    assert (report.sent, report.dead) == (1, 0)
    (sent,) = calls(fake_wechat, PATH)
    assert sent["outcome"] == "delivered"
    assert sent["body"] == {
        "touser": "o-notice-1",
        "template_id": NOTICE,
        "page": URL,
        "data": {"character_string2": {"value": "12"}, "thing1": {"value": "张秀英 东湖村"},
                 "thing4": {"value": "家里房子漏雨了"}, "phrase3": {"value": "一般"},
                 "time5": {"value": "2026-12-01 09:00"}},
    }
    assert calls(fake_wechat, "message/template/send") == []
    stored = row(session, key)
    assert (stored.status, stored.kind, stored.attempts) == ("sent", "template", 1)


def test_an_over_long_thing_is_cut_to_20_characters(session, clock, notice_app, fake_wechat):
    """In a push and in a notice sent directly: 19 characters and an ellipsis, which WeChat accepts."""
    accept(fake_wechat, "o-notice-2")
    accept(fake_wechat, "o-notice-2")
    queue(session, clock, "o-notice-2", "alert:2:1", thing3=LONG)
    assert drain(notice_app, clock).sent == 1
    wechat = notice_app.extensions["sanzhida"].wechat
    data = {**{NOTICE_KEYS_BY_OURS[k]: v for k, v in FIELDS.items()}, "thing4": LONG}
    assert wechat.send_subscription_notice("o-notice-2", NOTICE, data)["errcode"] == 0
    sent = calls(fake_wechat, PATH)
    assert [c["outcome"] for c in sent] == ["delivered", "delivered"]
    for call in sent:
        assert call["body"]["data"]["thing4"]["value"] == LONG[:19] + "…"
        assert len(call["body"]["data"]["thing4"]["value"]) == 20


def test_a_value_cutting_would_change_is_refused_unsent(session, notice_app, fake_wechat):
    """A time that is not a time is never cut into one: 47003 here, and WeChat is not called."""
    wechat = notice_app.extensions["sanzhida"].wechat
    data = {**{NOTICE_KEYS_BY_OURS[k]: v for k, v in FIELDS.items()}, "time5": "明天上午"}
    with pytest.raises(WeChatClientException) as refused:
        wechat.send_subscription_notice("o-notice-3", NOTICE, data)
    assert refused.value.errcode == 47003 and "time5" in refused.value.errmsg
    assert calls(fake_wechat, PATH) == []


def test_a_user_who_did_not_accept_is_a_dead_letter_never_retried(session, clock, notice_app, fake_wechat):
    """43101 is permanent for that user and push: dead after one try, nothing sent later."""
    key = queue(session, clock, "o-notice-4", "alert:4:1")
    report = drain(notice_app, clock)
    assert (report.sent, report.dead) == (0, 1)
    stored = row(session, key)
    assert (stored.status, stored.attempts) == ("dead", 1)
    assert stored.last_error.startswith("43101: user refuse to accept the msg rid: ")
    clock.advance(hours=2)
    assert drain(notice_app, clock).claimed == 0
    assert [c["outcome"] for c in calls(fake_wechat, PATH)] == ["errcode 43101"]


def test_a_one_time_acceptance_allows_one_notice(session, clock, notice_app, fake_wechat):
    """一次性订阅: the second push to the same user finds the acceptance used up (43101)."""
    accept(fake_wechat, "o-notice-5")
    first = queue(session, clock, "o-notice-5", "alert:5:1")
    second = queue(session, clock, "o-notice-5", "alert:5:2")
    report = drain(notice_app, clock)
    assert (report.sent, report.dead) == (1, 1)
    assert (row(session, first).status, row(session, second).status) == ("sent", "dead")


def test_a_long_term_acceptance_allows_many(session, clock, make_app, fake_wechat):
    """长期订阅: accepted once, every push goes."""
    standin(fake_wechat, "/_subscribe/templates", {"template_id": NOTICE, "keys": NOTICE_KEYS, "long_term": True})
    app = make_app(wechat_subscribe_templates=SETTING)
    accept(fake_wechat, "o-notice-6")
    for n in range(3):
        queue(session, clock, "o-notice-6", f"alert:6:{n}")
    assert drain(app, clock).sent == 3


def test_an_unknown_notice_template_is_a_dead_letter(session, clock, make_app, fake_wechat):
    """A notice template the account does not have: 40037, dead at once."""
    app = make_app(wechat_subscribe_templates="task:not-on-the-account")
    key = queue(session, clock, "o-notice-7", "alert:7:1")
    assert drain(app, clock).dead == 1
    assert row(session, key).last_error.startswith("40037: invalid template_id")
    assert [c["body"]["template_id"] for c in calls(fake_wechat, PATH)] == ["not-on-the-account"]


def test_without_the_setting_pushes_stay_template_messages(session, clock, app, fake_wechat):
    """Nothing configured: the same push goes as a template message, as before."""
    queue(session, clock, "o-notice-8", "alert:8:1")
    assert drain(app, clock).sent == 1
    assert [c["outcome"] for c in calls(fake_wechat, "message/template/send")] == ["delivered"]
    assert calls(fake_wechat, PATH) == []


@pytest.mark.parametrize(("change", "errcode", "errmsg"), [
    ({"touser": ""}, 40003, "invalid openid"),
    ({"template_id": ""}, 40037, "invalid template_id"),
    ({"drop": "time5"}, 47003, "argument invalid! data.time5.value invalid"),
    ({"time5": "明天上午"}, 47003, "argument invalid! data.time5.value invalid"),
    ({"thing1": LONG}, 47003, "argument invalid! data.thing1.value invalid"),
    ({"phrase3": "一般紧急的事情"}, 47003, "argument invalid! data.phrase3.value invalid"),
    ({"page": "m/list/abc"}, 47003, "argument invalid! page invalid"),
])
def test_the_standin_refuses_what_wechat_refuses(notice_app, fake_wechat, change, errcode, errmsg):
    """Posted as is (no fitting): each break of the documented rules gets WeChat's errcode."""
    accept(fake_wechat, "o-notice-9")
    data = {NOTICE_KEYS_BY_OURS[k]: {"value": v} for k, v in FIELDS.items()}
    body = {"touser": "o-notice-9", "template_id": NOTICE, "data": data}
    for name, value in change.items():
        if name == "drop":
            del data[value]
        elif name in NOTICE_KEYS:
            data[name] = {"value": value}
        else:
            body[name] = value
    with pytest.raises(WeChatClientException) as refused:
        notice_app.extensions["sanzhida"].wechat.post(PATH, data=body)
    assert refused.value.errcode == errcode and refused.value.errmsg.startswith(errmsg)
    # The same body, whole, goes: the refusal was for the change alone.
    good = {"touser": "o-notice-9", "template_id": NOTICE,
            "data": {NOTICE_KEYS_BY_OURS[k]: {"value": v} for k, v in FIELDS.items()}, "page": URL}
    assert notice_app.extensions["sanzhida"].wechat.post(PATH, data=good)["errcode"] == 0


def test_the_standin_refuses_a_dead_token(fake_wechat):
    """Without a valid access_token: 40001, as every API."""
    answer = http.post(f"{fake_wechat.base_url}{PATH}?access_token=nope", json={"touser": "o"}, timeout=5).json()
    assert answer["errcode"] == 40001


def test_notice_data_fits_a_thing_and_refuses_the_rest():
    """The fitting rule alone: a thing is cut, a phrase that is too long is refused, not cut."""
    assert notice_data({"thing1": LONG})["thing1"]["value"] == LONG[:19] + "…"
    assert notice_data({"time2": {"value": "2026-12-01 09:00"}}) == {"time2": {"value": "2026-12-01 09:00"}}
    for bad in ({"phrase3": "一般紧急的事情"}, {"character_string1": "第12号"}, {"keyword1": "x"}):
        with pytest.raises(UnfitValue):
            notice_data(bad)


@pytest.mark.parametrize("value", ["task", "sms:x", "task:a,task:b", "task:a:thing1",
                                   "task:a:time1/thing1/thing4/phrase3/time5"])
def test_a_malformed_setting_is_refused_at_start_up(value):
    """WECHAT_SUBSCRIBE_TEMPLATES names a known kind once, with an id and keywords of matching types."""
    with pytest.raises(ConfigError, match="WECHAT_SUBSCRIBE_TEMPLATES"):
        load_settings({"WECHAT_SUBSCRIBE_TEMPLATES": value}, read_dotenv=False)
    settings = load_settings({"WECHAT_SUBSCRIBE_TEMPLATES": SETTING}, read_dotenv=False)
    assert settings.subscribe_templates["task"] == (NOTICE, NOTICE_KEYS_BY_OURS)
