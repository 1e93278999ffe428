"""The webhook under generated input: a few hundred correctly signed payloads, in plaintext and in safe mode,
with fields missing, repeated, nested, attributed, too long, of the wrong type or mangled after encryption.

Whatever comes, the answer is never a 5xx (WeChat would retry, then drop the message) and no MsgId is ever
stored twice, however often it is delivered. Derandomized, so every run tries the same payloads.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlencode
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from models import InboundMessage
from services.binding import scene_for
from tests.conftest import TEST_AES_KEY

FUZZ = settings(max_examples=100, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# Any character but lone surrogates, which UTF-8 cannot carry; XML's forbidden controls are in.
ANY_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
HOSTILE = st.one_of(
    ANY_TEXT.map(escape),
    st.integers(40, 300).map(lambda n: "x" * n),
    st.integers(0, 10**180).map(str),
    st.sampled_from(["", " ", "<b>x</b>", "<![CDATA[]]>", "&amp;", "-1", "1.5", "١٢٣", "0" * 25, "o-a\nb=1"]),
)


def cdata(value: str) -> str:
    """A value wrapped as WeChat wraps text fields."""
    return f"<![CDATA[{value}]]>"


# Field -> what WeChat would send there.
USUAL = {
    "ToUserName": st.just(cdata("gh_sanzhida")),
    "FromUserName": st.sampled_from(["o-fuzz-1", "o-fuzz-2", "oABCDEFGHIJKLMNOPQRSTUVWXYZa"]).map(cdata),
    "CreateTime": st.integers(1_700_000_000, 1_900_000_000).map(str),
    "Content": st.sampled_from(["你好", "绑定 ZZZ234", "进度", "帮助", "解绑", "我摔倒了", "任务", "2"]).map(cdata),
    "MsgId": st.integers(1, 40).map(lambda n: str(7_000_000_000_000_000_000 + n)),
    "Event": st.sampled_from(["subscribe", "unsubscribe", "SCAN", "CLICK", "LOCATION",
                              "TEMPLATESENDJOBFINISH"]).map(cdata),
    "EventKey": st.sampled_from(["PROGRESS", "HELP", scene_for("ZZZ234"), "qrscene_" + scene_for("ZZZ234")]).map(cdata),
    "MediaId": st.just(cdata("media-fuzz")),
    "Format": st.just(cdata("amr")),
    "Recognition": st.sampled_from(["我家停电了", ""]).map(cdata),
    "PicUrl": st.just(cdata("http://mmbiz.qpic.cn/x")),
    "Location_X": st.just("30.12"),
    "Location_Y": st.just("120.5"),
    "Label": st.just(cdata("村口")),
}
HEAD = ("ToUserName", "FromUserName", "CreateTime", "MsgType")
# Each message type with the fields WeChat sends for it.
TYPES = {
    "text": ("Content", "MsgId"),
    "voice": ("MediaId", "Format", "Recognition", "MsgId"),
    "image": ("PicUrl", "MediaId", "MsgId"),
    "location": ("Location_X", "Location_Y", "Label", "MsgId"),
    "event": ("Event", "EventKey"),
    "hologram": ("Content", "MsgId"),
}
SHAPES = ("missing", "hostile", "repeated", "attribute")


@st.composite
def payloads(draw) -> str:
    """One message's XML: a well-formed message of some type, then none to three of its fields (or others)
    left out, replaced by a hostile value, repeated or given an attribute, and the order shuffled."""
    msg_type = draw(st.sampled_from(sorted(TYPES)))
    names = list(HEAD) + list(TYPES[msg_type])
    changes = draw(st.one_of(st.just({}), st.dictionaries(st.sampled_from(names + ["Event", "Content", "MsgId"]),
                                                         st.sampled_from(SHAPES), min_size=1, max_size=3)))
    parts = []
    for name in dict.fromkeys(names + list(changes)):
        shape = changes.get(name, "usual")
        if shape == "missing":
            continue
        if shape == "hostile":
            value = draw(HOSTILE)
        elif name == "MsgType":
            value = cdata(msg_type)
        else:
            value = draw(USUAL[name])
        element = f'<{name} a="1">{value}</{name}>' if shape == "attribute" else f"<{name}>{value}</{name}>"
        parts.append(element * (2 if shape == "repeated" else 1))
    if draw(st.integers(0, 4)) == 0:
        parts.append(draw(st.sampled_from(["<Extra>1</Extra>",
                                           "<ScanCodeInfo><ScanType>qrcode</ScanType></ScanCodeInfo>",
                                           "<Nested><Deeper><Deepest>x</Deepest></Deeper></Nested>"])))
    return "<xml>" + "".join(draw(st.permutations(parts))) + "</xml>"


# How the ciphertext reaches us in safe mode: intact mostly, else mangled and re-signed, so only the
# decryption can tell.
MANGLING = st.sampled_from(["intact"] * 12 + ["truncated", "flipped", "empty", "padding-0", "padding-255", "bare"])
# The URL's timestamp: WeChat's own mostly, else odd but correctly signed.
TIMESTAMPS = st.sampled_from(["wechat"] * 10 + ["huge", "odd"]).flatmap(
    lambda kind: st.just(None) if kind == "wechat" else
    st.integers(0, 10**400).map(str) if kind == "huge" else st.text("0123456789-+ .e", min_size=1, max_size=30))


def stored_total(session) -> int:
    """How many inbound messages the database holds."""
    session.rollback()
    return session.scalar(select(func.count()).select_from(InboundMessage))


def stored_with_msg_id(session, msg_id: int) -> int:
    """How many inbound messages carry this MsgId."""
    session.rollback()
    return session.scalar(select(func.count()).select_from(InboundMessage).where(InboundMessage.msg_id == msg_id))


def post(client, sender, xml: str, mode: str, mangling: str, timestamp: str | None):
    """Sign (and in safe mode seal) the payload as WeChat would, then mangle what was asked; the response."""
    if mode == "aes" and mangling != "intact":
        sealed = {"truncated": lambda: sender.seal(xml.encode())[:-7],
                  "flipped": lambda: "A" + sender.seal(xml.encode())[1:],
                  "empty": lambda: "",
                  "padding-0": lambda: sender.seal(xml.encode(), pad=0),
                  "padding-255": lambda: sender.seal(xml.encode(), pad=255),
                  "bare": lambda: sender.seal(xml.encode(), bare=True)}[mangling]()
        return sender.post_encrypted(client, sealed, nonce=secrets.token_hex(6))
    # Signed and sealed here rather than by `sender.post`, which also tells the WeChat stand-in about the
    # message: these are messages WeChat itself would never have sent.
    if timestamp is None:
        query, body = sender.side.envelope(xml, sender.clock(), mode=mode)
    else:
        nonce = secrets.token_hex(6)
        query, body = {"signature": sender.signature(timestamp, nonce), "timestamp": timestamp, "nonce": nonce}, xml
    return client.post("/wechat?" + urlencode(query), data=body.encode(), content_type="text/xml")


def single_msg_id(xml: str) -> int | None:
    """The message's MsgId when it carries exactly one plain number (what the dedupe key is made of)."""
    if xml.count("<MsgId>") != 1 or "<MsgType><![CDATA[event]]>" in xml:
        return None
    value = xml.split("<MsgId>", 1)[1].split("</MsgId>", 1)[0]
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 19 else None


@pytest.mark.parametrize("reply_mode", ["inline", "queued"])
@pytest.mark.parametrize("mode", ["plain", "aes"])
def test_generated_signed_payloads_never_get_a_5xx_and_are_stored_once(make_app, sender, session, clock,
                                                                       mode, reply_mode):
    """Each payload is delivered twice, as WeChat retries: never a 5xx, one row at most, none twice."""
    client = make_app(wechat_encoding_aes_key=TEST_AES_KEY if mode == "aes" else None,
                      wechat_reply_mode=reply_mode).test_client()
    seen: dict[str, int] = {}

    @FUZZ
    @given(xml=payloads(), mangling=MANGLING, timestamp=TIMESTAMPS)
    def deliver_twice(xml, mangling, timestamp):
        before = stored_total(session)
        statuses = [post(client, sender, xml, mode, mangling, timestamp).status_code for _ in range(2)]
        assert all(status < 500 for status in statuses), (statuses, xml)
        added = stored_total(session) - before
        assert added <= 1, xml
        msg_id = single_msg_id(xml)
        if msg_id is not None and statuses[0] == 200:
            assert stored_with_msg_id(session, msg_id) == 1, xml
        for status in statuses:
            seen[str(status)] = seen.get(str(status), 0) + 1
        clock.advance(seconds=1)

    deliver_twice()
    # The generator reached both sides of the webhook: accepted messages and refusals.
    assert seen.get("200") and seen.get("400"), seen
    session.rollback()
    twice = session.execute(select(InboundMessage.msg_id).where(InboundMessage.msg_id.is_not(None))
                            .group_by(InboundMessage.msg_id).having(func.count() > 1)).all()
    assert twice == []
