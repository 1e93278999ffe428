"""Post messages to a Flask test client exactly as WeChat's servers do (see devtools/wechat_side.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urlencode

from devtools import wechat_side
from devtools.wechat_side import WeChatSide, reply_fields


@dataclass
class WeChatSender:
    """Plays WeChat's side of the webhook against a Flask test client, on the test clock."""

    token: str
    app_id: str
    aes_key: str | None
    clock: object
    account: str = "gh_sanzhida"

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
        params, body = self.side.envelope(xml, moment, mode=mode, nonce=nonce, signature=signature,
                                          msg_signature=msg_signature)
        return client.post("/wechat?" + urlencode(params), data=body.encode("utf-8"), content_type="text/xml"), params

    def decrypt_reply(self, response, params) -> str:
        """Decrypt an encrypted passive reply as WeChat would."""
        return self.side.open_reply(response.data)


def reply_content(xml) -> dict:
    """The fields of a passive reply."""
    return reply_fields(xml.decode("utf-8") if isinstance(xml, bytes) else xml)
