"""The /wechat webhook, driven exactly as WeChat's servers drive it."""

from __future__ import annotations

import threading
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from models import InboundMessage, WeChatUser
from services import texts
from tests.conftest import TEST_AES_KEY
from tests.support.wechat import reply_content


def stored_count(session) -> int:
    """How many inbound messages the database holds."""
    session.rollback()
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


def test_only_a_message_opens_the_48_hour_window(client, sender, session, clock):
    """A menu click or a follow opens WeChat's one-minute window only; a message opens 48 hours."""
    sender.post(client, sender.event("o-window", "subscribe"))
    clock.advance(seconds=10)
    sender.post(client, sender.event("o-window", "CLICK", key="PROGRESS"))
    user = session.scalars(select(WeChatUser).where(WeChatUser.openid == "o-window")).one()
    assert user.last_message_at is None
    clock.advance(seconds=10)
    sender.post(client, sender.text("o-window", "你好", msg_id=7101))
    session.rollback()  # a fresh snapshot: the app wrote on its own connection
    assert user.last_message_at == clock()


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


def test_a_failing_handler_keeps_the_message_answers_kindly_and_rolls_back(app, client, sender, session, caplog):
    """A bug in a handler: the message is kept with the error's name, its partial writes are undone,
    the sender gets the apology, and nothing personal reaches the log."""
    from models import Region

    def broken(msg, ctx):
        ctx.session.add(Region(code="partial", name="半截", level="city", created_at=ctx.now))
        ctx.session.flush()
        raise RuntimeError("boom")

    app.extensions["sanzhida"].router.on_type("text")(broken)
    caplog.set_level("DEBUG")
    response, _ = sender.post(client, sender.text("o-x", "电话13912345678"))
    assert reply_content(response.data)["Content"] == texts.SORRY_ERROR
    stored = session.scalars(select(InboundMessage)).one()
    assert stored.handling_error == "RuntimeError"
    assert session.scalars(select(Region)).all() == []
    assert "13912345678" not in caplog.text
    assert "RuntimeError" in caplog.text


def test_a_constraint_violation_is_kept_without_sql_parameters_in_the_log(app, client, sender, session, caplog):
    """An IntegrityError from a handler is a bug like any other; its SQL parameters stay out of the log."""
    from models import Region

    def duplicate(msg, ctx):
        for _ in range(2):
            ctx.session.add(Region(code="same", name=msg.content, level="city", created_at=ctx.now))
        ctx.session.flush()

    app.extensions["sanzhida"].router.on_type("text")(duplicate)
    caplog.set_level("DEBUG")
    response, _ = sender.post(client, sender.text("o-x", "身份证11010519491231002X"))
    assert reply_content(response.data)["Content"] == texts.SORRY_ERROR
    assert session.scalars(select(InboundMessage)).one().handling_error == "IntegrityError"
    assert "11010519491231002X" not in caplog.text


def test_a_lost_database_connection_makes_wechat_retry(app, client, sender, session):
    """A database outage mid-handler answers 500 and keeps nothing, so WeChat's retry gets a clean run."""
    from sqlalchemy.exc import OperationalError

    def outage(msg, ctx):
        raise OperationalError("SELECT 1", {}, ConnectionError("server closed the connection"))

    app.extensions["sanzhida"].router.on_type("text")(outage)
    xml = sender.text("o-x", "在吗", msg_id=9301)
    response, _ = sender.post(client, xml)
    assert response.status_code == 500
    assert stored_count(session) == 0
    # The retry, once the database is back, is handled normally.
    app.extensions["sanzhida"].router.on_type("text")(lambda msg, ctx: "好的")
    retry, _ = sender.post(client, xml)
    assert reply_content(retry.data)["Content"] == "好的"
    assert stored_count(session) == 1


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


def test_retry_is_answered_from_the_database_when_redis_forgot(client, sender, session, redis_client, redis_prefix, clock):
    """The database, not Redis, is the source of truth: with Redis emptied, a retry is still a retry."""
    xml = sender.text("o-retry", "有人吗", msg_id=7002)
    first, _ = sender.post(client, xml)
    for key in redis_client.scan_iter(match=f"{redis_prefix}:*"):
        redis_client.delete(key)
    clock.advance(seconds=5)  # a fresh rendering would carry a new CreateTime
    second, _ = sender.post(client, xml)
    assert second.data == first.data
    assert stored_count(session) == 1


def test_retry_gets_the_stored_reply(client, sender, session, clock):
    """A retry is answered with the reply kept on the stored message, not handled again."""
    xml = sender.text("o-retry", "有人吗", msg_id=7003)
    sender.post(client, xml)
    stored = session.scalars(select(InboundMessage)).one()
    stored.reply_xml = "<xml>kept in the database</xml>"
    session.commit()
    clock.advance(seconds=5)
    second, _ = sender.post(client, xml)
    assert second.data == b"<xml>kept in the database</xml>"
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
            results: list[tuple[int, bytes]] = []

            def deliver():
                barrier.wait()
                ts = str(int(sender.clock().timestamp()))
                nonce = f"race-{msg_id}"
                query = {"signature": sender.signature(ts, nonce), "timestamp": ts, "nonce": nonce}
                res = requests.post(
                    f"http://127.0.0.1:{server.server_port}/wechat", params=query, data=xml.encode(), timeout=30
                )
                results.append((res.status_code, res.content))

            workers = [threading.Thread(target=deliver) for _ in range(6)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            assert [status for status, _ in results] == [200] * 6
            assert len({body for _, body in results}) == 1, "every delivery gets the same reply"
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
        ("entity_without_doctype", 400),
        ("lowercase_doctype", 400),
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
        "entity_without_doctype": lambda: post_raw(client, sender, XXE.replace("<!DOCTYPE xml [", "").replace("]>", "", 1).encode()),
        "lowercase_doctype": lambda: post_raw(client, sender, XXE.replace("DOCTYPE", "doctype").encode()),
        "oversize": lambda: post_raw(client, sender, good.replace(b"</xml>", b"<Pad>" + b"x" * 70_000 + b"</Pad></xml>")),
    }
    response = requests_by_case[case]()
    assert response.status_code == status
    assert b"Traceback" not in response.data
    if case in ("xxe", "billion_laughs"):
        # Refused by the DTD guard itself, before any expanding parser ran.
        assert "不接受含 DTD" in response.get_json()["message"]
    assert stored_count(session) == 0

    after, _ = sender.post(client, sender.text("o-ok", "还在吗"))
    assert after.status_code == 200
    assert reply_content(after.data)["Content"] == texts.HOW_TO_BIND


def test_a_signed_url_cannot_carry_a_second_body(client, sender, session):
    """The signature does not cover the body: reusing a captured URL with another body is refused."""
    first, params = sender.post(client, sender.text("o-a", "第一条", msg_id=9101), nonce="fixed")
    assert first.status_code == 200
    again = client.post("/wechat?" + urlencode(params), data=sender.text("o-a", "第一条", msg_id=9101).encode(),
                        content_type="text/xml")
    assert again.status_code == 200, "a retry with the same body is still answered"
    forged = client.post("/wechat?" + urlencode(params), data=sender.text("o-evil", "伪造", msg_id=9102).encode(),
                         content_type="text/xml")
    assert forged.status_code == 403
    assert stored_count(session) == 1


@pytest.mark.parametrize(
    "body",
    [
        "<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName><CreateTime>1</CreateTime>"
        "<MsgType>text</MsgType><Content>a</Content><MsgId>abc</MsgId></xml>",
        "<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName><CreateTime>1</CreateTime>"
        "<MsgType>text</MsgType><Content>a</Content><MsgId>99999999999999999999999</MsgId></xml>",
        "<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName><CreateTime>1</CreateTime>"
        "<MsgType>text</MsgType><Content>a</Content><Content>b</Content><MsgId>5</MsgId></xml>",
        "<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName><CreateTime>1</CreateTime>"
        "<MsgType>text</MsgType><Content>a</Content></xml>",
        "<xml><ToUserName>gh</ToUserName><CreateTime>1</CreateTime><MsgType>text</MsgType><MsgId>5</MsgId></xml>",
    ],
    ids=["msgid-not-digits", "msgid-overflow", "repeated-field", "no-msgid", "no-sender"],
)
def test_malformed_wechat_fields_get_400(client, sender, session, body):
    """Messages that parse as XML but break WeChat's format are refused with 400, not 500."""
    response = post_raw(client, sender, body.encode())
    assert response.status_code == 400
    assert stored_count(session) == 0


def test_entity_payload_inside_ciphertext_is_refused(make_app, sender, session):
    """A DTD hidden inside the encrypted payload is refused after decryption, before parsing."""
    client = make_app(wechat_encoding_aes_key=TEST_AES_KEY).test_client()
    response, _ = sender.post(client, BILLION_LAUGHS, mode="aes")
    assert response.status_code == 400
    assert "不接受含 DTD" in response.get_json()["message"]
    assert stored_count(session) == 0


def test_the_webhook_opens_no_browser_session(app):
    """WeChat never carries a session cookie: the webhook skips the session, the office keeps it."""
    from flask import request

    with app.test_request_context("/wechat", method="POST"):
        assert app.session_interface.open_session(app, request) is None
    with app.test_request_context("/office/"):
        assert app.session_interface.open_session(app, request) is not None
