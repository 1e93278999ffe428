"""Post messages to a Flask test client exactly as WeChat's servers do (see devtools/wechat_side.py),
telling the WeChat API stand-in what each user did, as WeChat itself knows it."""

from __future__ import annotations

import base64
import os
import struct
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urlencode

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from wechatpy.utils import WeChatSigner

import requests
from sqlalchemy import event, inspect

from devtools import wechat_side
from devtools.wechat_side import WeChatSide, reply_fields
from models import WeChatUser


@dataclass
class WeChatSender:
    """Plays WeChat's side of the webhook against a Flask test client, on the test clock.

    With `standin` (the WeChat API stand-in's root URL), every message or event it posts is first
    registered there: that is what opens the user's customer-service window, as in WeChat.
    """

    token: str
    app_id: str
    aes_key: str | None
    clock: object
    account: str = "gh_sanzhida"
    standin: str | None = None
    # The webhook's path: `/wechat/<slug>` for an added official account.
    path: str = "/wechat"

    @property
    def side(self) -> WeChatSide:
        """The signer for this account."""
        return WeChatSide(self.token, self.app_id, self.aes_key, self.account)

    def _created(self, create_time: int | None) -> int:
        return create_time if create_time is not None else int(self.clock().timestamp())

    def text(self, openid: str, content: str, msg_id: int | None = None, create_time: int | None = None) -> str:
        """A text message's plaintext XML."""
        return wechat_side.message_xml(openid, "text", self._created(create_time), wechat_side.text_inner(content),
                                       account=self.account, msg_id=msg_id)

    def voice(self, openid: str, media_id: str, recognition: str = "", msg_id: int | None = None) -> str:
        """A voice message's plaintext XML."""
        return wechat_side.message_xml(openid, "voice", self._created(None),
                                       wechat_side.voice_inner(media_id, recognition), account=self.account,
                                       msg_id=msg_id)

    def event(self, openid: str, event: str, key: str | None = None, create_time: int | None = None) -> str:
        """An event's plaintext XML (no MsgId, as WeChat sends events)."""
        return wechat_side.message_xml(openid, "event", self._created(create_time),
                                       wechat_side.event_inner(event, key), account=self.account)

    def raw(self, openid: str, msg_type: str, inner: str = "", msg_id: int | None = None) -> str:
        """A message of any type, for the ones the service does not know."""
        return wechat_side.message_xml(openid, msg_type, self._created(None), inner, account=self.account,
                                       msg_id=msg_id)

    def signature(self, timestamp: str, nonce: str) -> str:
        """WeChat's URL signature."""
        return self.side.signature(timestamp, nonce)

    def post(self, client, xml: str, *, mode: str = "plain", timestamp: int | None = None, nonce: str | None = None,
             signature: str | None = None, msg_signature: str | None = None):
        """POST as WeChat does in `plain`, `aes` (safe) or `compatible` mode; returns (response, params)."""
        moment = datetime.fromtimestamp(timestamp, timezone.utc) if timestamp is not None else self.clock()
        if self.standin and signature is None and msg_signature is None:
            # A forged signature is someone other than WeChat posting: WeChat never saw that.
            wechat_side.tell_standin(self.standin, xml, app_id=self.app_id)
        params, body = self.side.envelope(xml, moment, mode=mode, nonce=nonce, signature=signature,
                                          msg_signature=msg_signature)
        return client.post(f"{self.path}?" + urlencode(params), data=body.encode("utf-8"),
                           content_type="text/xml"), params

    def seal(self, plaintext: bytes, *, pad: int | None = None, app_id: str | None = None, bare: bool = False) -> str:
        """Safe mode's Encrypt for any plaintext, sealed as WeChat does (random 16 bytes, length, message,
        app id, PKCS#7 to 32-byte blocks), except that `pad` sets every padding byte to a value of its own
        and `bare` seals the plaintext alone, without the random bytes, length and app id around it."""
        app_id = self.app_id if app_id is None else app_id
        body = plaintext if bare else os.urandom(16) + struct.pack(">I", len(plaintext)) + plaintext + app_id.encode()
        count = 32 - len(body) % 32
        body += bytes([pad if pad is not None else count]) * count
        key = base64.b64decode(self.aes_key + "=")
        encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
        return base64.b64encode(encryptor.update(body) + encryptor.finalize()).decode()

    def post_encrypted(self, client, encrypt: str, *, nonce: str = "n-sealed"):
        """POST a safe-mode body carrying `encrypt` as it is, with a valid signature and msg_signature."""
        ts = str(int(self.clock().timestamp()))
        signer = WeChatSigner()
        signer.add_data(self.token, ts, nonce, encrypt)
        params = {"signature": self.signature(ts, nonce), "timestamp": ts, "nonce": nonce, "encrypt_type": "aes",
                  "msg_signature": signer.signature}
        body = f"<xml><ToUserName><![CDATA[{self.account}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
        return client.post(f"{self.path}?" + urlencode(params), data=body.encode(), content_type="text/xml")

    def decrypt_reply(self, response, params) -> str:
        """Decrypt an encrypted passive reply as WeChat would."""
        return self.side.open_reply(response.data)


def reply_content(xml) -> dict:
    """The fields of a passive reply."""
    return reply_fields(xml.decode("utf-8") if isinstance(xml, bytes) else xml)


def tell_standin_who_wrote(session, standin: str, clock) -> None:
    """Register at the stand-in every user this session records as having written.

    In WeChat, `WeChatUser.last_message_at` only ever comes from a message WeChat delivered, so a
    test that sets it directly (a factory's "wrote an hour ago") has WeChat know it too: at the same
    age on the stand-in's clock as on the test clock.
    """

    @event.listens_for(session, "after_flush")
    def _tell(flushed, _context):
        # The lists and attribute histories still show what this flush wrote.
        wrote = []
        for obj in [*flushed.new, *flushed.dirty]:
            if isinstance(obj, WeChatUser):
                wrote += [(obj.openid, at) for at in inspect(obj).attrs.last_message_at.history.added if at]
        if not wrote:
            return
        now = requests.get(f"{standin}/_clock", timeout=5).json()["now"]
        for openid, at in wrote:
            at = at if at.tzinfo else at.replace(tzinfo=timezone.utc)
            age = max((clock() - at).total_seconds(), 0.0)
            answer = requests.post(f"{standin}/_interactions", json={"openid": openid, "msg_type": "text",
                                                                     "at": now - age}, timeout=5)
            answer.raise_for_status()
