"""The /wechat webhook, driven exactly as WeChat's servers drive it."""

from __future__ import annotations

import threading
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from handlers import texts
from models import InboundMessage, WeChatUser
from tests.conftest import TEST_AES_KEY
from tests.support.wechat import reply_content


def stored_count(session) -> int:
    """How many inbound messages the database holds."""
    session.expire_all()
    return session.scalar(select(func.count()).select_from(InboundMessage))


# --- server verification ---------------------------------------------------------------------


def test_verification_echoes_echostr(client, sender, clock):
    """A correctly signed GET is answered with echostr, unchanged."""
    ts, nonce = str(int(clock().timestamp())), "abc"
    query = urlencode({"signature": sender.signature(ts, nonce), "timestamp": ts, "nonce": nonce, "echostr": "e-123"})
    response = client.get(f"/wechat?{query}")
    assert response.status_code == 200
    assert response.data == b"e-123"


def test_verification_with_bad_signature_is_refused(client, clock):
    """A GET signed with another token gets 403 and no echo."""
    ts = str(int(clock().timestamp()))
    query = urlencode({"signature": "0" * 40, "timestamp": ts, "nonce": "abc", "echostr": "e-123"})
    response = client.get(f"/wechat?{query}")
    assert response.status_code == 403
    assert b"e-123" not in response.data


# --- replies in plaintext, safe and compatible mode ------------------------------------------


def test_unbound_text_is_told_how_to_bind(client, sender, session, clock):
    """An unbound visitor's text gets the binding instructions, addressed back to them."""
    response, _ = sender.post(client, sender.text("o-visitor", "你好，我想问问低保的事"))
    assert response.status_code == 200
    reply = reply_content(response.data)
    assert reply["MsgType"] == "text"
    assert reply["Content"] == texts.HOW_TO_BIND
    assert reply["ToUserName"] == "o-visitor"
    assert reply["FromUserName"] == sender.account
    assert reply["CreateTime"] == str(int(clock().timestamp()))
    stored = session.scalars(select(InboundMessage)).one()
    assert stored.content == "你好，我想问问低保的事"
    assert stored.reply_xml == response.data.decode()


def test_subscribe_gets_welcome_and_records_the_follower(client, sender, session):
    """Following the account is welcomed with how to bind; the user is recorded as subscribed."""
    response, _ = sender.post(client, sender.event("o-new", "subscribe"))
    assert reply_content(response.data)["Content"] == texts.WELCOME
    user = session.scalars(select(WeChatUser).where(WeChatUser.openid == "o-new")).one()
    assert user.subscribed is True


def test_unsubscribe_answers_success_and_marks_the_user(client, sender, session, clock):
    """An unfollow shows nothing (success) and is remembered."""
    sender.post(client, sender.event("o-leaving", "subscribe"))
    clock.advance(minutes=5)
    response, _ = sender.post(client, sender.event("o-leaving", "unsubscribe"))
    assert response.data == b"success"
    user = session.scalars(select(WeChatUser).where(WeChatUser.openid == "o-leaving")).one()
    assert user.subscribed is False
    assert user.unsubscribed_at == clock()


def test_voice_is_stored_with_media_id_and_recognition(client, sender, session):
    """A voice message keeps WeChat's MediaId and the recognised text."""
    sender.post(client, sender.voice("o-voice", "media-42", recognition="我家停电了"))
    stored = session.scalars(select(InboundMessage)).one()
    assert stored.msg_type == "voice"
    assert stored.payload["MediaId"] == "media-42"
    assert stored.content == "我家停电了"


def test_message_contents_never_reach_the_logs(client, sender, caplog):
    """Handling logs the openid and the key, never what the person wrote."""
    caplog.set_level("DEBUG")
    secret_words = "我的电话13912345678身份证11010519491231002X"
    sender.post(client, sender.text("o-private", secret_words))
    sender.post(client, sender.voice("o-private", "media-1", recognition=secret_words))
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "o-private" in logged
    assert "13912345678" not in logged and "11010519491231002X" not in logged


def test_unknown_message_type_gets_a_polite_reply(client, sender):
    """A message type the service does not know is answered kindly, not with an error."""
    response, _ = sender.post(client, sender.raw("o-x", "hologram", "<Beam>1</Beam>"))
    assert response.status_code == 200
    assert reply_content(response.data)["Content"] == texts.UNSUPPORTED_TYPE


def test_unknown_event_is_answered_with_success(client, sender):
    """An event the service does not handle gets the empty 'success' answer."""
    response, _ = sender.post(client, sender.event("o-x", "TEMPLATESENDJOBFINISH"))
    assert response.status_code == 200
    assert response.data == b"success"


@pytest.mark.parametrize("mode", ["aes", "compatible"])
def test_encrypted_message_gets_an_encrypted_reply(make_app, sender, session, mode):
    """In safe and compatible mode the message is decrypted and the reply encrypted."""
    client = make_app(wechat_encoding_aes_key=TEST_AES_KEY).test_client()
    response, params = sender.post(client, sender.text("o-safe", "在吗"), mode=mode)
    assert response.status_code == 200
    assert b"<Encrypt>" in response.data and "绑定".encode() not in response.data
    reply = reply_content(sender.decrypt_reply(response, params))
    assert reply["Content"] == texts.HOW_TO_BIND
    assert reply["ToUserName"] == "o-safe"
    assert session.scalars(select(InboundMessage)).one().content == "在吗"


def test_encrypted_message_with_bad_msg_signature_is_refused(make_app, sender, session):
    """A ciphertext whose msg_signature does not match is refused and not stored."""
    client = make_app(wechat_encoding_aes_key=TEST_AES_KEY).test_client()
    response, _ = sender.post(client, sender.text("o-safe", "在吗"), mode="aes", msg_signature="f" * 40)
    assert response.status_code == 403
    assert stored_count(session) == 0


def test_plaintext_is_refused_when_safe_mode_is_configured(make_app, sender, session):
    """With an AES key configured, a plaintext POST is not accepted."""
    client = make_app(wechat_encoding_aes_key=TEST_AES_KEY).test_client()
    response, _ = sender.post(client, sender.text("o-safe", "在吗"))
    assert response.status_code == 400
    assert stored_count(session) == 0


# --- WeChat's retries --------------------------------------------------------------------------


def test_same_msgid_three_times_is_stored_once_with_the_same_reply(client, sender, session, clock):
    """WeChat's three tries of one message: one stored row, three identical replies."""
    xml = sender.text("o-retry", "有人吗", msg_id=7001)
    bodies = []
    for _ in range(3):
        response, _ = sender.post(client, xml)
        assert response.status_code == 200
        bodies.append(response.data)
        clock.advance(seconds=5)
    assert bodies[0] == bodies[1] == bodies[2]
    assert stored_count(session) == 1


def test_retry_is_answered_from_the_database_when_redis_forgot(client, sender, session, redis_client, redis_prefix):
    """The database, not Redis, is the source of truth: with Redis emptied, a retry is still a retry."""
    xml = sender.text("o-retry", "有人吗", msg_id=7002)
    first, _ = sender.post(client, xml)
    for key in redis_client.scan_iter(match=f"{redis_prefix}:*"):
        redis_client.delete(key)
    second, _ = sender.post(client, xml)
    assert second.data == first.data
    assert stored_count(session) == 1


def test_event_retries_dedupe_on_sender_and_create_time(client, sender, session):
    """Events carry no MsgId: the same sender and CreateTime is one event."""
    xml = sender.event("o-evt", "subscribe", create_time=1_764_550_800)
    sender.post(client, xml)
    sender.post(client, xml)
    other = sender.event("o-evt", "subscribe", create_time=1_764_550_801)
    sender.post(client, other)
    assert stored_count(session) == 2


def test_concurrent_deliveries_of_one_msgid_store_it_once(app, sender, session):
    """Deliveries of one MsgId racing on separate connections store one row and answer alike."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    import requests

    try:
        for msg_id in (8101, 8102, 8103):
            xml = sender.text(f"o-race-{msg_id}", "快来人", msg_id=msg_id)
            barrier = threading.Barrier(6)
            results: list[bytes] = []

            def deliver():
                barrier.wait()
                ts = str(int(sender.clock().timestamp()))
                query = {"signature": sender.signature(ts, "race"), "timestamp": ts, "nonce": "race"}
                res = requests.post(
                    f"http://127.0.0.1:{server.server_port}/wechat", params=query, data=xml.encode(), timeout=30
                )
                assert res.status_code == 200
                results.append(res.content)

            workers = [threading.Thread(target=deliver) for _ in range(6)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            assert len(results) == 6
            assert len(set(results)) == 1, "every delivery gets the same reply"
    finally:
        server.shutdown()
    assert stored_count(session) == 3


# --- bad input is refused and nothing is stored --------------------------------------------------

XXE = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    "<xml><ToUserName>gh</ToUserName><FromUserName>o-evil</FromUserName><CreateTime>1</CreateTime>"
    "<MsgType>text</MsgType><Content>&xxe;</Content><MsgId>1</MsgId></xml>"
)
BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
    + "]><xml><ToUserName>gh</ToUserName><FromUserName>o-evil</FromUserName><CreateTime>1</CreateTime>"
    "<MsgType>text</MsgType><Content>&lol9;</Content><MsgId>2</MsgId></xml>"
)


def post_raw(client, sender, body: bytes, **overrides):
    """POST a raw body with a valid signature unless overridden."""
    ts = str(overrides.pop("timestamp", int(sender.clock().timestamp())))
    params = {"signature": sender.signature(ts, "n1"), "timestamp": ts, "nonce": "n1", **overrides}
    return client.post("/wechat?" + urlencode(params), data=body, content_type="text/xml")


@pytest.mark.parametrize(
    "case, status",
    [
        ("bad_signature", 403),
        ("replay_old", 403),
        ("replay_future", 403),
        ("malformed", 400),
        ("not_wechat", 400),
        ("no_msgtype", 400),
        ("xxe", 400),
        ("billion_laughs", 400),
        ("oversize", 413),
    ],
)
def test_bad_input_is_refused_and_nothing_stored(client, sender, session, case, status):
    """Each kind of bad input gets its status, nothing is stored, and the service keeps answering."""
    good = sender.text("o-ok", "你好").encode()
    now = int(sender.clock().timestamp())
    requests_by_case = {
        "bad_signature": lambda: post_raw(client, sender, good, signature="0" * 40),
        "replay_old": lambda: post_raw(client, sender, good, timestamp=now - 3600),
        "replay_future": lambda: post_raw(client, sender, good, timestamp=now + 3600),
        "malformed": lambda: post_raw(client, sender, b"<xml><ToUserName>gh</ToUserName"),
        "not_wechat": lambda: post_raw(client, sender, b"<html><body>hi</body></html>"),
        "no_msgtype": lambda: post_raw(client, sender, b"<xml><FromUserName>o</FromUserName></xml>"),
        "xxe": lambda: post_raw(client, sender, XXE.encode()),
        "billion_laughs": lambda: post_raw(client, sender, BILLION_LAUGHS.encode()),
        "oversize": lambda: post_raw(client, sender, good.replace(b"</xml>", b"<Pad>" + b"x" * 70_000 + b"</Pad></xml>")),
    }
    response = requests_by_case[case]()
    assert response.status_code == status
    assert b"Traceback" not in response.data
    assert stored_count(session) == 0

    after, _ = sender.post(client, sender.text("o-ok", "还在吗"))
    assert after.status_code == 200
    assert reply_content(after.data)["Content"] == texts.HOW_TO_BIND


def test_entity_payload_inside_ciphertext_is_refused(make_app, sender, session):
    """A DTD hidden inside the encrypted payload is refused after decryption, before parsing."""
    client = make_app(wechat_encoding_aes_key=TEST_AES_KEY).test_client()
    response, _ = sender.post(client, BILLION_LAUGHS, mode="aes")
    assert response.status_code == 400
    assert stored_count(session) == 0
