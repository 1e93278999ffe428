"""WeChat's side of the webhook: build messages and sign (and encrypt) them exactly as WeChat's
servers do, and tell the WeChat API stand-in what the user did (`tell_standin`), since in WeChat
a user's message or event is what lets the account answer with customer-service messages. Used by
the development simulator and by the tests; never by production code paths."""

from __future__ import annotations

import itertools
import secrets
import xml.etree.ElementTree as ET  # nosec B405  # parses only the XML it builds or our app answers
from dataclasses import dataclass
from datetime import datetime

import requests
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

_msg_ids = itertools.count(6_000_000_000_000_000_001)


def cdata(value) -> str:
    """Wrap a value as WeChat does for string fields."""
    return f"<![CDATA[{value}]]>"


def message_xml(openid: str, msg_type: str, created: int, inner: str, *, account: str,
                msg_id: int | None = None) -> str:
    """The plaintext XML of one message or event."""
    parts = [
        f"<ToUserName>{cdata(account)}</ToUserName>",
        f"<FromUserName>{cdata(openid)}</FromUserName>",
        f"<CreateTime>{created}</CreateTime>",
        f"<MsgType>{cdata(msg_type)}</MsgType>",
        inner,
    ]
    if msg_type != "event":
        parts.append(f"<MsgId>{msg_id if msg_id is not None else next(_msg_ids)}</MsgId>")
    return "<xml>" + "".join(parts) + "</xml>"


def text_inner(content: str) -> str:
    """Fields of a text message."""
    return f"<Content>{cdata(content)}</Content>"


def voice_inner(media_id: str, recognition: str = "") -> str:
    """Fields of a voice message (Recognition only when WeChat recognised speech)."""
    inner = f"<MediaId>{cdata(media_id)}</MediaId><Format>{cdata('amr')}</Format>"
    return inner + (f"<Recognition>{cdata(recognition)}</Recognition>" if recognition else "")


def image_inner(pic_url: str, media_id: str) -> str:
    """Fields of an image message."""
    return f"<PicUrl>{cdata(pic_url)}</PicUrl><MediaId>{cdata(media_id)}</MediaId>"


def location_inner(lat: float, lng: float, label: str, scale: int = 15) -> str:
    """Fields of a location message."""
    return (f"<Location_X>{lat}</Location_X><Location_Y>{lng}</Location_Y>"
            f"<Scale>{scale}</Scale><Label>{cdata(label)}</Label>")


def event_inner(event: str, key: str | None = None) -> str:
    """Fields of an event."""
    inner = f"<Event>{cdata(event)}</Event>"
    return inner + (f"<EventKey>{cdata(key)}</EventKey>" if key is not None else "")


def location_select_inner(key: str, lat, lng, label: str, poiname: str, scale: int = 15) -> str:
    """Fields of the location_select event a menu's place picker sends (WeChat follows it with the
    place as a location message: `location_inner`)."""
    info = (f"<SendLocationInfo><Location_X>{cdata(lat)}</Location_X><Location_Y>{cdata(lng)}</Location_Y>"
            f"<Scale>{cdata(scale)}</Scale><Label>{cdata(label)}</Label><Poiname>{cdata(poiname)}</Poiname>"
            f"</SendLocationInfo>")
    return event_inner("location_select", key) + info


@dataclass
class WeChatSide:
    """Signs and, in safe or compatible mode, encrypts a message for the /wechat endpoint."""

    token: str
    app_id: str
    aes_key: str | None = None
    account: str = "gh_sanzhida"

    def signature(self, timestamp: str, nonce: str) -> str:
        """WeChat's URL signature: sha1 of the sorted token, timestamp and nonce."""
        signer = WeChatSigner()
        signer.add_data(self.token, timestamp, nonce)
        return signer.signature

    def envelope(self, xml: str, now: datetime, *, mode: str = "plain", nonce: str | None = None,
                 signature: str | None = None, msg_signature: str | None = None) -> tuple[dict, str]:
        """(query parameters, body) as WeChat posts them in `plain`, `aes` or `compatible` mode."""
        ts = str(int(now.timestamp()))
        nonce = nonce or secrets.token_hex(6)
        params = {"signature": signature or self.signature(ts, nonce), "timestamp": ts, "nonce": nonce}
        if mode == "plain":
            return params, xml
        sealed_xml = WeChatCrypto(self.token, self.aes_key, self.app_id).encrypt_message(xml, nonce, ts)
        sealed = ET.fromstring(sealed_xml)  # nosec B314  # wechatpy's envelope of our own message
        encrypt = sealed.findtext("Encrypt")
        params["encrypt_type"] = "aes"
        params["msg_signature"] = msg_signature or sealed.findtext("MsgSignature")
        if mode == "aes":
            return params, f"<xml><ToUserName>{cdata(self.account)}</ToUserName><Encrypt>{cdata(encrypt)}</Encrypt></xml>"
        return params, xml.replace("</xml>", f"<Encrypt>{cdata(encrypt)}</Encrypt></xml>")

    def open_reply(self, body: bytes | str) -> str:
        """The plaintext of a passive reply (decrypted when it came encrypted)."""
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        if "<Encrypt>" not in text:
            return text
        sealed = ET.fromstring(text)  # nosec B314  # our own app's reply
        return WeChatCrypto(self.token, self.aes_key, self.app_id).decrypt_message(
            text, sealed.findtext("MsgSignature"), sealed.findtext("TimeStamp"), sealed.findtext("Nonce")
        )


def interaction(xml: str) -> dict | None:
    """What the user did, from a message's plaintext XML, as `POST /_interactions` takes it; None for
    a body WeChat would never send (malformed, with a DOCTYPE, without a sender, type or event name)."""
    if "<!DOCTYPE" in xml.upper():
        return None
    try:
        root = ET.fromstring(xml)  # nosec B314  # our own test message; DOCTYPE refused above
    except ET.ParseError:
        return None
    found = {"openid": root.findtext("FromUserName"), "msg_type": root.findtext("MsgType"),
             "event": root.findtext("Event"), "event_key": root.findtext("EventKey")}
    if not found["openid"] or not found["msg_type"] or (found["msg_type"] == "event" and not found["event"]):
        return None
    return {key: value for key, value in found.items() if value is not None}


def tell_standin(root_url: str, xml: str, *, timeout: float = 5.0, app_id: str | None = None) -> None:
    """Register the message or event at the WeChat API stand-in (its root URL), as WeChat knows it;
    `app_id` is the official account it went to (None: the stand-in's default one)."""
    action = interaction(xml)
    if action is None:
        return
    if app_id is not None:
        action["app_id"] = app_id
    answer = requests.post(f"{root_url.rstrip('/')}/_interactions", json=action, timeout=timeout)
    answer.raise_for_status()


def reply_fields(xml: str) -> dict:
    """The fields of a passive reply (empty for WeChat's "success")."""
    if not xml or xml == "success":
        return {}
    return {child.tag: child.text for child in ET.fromstring(xml)}  # nosec B314  # our own app's reply
