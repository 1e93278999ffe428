"""Build and post messages exactly as WeChat's servers do: signed, and AES-encrypted in safe mode."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import urlencode

from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

_nonces = itertools.count(1)
_msg_ids = itertools.count(6_000_000_000_000_000_001)


def cdata(value) -> str:
    """Wrap a value as WeChat does for string fields."""
    return f"<![CDATA[{value}]]>"


@dataclass
class WeChatSender:
    """Plays WeChat's side of the webhook against a Flask test client."""

    token: str
    app_id: str
    aes_key: str | None
    clock: object
    account: str = "gh_sanzhida"

    def text(self, openid: str, content: str, msg_id: int | None = None, create_time: int | None = None) -> str:
        """A text message's plaintext XML."""
        return self._xml(openid, "text", create_time, f"<Content>{cdata(content)}</Content>", msg_id)

    def voice(self, openid: str, media_id: str, recognition: str = "", msg_id: int | None = None) -> str:
        """A voice message's plaintext XML."""
        body = f"<MediaId>{cdata(media_id)}</MediaId><Format>{cdata('amr')}</Format>"
        body += f"<Recognition>{cdata(recognition)}</Recognition>"
        return self._xml(openid, "voice", None, body, msg_id)

    def event(self, openid: str, event: str, key: str | None = None, create_time: int | None = None) -> str:
        """An event's plaintext XML (no MsgId, as WeChat sends events)."""
        body = f"<Event>{cdata(event)}</Event>"
        if key is not None:
            body += f"<EventKey>{cdata(key)}</EventKey>"
        return self._xml(openid, "event", create_time, body, None)

    def raw(self, openid: str, msg_type: str, inner: str = "", msg_id: int | None = None) -> str:
        """A message of any type, for the ones the service does not know."""
        return self._xml(openid, msg_type, None, inner, msg_id)

    def _xml(self, openid, msg_type, create_time, inner, msg_id) -> str:
        created = create_time if create_time is not None else int(self.clock().timestamp())
        parts = [
            f"<ToUserName>{cdata(self.account)}</ToUserName>",
            f"<FromUserName>{cdata(openid)}</FromUserName>",
            f"<CreateTime>{created}</CreateTime>",
            f"<MsgType>{cdata(msg_type)}</MsgType>",
            inner,
        ]
        if msg_type != "event":
            parts.append(f"<MsgId>{msg_id if msg_id is not None else next(_msg_ids)}</MsgId>")
        return "<xml>" + "".join(parts) + "</xml>"

    def signature(self, timestamp: str, nonce: str) -> str:
        """WeChat's URL signature: sha1 of the sorted token, timestamp and nonce."""
        signer = WeChatSigner()
        signer.add_data(self.token, timestamp, nonce)
        return signer.signature

    def post(self, client, xml: str, *, mode: str = "plain", timestamp: int | None = None, nonce: str | None = None,
             signature: str | None = None, msg_signature: str | None = None):
        """POST as WeChat does in `plain`, `aes` (safe) or `compatible` mode."""
        ts = str(timestamp if timestamp is not None else int(self.clock().timestamp()))
        nonce = nonce or f"n{next(_nonces)}"
        params = {"signature": signature or self.signature(ts, nonce), "timestamp": ts, "nonce": nonce}
        body = xml
        if mode in ("aes", "compatible"):
            envelope = ET.fromstring(WeChatCrypto(self.token, self.aes_key, self.app_id).encrypt_message(xml, nonce, ts))
            encrypt = envelope.findtext("Encrypt")
            params["encrypt_type"] = "aes"
            params["msg_signature"] = msg_signature or envelope.findtext("MsgSignature")
            if mode == "aes":
                body = f"<xml><ToUserName>{cdata(self.account)}</ToUserName><Encrypt>{cdata(encrypt)}</Encrypt></xml>"
            else:
                body = xml.replace("</xml>", f"<Encrypt>{cdata(encrypt)}</Encrypt></xml>")
        return client.post(
            "/wechat?" + urlencode(params), data=body.encode("utf-8"), content_type="text/xml"
        ), params

    def decrypt_reply(self, response, params) -> str:
        """Decrypt an encrypted passive reply as WeChat would."""
        envelope = ET.fromstring(response.data)
        return WeChatCrypto(self.token, self.aes_key, self.app_id).decrypt_message(
            response.data, envelope.findtext("MsgSignature"), envelope.findtext("TimeStamp"), envelope.findtext("Nonce")
        )


def reply_content(xml: str) -> dict:
    """The fields of a passive reply."""
    root = ET.fromstring(xml)
    return {child.tag: child.text for child in root}
