"""The WeChat stand-in refuses what WeChat refuses: a wrong app, a customer-service message
outside the user's window, an API that does not exist, a QR code WeChat would not make."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from tests.support.factories import make_wechat_user

HOUR = 3600


def token_answer(server, **params) -> dict:
    """WeChat's `token` answer for these query parameters (the app's own unless overridden)."""
    query = {"grant_type": "client_credential", "appid": server.state.app_id, "secret": server.state.app_secret,
             **params}
    return requests.get(f"{server.base_url}token", params={k: v for k, v in query.items() if v is not None},
                        timeout=5).json()


def call(server, path: str, body: dict | None = None, method: str = "POST", **params) -> requests.Response:
    """One API call with a fresh token."""
    params = {"access_token": token_answer(server)["access_token"], **params}
    return requests.request(method, f"{server.base_url}{path}", params=params, json=body, timeout=5)


def did(server, openid: str, msg_type: str = "text", **fields) -> dict:
    """Tell the stand-in what a user did in WeChat."""
    answer = requests.post(f"{server.root_url}/_interactions", json={"openid": openid, "msg_type": msg_type, **fields},
                           timeout=5)
    assert answer.status_code == 201, answer.text
    return answer.json()


def advance(server, seconds: float) -> None:
    """Move the stand-in's clock forward."""
    requests.post(f"{server.root_url}/_clock", json={"advance_seconds": seconds}, timeout=5).raise_for_status()


def text_to(server, openid: str) -> int:
    """The errcode of one customer-service text to the user."""
    body = {"touser": openid, "msgtype": "text", "text": {"content": "您好"}}
    return call(server, "message/custom/send", body).json()["errcode"]


def outcomes(server, path: str) -> list[str]:
    """The recorded outcomes of calls to one path."""
    return [c["outcome"] for c in requests.get(f"{server.root_url}/_calls", timeout=5).json() if c["path"] == path]


# The access token: only the app's own id and secret.


@pytest.mark.parametrize("params, errcode", [
    ({"secret": "not-the-secret"}, 40125),
    ({"appid": "wx-someone-else"}, 40013),
    ({"secret": None}, 41004),
    ({"appid": None}, 41002),
    ({"grant_type": "password"}, 40002),
])
def test_a_wrong_or_missing_appid_or_secret_gets_no_token(fake_wechat, params, errcode):
    """WeChat's errcodes, no token, and the secret never in the recorded call."""
    answer = token_answer(fake_wechat, **params)
    assert answer["errcode"] == errcode and "access_token" not in answer
    assert outcomes(fake_wechat, "token") == [f"errcode {errcode}"]
    assert "not-the-secret" not in requests.get(f"{fake_wechat.root_url}/_calls", timeout=5).text


def test_the_products_client_with_a_wrong_secret_is_refused(make_app):
    """The service's own WeChat client sees 40125 and holds no token, as with WeChat."""
    client = make_app(wechat_app_secret="stolen-or-stale").extensions["sanzhida"].wechat
    with pytest.raises(WeChatClientException) as refused:
        client.fetch_access_token()
    assert refused.value.errcode == 40125


# The customer-service window (客服消息下发规则).


def test_a_user_who_never_wrote_gets_no_customer_service_message(fake_wechat):
    """45015 with WeChat's message; nothing delivered."""
    answer = call(fake_wechat, "message/custom/send", {"touser": "o-stranger", "msgtype": "text",
                                                       "text": {"content": "您好"}}).json()
    assert answer == {"errcode": 45015, "errmsg": "response out of time limit or subscription is canceled"}
    assert outcomes(fake_wechat, "message/custom/send") == ["errcode 45015"]


def test_a_message_allows_five_within_48_hours_and_a_new_message_renews_them(fake_wechat):
    """Five go, the sixth is 45047; writing again allows five more; 48 hours later, 45015."""
    did(fake_wechat, "o-1")
    assert [text_to(fake_wechat, "o-1") for _ in range(6)] == [0, 0, 0, 0, 0, 45047]
    advance(fake_wechat, 47 * HOUR)
    did(fake_wechat, "o-1", "voice")
    assert [text_to(fake_wechat, "o-1") for _ in range(5)] == [0] * 5
    advance(fake_wechat, 48 * HOUR)
    assert text_to(fake_wechat, "o-1") == 45015


def test_a_message_registered_in_the_past_counts_from_then(fake_wechat):
    """`at` on the stand-in's clock: 47 hours ago is still open, 49 hours ago is not."""
    now = requests.get(f"{fake_wechat.root_url}/_clock", timeout=5).json()["now"]
    did(fake_wechat, "o-recent", at=now - 47 * HOUR)
    did(fake_wechat, "o-old", at=now - 49 * HOUR)
    assert (text_to(fake_wechat, "o-recent"), text_to(fake_wechat, "o-old")) == (0, 45015)


@pytest.mark.parametrize("event, key", [("subscribe", "qrscene_bind:AB12"), ("SCAN", "bind:AB12"),
                                        ("CLICK", "MY_ASSISTANT")])
def test_a_follow_scan_or_menu_click_allows_three_within_a_minute(fake_wechat, event, key):
    """Three, then 45047; a minute later 45015: events do not open the 48-hour window."""
    did(fake_wechat, "o-1", "event", event=event, event_key=key)
    assert [text_to(fake_wechat, "o-1") for _ in range(4)] == [0, 0, 0, 45047]
    did(fake_wechat, "o-2", "event", event=event, event_key=key)
    advance(fake_wechat, 61)
    assert text_to(fake_wechat, "o-2") == 45015


@pytest.mark.parametrize("event", ["VIEW", "LOCATION", "TEMPLATESENDJOBFINISH"])
def test_other_events_open_no_window(fake_wechat, event):
    """A link-menu view or a location report lets nothing be sent."""
    did(fake_wechat, "o-1", "event", event=event)
    assert text_to(fake_wechat, "o-1") == 45015


def test_after_an_unfollow_no_message_of_either_kind_goes_until_a_new_follow(fake_wechat):
    """Customer-service 45015, template 43004; a new follow lets them go again."""
    did(fake_wechat, "o-1")
    did(fake_wechat, "o-1", "event", event="unsubscribe")
    template = {"touser": "o-1", "template_id": "tpl", "data": {"thing2": {"value": "您好"}}}
    assert text_to(fake_wechat, "o-1") == 45015
    assert call(fake_wechat, "message/template/send", template).json()["errcode"] == 43004
    did(fake_wechat, "o-1", "event", event="subscribe")
    assert call(fake_wechat, "message/template/send", template).json()["errcode"] == 0
    assert text_to(fake_wechat, "o-1") == 0


@pytest.mark.parametrize("body, errcode", [
    ({"msgtype": "text", "text": {"content": "您好"}}, 40003),
    ({"touser": "o-1", "msgtype": "sticker", "sticker": {}}, 40008),
    ({"touser": "o-1", "msgtype": "text", "text": {"content": ""}}, 44004),
])
def test_a_malformed_customer_service_message_is_refused(fake_wechat, body, errcode):
    """No recipient, an unknown type or empty text, even inside the window."""
    did(fake_wechat, "o-1")
    assert call(fake_wechat, "message/custom/send", body).json()["errcode"] == errcode


def test_tests_wechat_side_registers_what_it_posts(fake_wechat, client, sender):
    """A message posted through the `sender` fixture opens that user's window; a forged one does not."""
    sender.post(client, sender.text("o-writer", "你好"))
    sender.post(client, sender.text("o-forger", "你好"), signature="0" * 40)
    assert (text_to(fake_wechat, "o-writer"), text_to(fake_wechat, "o-forger")) == (0, 45015)


def test_a_user_the_tests_session_says_wrote_is_known_to_the_standin(fake_wechat, session, clock):
    """A factory's last_message_at is registered at the same age: 1 hour ago is open, 49 hours ago is not."""
    make_wechat_user(session, "o-lately", clock(), last_message_at=clock() - timedelta(hours=1))
    make_wechat_user(session, "o-long-ago", clock(), last_message_at=clock() - timedelta(hours=49))
    session.commit()
    assert (text_to(fake_wechat, "o-lately"), text_to(fake_wechat, "o-long-ago")) == (0, 45015)


# Unknown APIs, user/info and getcallbackip.


@pytest.mark.parametrize("method, path", [("POST", "message/mass/sendall"), ("GET", "user/get"),
                                          ("POST", "no/such/api")])
def test_an_api_the_standin_does_not_have_is_404_never_a_success(fake_wechat, method, path):
    """HTTP 404, recorded; wechatpy raises instead of taking it for a success."""
    answer = call(fake_wechat, path, {"touser": "o-1"}, method=method)
    assert answer.status_code == 404 and "errcode" not in answer.text
    assert outcomes(fake_wechat, path) == ["http 404"]
    client = WeChatClient(fake_wechat.state.app_id, fake_wechat.state.app_secret,
                          access_token=token_answer(fake_wechat)["access_token"])
    client.API_BASE_URL = fake_wechat.base_url
    with pytest.raises(WeChatClientException) as refused:
        client.post(path, data={"touser": "o-1"}) if method == "POST" else client.get(path)
    assert refused.value.errcode is None


def test_user_info_answers_for_known_users_only(fake_wechat):
    """40003 for an openid never seen, 41009 without one; a follower by QR code; an unfollower."""
    assert call(fake_wechat, "user/info", method="GET", openid="o-nobody").json()["errcode"] == 40003
    assert call(fake_wechat, "user/info", method="GET").json()["errcode"] == 41009
    did(fake_wechat, "o-1", "event", event="subscribe", event_key="qrscene_bind:AB12")
    info = call(fake_wechat, "user/info", method="GET", openid="o-1", lang="zh_CN").json()
    assert info["subscribe"] == 1 and info["openid"] == "o-1" and info["language"] == "zh_CN"
    assert (info["subscribe_scene"], info["qr_scene_str"]) == ("ADD_SCENE_QR_CODE", "bind:AB12")
    assert isinstance(info["subscribe_time"], int) and "nickname" not in info
    did(fake_wechat, "o-1", "event", event="unsubscribe")
    assert call(fake_wechat, "user/info", method="GET", openid="o-1").json() == {"subscribe": 0, "openid": "o-1"}


def test_getcallbackip_lists_where_callbacks_come_from(fake_wechat):
    """An ip_list, with a token; 40001 without a live one."""
    assert call(fake_wechat, "getcallbackip", method="GET").json() == {"ip_list": ["127.0.0.1"]}
    answer = requests.get(f"{fake_wechat.base_url}getcallbackip", params={"access_token": "old"}, timeout=5)
    assert answer.json()["errcode"] == 40001


# Parametric QR codes.


def test_a_permanent_qr_code_has_no_expire_seconds_a_temporary_one_does(fake_wechat):
    """No `expire_seconds: null`: the field is left out; a temporary one defaults to 60 s, at most 30 days."""
    permanent = call(fake_wechat, "qrcode/create", {"action_name": "QR_LIMIT_STR_SCENE",
                                                    "action_info": {"scene": {"scene_str": "bind:AB12"}}}).json()
    assert "expire_seconds" not in permanent and permanent["url"] and permanent["ticket"]
    by_id = call(fake_wechat, "qrcode/create", {"action_name": "QR_LIMIT_SCENE",
                                                "action_info": {"scene": {"scene_id": 100000}}}).json()
    assert "expire_seconds" not in by_id
    temporary = {"action_name": "QR_STR_SCENE", "action_info": {"scene": {"scene_str": "bind:AB12"}}}
    assert call(fake_wechat, "qrcode/create", temporary).json()["expire_seconds"] == 60
    long = {**temporary, "expire_seconds": 90 * 24 * HOUR}
    assert call(fake_wechat, "qrcode/create", long).json()["expire_seconds"] == 2592000


@pytest.mark.parametrize("body, errcode", [
    ({"action_name": "QR_FOREVER", "action_info": {"scene": {"scene_str": "x"}}}, 40052),
    ({"action_info": {"scene": {"scene_str": "x"}}}, 40052),
    ({"action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": "x" * 65}}}, 40053),
    ({"action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": ""}}}, 40053),
    ({"action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_id": 7}}}, 40053),
    ({"action_name": "QR_LIMIT_SCENE", "action_info": {"scene": {"scene_id": 100001}}}, 40053),
    ({"action_name": "QR_LIMIT_SCENE", "action_info": {"scene": {"scene_id": 0}}}, 40053),
    ({"action_name": "QR_SCENE", "action_info": {"scene": {"scene_id": 2**32}}}, 40053),
    ({"action_name": "QR_SCENE", "action_info": {}}, 40053),
])
def test_a_qr_code_wechat_would_not_make_is_refused(fake_wechat, body, errcode):
    """A wrong action_name is 40052; a scene out of WeChat's limits 40053."""
    assert call(fake_wechat, "qrcode/create", body).json()["errcode"] == errcode
    assert outcomes(fake_wechat, "qrcode/create") == [f"errcode {errcode}"]


def test_a_temporary_qr_code_may_use_a_large_scene_id(fake_wechat):
    """Temporary codes take any non-zero 32-bit scene_id."""
    body = {"action_name": "QR_SCENE", "expire_seconds": 600, "action_info": {"scene": {"scene_id": 100001}}}
    assert call(fake_wechat, "qrcode/create", body).json()["expire_seconds"] == 600
