"""Replies to our text messages (回复TD退订) pushed by Aliyun's SmsUp HTTP push
(https://help.aliyun.com/document_detail/60127.html): a JSON array of {phone_number, content,
send_time, dest_code, sequence_id[, sign_name]}, answered HTTP 200 {"code": 0, "msg": "接收成功"}.
Through the app at /sms/replies/<SMS_REPLY_TOKEN>, and end to end from the SMS stand-in's /_reply
to a live app server."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone

import pytest
import requests as http
from sqlalchemy import select
from werkzeug.serving import make_server

from devtools.fake_sms import FakeSmsServer
from models import SmsOptOut
from tests.conftest import TEST_SMS_KEY_ID, TEST_SMS_KEY_SECRET, TEST_SMS_SIGN
from tests.support.factories import fresh

TOKEN = "reply-token-0123456789abcdefghijklmnop"
PHONE = "13912345678"
ACCEPTED = {"code": 0, "msg": "接收成功"}


def reply(content: str = "TD", *, phone: str = PHONE, send_time: str = "2026-12-01 09:05:00", seq="1") -> dict:
    """One element of a push, as Aliyun writes it."""
    return {"phone_number": phone, "content": content, "send_time": send_time, "dest_code": "1234",
            "sequence_id": seq, "sign_name": TEST_SMS_SIGN}


@pytest.fixture
def replies_client(make_app):
    """A client of the app with SMS_REPLY_TOKEN set."""
    return make_app(sms_reply_token=TOKEN).test_client()


def push(client, body, token: str = TOKEN):
    """POST a push as Aliyun does (application/json)."""
    return client.post(f"/sms/replies/{token}", json=body)


def opt_outs(session) -> dict[str, SmsOptOut]:
    """Every recorded phone, as committed."""
    fresh(session)
    return {row.phone: row for row in session.scalars(select(SmsOptOut))}


def test_a_td_reply_is_recorded_and_answered_as_aliyun_requires(replies_client, session):
    """HTTP 200 {"code": 0, "msg": "接收成功"}; the phone is opted out as of when it replied (Beijing time)."""
    response = push(replies_client, [reply("TD")])
    assert response.status_code == 200 and response.get_json() == ACCEPTED
    row = opt_outs(session)[PHONE]
    assert row.opted_out is True
    assert row.replied_at == datetime(2026, 12, 1, 1, 5, tzinfo=timezone.utc)


@pytest.mark.parametrize("words", ["TD", "td", " T ", "退订", "退订。", "N", "ｔｄ"])
def test_each_opt_out_word_opts_out(replies_client, session, words):
    """TD / T / 退订 / N, trimmed and in any case (full-width too)."""
    assert push(replies_client, [reply(words)]).get_json() == ACCEPTED
    assert opt_outs(session)[PHONE].opted_out is True


@pytest.mark.parametrize("words", ["谢谢", "TD是什么意思", "Thanks", "好的，知道了", "不要再发了吗"])
def test_other_words_are_not_an_opt_out(replies_client, session, words):
    """Any other reply is answered as received and records nothing (its words are not kept either)."""
    assert push(replies_client, [reply(words)]).get_json() == ACCEPTED
    assert opt_outs(session) == {}


def test_a_retried_push_records_the_phone_once(replies_client, session):
    """Aliyun pushes again when it missed our answer: the same reply, one row, the same decision."""
    for _ in range(3):
        assert push(replies_client, [reply("TD")]).get_json() == ACCEPTED
    rows = opt_outs(session)
    assert list(rows) == [PHONE] and rows[PHONE].opted_out is True


def test_opting_back_in_and_an_older_retry_does_not_undo_it(replies_client, session):
    """恢复 after TD turns messages back on; the TD's push retried later (older send_time) changes nothing."""
    push(replies_client, [reply("TD", send_time="2026-12-01 09:05:00")])
    push(replies_client, [reply("恢复", send_time="2026-12-01 09:10:00", seq="2")])
    assert opt_outs(session)[PHONE].opted_out is False
    push(replies_client, [reply("TD", send_time="2026-12-01 09:05:00")])
    assert opt_outs(session)[PHONE].opted_out is False


def test_several_replies_in_one_push_each_count(replies_client, session):
    """One push may carry several replies; sequence_id may come as a number, as older pages show."""
    body = [reply("TD", phone="13900000001", seq=101), reply("好的", phone="13900000002", seq="102"),
            reply("退订", phone="+86 139-0000-0003", seq="103")]
    assert push(replies_client, body).get_json() == ACCEPTED
    rows = opt_outs(session)
    assert sorted(rows) == ["13900000001", "13900000003"]


def test_a_wrong_token_or_none_set_is_not_found(make_app, replies_client, session):
    """A wrong token and an app without SMS_REPLY_TOKEN both answer 404, recording nothing."""
    assert push(replies_client, [reply()], token="reply-token-guess").status_code == 404
    assert push(replies_client, [reply()], token=TOKEN[:-1]).status_code == 404
    assert push(make_app().test_client(), [reply()]).status_code == 404
    assert opt_outs(session) == {}


@pytest.mark.parametrize("body, says", [
    (b"not json", "不是 JSON"),
    (b'{"phone_number": "13912345678"}', "JSON 数组"),
    (b'["TD"]', "第 1 条应为 JSON 对象"),
    (b'[{"content": "TD", "send_time": "2026-12-01 09:05:00", "dest_code": "1", "sequence_id": "1"}]',
     "缺少 phone_number"),
    (b'[{"phone_number": "12345", "content": "TD", "send_time": "2026-12-01 09:05:00", "dest_code": "1",'
     b' "sequence_id": "1"}]', "phone_number"),
    (b'[{"phone_number": "13912345678", "content": 7, "send_time": "2026-12-01 09:05:00", "dest_code": "1",'
     b' "sequence_id": "1"}]', "content"),
    (b'[{"phone_number": "13912345678", "content": "TD", "send_time": "yesterday", "dest_code": "1",'
     b' "sequence_id": "1"}]', "send_time"),
    (b'[{"phone_number": "13912345678", "content": "TD", "send_time": "2026-12-01 09:05:00", "dest_code": "1",'
     b' "sequence_id": "abc"}]', "sequence_id"),
    (b'[{"phone_number": "13912345678", "content": "TD", "send_time": "2026-12-01 09:05:00", "dest_code": "1",'
     b' "sequence_id": true}]', "sequence_id"),
])
def test_a_malformed_push_is_refused_with_what_is_wrong(replies_client, session, body, says):
    """400 with a Chinese message naming the element and field, never a 500; nothing is recorded."""
    response = replies_client.post(f"/sms/replies/{TOKEN}", data=body, content_type="application/json")
    assert response.status_code == 400
    assert says in response.get_json()["message"]
    assert opt_outs(session) == {}


def test_a_good_element_is_not_recorded_beside_a_bad_one(replies_client, session):
    """The push is refused whole: Aliyun sends it again, and nothing half-recorded is left."""
    response = push(replies_client, [reply("TD"), reply("TD", phone="999")])
    assert response.status_code == 400 and "第 2 条" in response.get_json()["message"]
    assert opt_outs(session) == {}


def test_neither_phones_nor_words_nor_the_token_are_logged(replies_client, caplog):
    """The log says how many replies came and what they decided, nothing of who or what."""
    caplog.set_level(logging.DEBUG)
    push(replies_client, [reply("退订")])
    push(replies_client, [reply("TD", phone="12")])
    push(replies_client, [reply("TD")], token="wrong-token-x")
    text = caplog.text
    assert "opted_out=1" in text
    for secret in (PHONE, "退订", TOKEN, "wrong-token-x"):
        assert secret not in text


@pytest.fixture
def live_app(make_app):
    """The app on a real local port, as Aliyun's push reaches it."""
    server = make_server("127.0.0.1", 0, make_app(sms_reply_token=TOKEN), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def replying_sms(live_app):
    """The SMS stand-in pushing replies to the live app's reply URL (--reply-url)."""
    server = FakeSmsServer(access_key_id=TEST_SMS_KEY_ID, access_key_secret=TEST_SMS_KEY_SECRET,
                           sign_names=(TEST_SMS_SIGN,), reply_url=f"{live_app}/sms/replies/{TOKEN}").start()
    yield server
    server.stop()


def test_the_standin_pushes_a_reply_as_aliyun_does_and_checks_our_answer(replying_sms, session):
    """POST /_reply on the stand-in: it pushes the SmsUp array to the app, which answers code 0 and
    records the opt-out; a repeat (Aliyun's retry) is accepted and changes nothing."""
    result = http.post(f"{replying_sms.url}_reply", json={"phone": PHONE, "content": "TD", "repeat": 2},
                       timeout=10).json()
    assert [p["accepted"] for p in result["pushes"]] == [True, True]
    assert result["pushes"][0]["answer"] == ACCEPTED and result["pushes"][0]["status"] == 200
    sent = result["pushes"][0]["reply"]
    assert set(sent) == {"phone_number", "content", "send_time", "dest_code", "sequence_id", "sign_name"}
    assert isinstance(sent["sequence_id"], str) and sent["sign_name"] == TEST_SMS_SIGN
    rows = opt_outs(session)
    assert list(rows) == [PHONE] and rows[PHONE].opted_out is True
    assert len(http.get(f"{replying_sms.url}_replies", timeout=5).json()) == 2


def test_the_standin_reports_an_answer_aliyun_would_not_take(replying_sms, live_app):
    """Pushed to a wrong token, the app answers 404: the stand-in records the push as not accepted."""
    result = http.post(f"{replying_sms.url}_reply", timeout=10,
                       json={"phone": PHONE, "content": "TD", "url": f"{live_app}/sms/replies/wrong-token"}).json()
    [attempt] = result["pushes"]
    assert attempt["status"] == 404 and attempt["accepted"] is False


def test_the_standin_refuses_a_reply_it_cannot_push(replying_sms):
    """A phone that is not a mainland mobile, no words, or no URL anywhere: 400 from the stand-in."""
    for body in ({"phone": "123", "content": "TD"}, {"phone": PHONE, "content": " "}):
        assert http.post(f"{replying_sms.url}_reply", json=body, timeout=5).status_code == 400
    bare = FakeSmsServer(access_key_id="k", access_key_secret="s").start()
    try:
        assert http.post(f"{bare.url}_reply", json={"phone": PHONE, "content": "TD"}, timeout=5).status_code == 400
    finally:
        bare.stop()
