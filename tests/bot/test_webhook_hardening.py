"""The webhook against signed but broken input and a Redis outage: a 4xx or a 503, nothing stored, a log line
that names the reason and never the contents; never a 500, which would make WeChat retry a message it then drops."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from bot.app import create_app
from models import InboundMessage
from services import texts
from tests.conftest import TEST_AES_KEY
from tests.support.wechat import reply_content

# Nothing listens on port 1: every connection is refused at once, as when Redis is down.
DEAD_REDIS = "redis://127.0.0.1:1/0"
# Put into each refused message; it must never reach the log.
MARKER = "机密内容13912345678"


def stored_count(session) -> int:
    """How many inbound messages the database holds."""
    session.rollback()
    return session.scalar(select(func.count()).select_from(InboundMessage))


@pytest.fixture
def dead_redis_app(settings, db, clock):
    """Build an app whose Redis refuses every connection (a real client on a port nobody listens on)."""

    def build(**overrides):
        return create_app(settings.with_overrides(redis_url=DEAD_REDIS, **overrides), clock=clock, engine=db)

    return build


# --- Redis down: the replay guard fails closed ---------------------------------------------------


@pytest.mark.parametrize("reply_mode", ["queued", "inline"])
@pytest.mark.parametrize("mode", ["plain", "aes"])
def test_with_redis_down_the_webhook_answers_503_stores_nothing_and_the_retry_is_handled(
        dead_redis_app, make_app, sender, session, caplog, mode, reply_mode):
    """Without the nonce check a captured URL could carry any body as anyone: 503, so WeChat retries later."""
    aes = TEST_AES_KEY if mode == "aes" else None
    down = dead_redis_app(wechat_encoding_aes_key=aes, wechat_reply_mode=reply_mode).test_client()
    xml = sender.text("o-outage", "在吗", msg_id=9501)
    response, params = sender.post(down, xml, mode=mode, nonce="n-outage")
    assert response.status_code == 503
    assert "服务暂时不可用" in response.get_json()["message"]
    # The captured URL with another body and sender fares no better.
    forged = xml.replace("o-outage", "o-forger").replace("在吗", "伪造")
    refused, forged_params = sender.post(down, forged, mode=mode, nonce="n-outage")
    assert forged_params["signature"] == params["signature"] and refused.status_code == 503
    assert stored_count(session) == 0
    assert "redis=unavailable during=nonce_check outcome=503" in caplog.text

    back = make_app(wechat_encoding_aes_key=aes, wechat_reply_mode=reply_mode).test_client()
    retry, _ = sender.post(back, xml, mode=mode)
    assert retry.status_code == 200
    assert stored_count(session) == 1


# --- signed but malformed input: 400, never 500 --------------------------------------------------

def message(**fields) -> str:
    """A text message with some fields replaced (None leaves one out); values are put in as written."""
    parts = {"ToUserName": "<![CDATA[gh_sanzhida]]>", "FromUserName": "<![CDATA[o-ok]]>",
             "CreateTime": "1796090400", "MsgType": "<![CDATA[text]]>", "Content": f"<![CDATA[{MARKER}]]>",
             "MsgId": "6100000000000000001"}
    parts.update(fields)
    body = "".join(f"<{name}>{value}</{name}>" for name, value in parts.items() if value is not None)
    return f"<xml>{body}</xml>"


def event(**fields) -> str:
    """A follow event with some fields replaced."""
    return message(**{"MsgType": "<![CDATA[event]]>", "Content": None, "MsgId": None, "Event": "<![CDATA[subscribe]]>",
                      "EventKey": f"<![CDATA[{MARKER}]]>", **fields})


MALFORMED = {
    "openid-65-chars": message(FromUserName="o" * 65),
    "openid-with-newline": message(FromUserName="o-a\nforged=1"),
    "openid-nested": message(FromUserName="<b>o-ok</b>"),
    "event-200-chars": event(Event="E" * 200),
    "event-not-a-name": event(Event="<![CDATA[sub scribe]]>"),
    "event-missing": event(Event=None),
    "createtime-170-digits": message(CreateTime="9" * 170),
    "event-createtime-170-digits": event(CreateTime="9" * 170),
    "createtime-unicode-digits": message(CreateTime="١٧٩٦٠٩٠٤٠٠"),
    "msgid-unicode-digits": message(MsgId="١٢٣"),
    "msgtype-40-chars": message(MsgType="t" * 40),
    "content-attribute": message(Content=f'<![CDATA[{MARKER}]]>').replace("<Content>", '<Content lang="zh">'),
    "content-nested": message(Content=f"<b>{MARKER}</b>"),
    "content-empty": message(Content=""),
    "content-missing": message(Content=None),
    "mediaid-200-chars": message(MsgType="voice", Content=None, MediaId="m" * 200, Format="amr"),
    "format-40-chars": message(MsgType="voice", Content=None, MediaId="m-1", Format="a" * 40),
    "eventkey-nested": event(EventKey=f"<a>{MARKER}</a>"),
}


def post_signed(client, sender, body: str, *, timestamp: str | None = None, nonce: str = "n-bad"):
    """POST a body as it is, with a valid signature over `timestamp` (now unless given)."""
    ts = timestamp if timestamp is not None else str(int(sender.clock().timestamp()))
    query = urlencode({"signature": sender.signature(ts, nonce), "timestamp": ts, "nonce": nonce})
    return client.post(f"/wechat?{query}", data=body.encode(), content_type="text/xml")


@pytest.mark.parametrize("reply_mode", ["queued", "inline"])
@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_signed_malformed_messages_get_400_are_not_stored_and_are_logged_without_contents(
        make_app, sender, session, caplog, case, reply_mode):
    """Each field WeChat never sends that way is refused before it reaches a column it would not fit."""
    client = make_app(wechat_reply_mode=reply_mode).test_client()
    caplog.set_level("INFO")
    response = post_signed(client, sender, MALFORMED[case])
    assert response.status_code == 400, response.data
    assert stored_count(session) == 0
    assert "wechat=refused status=400" in caplog.text
    assert MARKER not in caplog.text and "forged=1" not in caplog.text

    after, _ = sender.post(client, sender.text("o-ok", "还在吗"))
    assert after.status_code == 200


def test_a_signed_400_digit_timestamp_is_refused(client, sender, session, caplog):
    """A timestamp no clock could give is refused like a stale one, not turned into an overflow."""
    response = post_signed(client, sender, message(), timestamp="1" * 400)
    assert response.status_code == 403
    assert stored_count(session) == 0
    assert "reason=bad_timestamp" in caplog.text


def test_normal_messages_with_nested_event_fields_still_pass(client, sender, session):
    """Events WeChat nests on purpose (ScanCodeInfo) and unknown fields with attributes are still accepted."""
    body = event(Event="<![CDATA[scancode_push]]>", EventKey="<![CDATA[SCAN]]>").replace(
        "</xml>", "<ScanCodeInfo><ScanType>qrcode</ScanType><ScanResult>1</ScanResult></ScanCodeInfo></xml>")
    response = post_signed(client, sender, body)
    assert response.status_code == 200
    assert stored_count(session) == 1


# --- safe mode: broken ciphertext ----------------------------------------------------------------

CIPHERTEXTS = {
    "encrypt-empty": lambda sender, xml: "",
    "padding-0": lambda sender, xml: sender.seal(xml, pad=0),
    "padding-255": lambda sender, xml: sender.seal(xml, pad=255),
    "plaintext-too-short": lambda sender, xml: sender.seal(b"short", bare=True),
    "plaintext-one-block": lambda sender, xml: sender.seal(b"", bare=True),
    "length-beyond-plaintext": lambda sender, xml: sender.seal(
        b"r" * 16 + b"\xff\xff\xff\xff" + xml + sender.app_id.encode(), bare=True),
    "not-utf8": lambda sender, xml: sender.seal(b"\xff\xfe" + xml),
    "not-base64": lambda sender, xml: "!!!!",
    "not-whole-blocks": lambda sender, xml: "QUJD",
    "another-app-id": lambda sender, xml: sender.seal(xml, app_id="wx-someone-else"),
    "empty-message": lambda sender, xml: sender.seal(b""),
}


@pytest.mark.parametrize("case", sorted(CIPHERTEXTS))
def test_broken_ciphertexts_are_refused_and_not_stored(make_app, sender, session, caplog, case):
    """In safe mode a correctly signed but broken Encrypt gets 400 (403 for another account), never 500."""
    client = make_app(wechat_encoding_aes_key=TEST_AES_KEY).test_client()
    xml = sender.text("o-safe", MARKER, msg_id=9601).encode()
    response = sender.post_encrypted(client, CIPHERTEXTS[case](sender, xml), nonce=f"n-{case}")
    assert response.status_code in (400, 403), response.data
    assert stored_count(session) == 0
    assert "wechat=refused" in caplog.text and MARKER not in caplog.text

    good = sender.post_encrypted(client, sender.seal(sender.text("o-safe", "在吗").encode()), nonce="n-good")
    assert good.status_code == 200
    assert reply_content(sender.side.open_reply(good.data))["Content"] == texts.HOW_TO_BIND
