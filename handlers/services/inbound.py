"""Inbound messages: stored once per WeChat dedupe key, with the reply that answered them."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session
from wechatpy.messages import BaseMessage

from models import InboundMessage
from models.db import insert_ignoring_conflicts


MAX_MSG_ID = 2**63 - 1


class MalformedMessage(ValueError):
    """A message that parsed as XML but is not a well-formed WeChat message."""


def validate(msg: BaseMessage) -> None:
    """Refuse messages whose core fields are missing, repeated or out of range."""
    raw = msg._data
    for name in ("ToUserName", "FromUserName", "CreateTime", "MsgType"):
        if not isinstance(raw.get(name), str) or not raw[name]:
            raise MalformedMessage(name)
    for name, value in raw.items():
        # A repeated element parses as a list; WeChat never repeats one.
        if isinstance(value, list):
            raise MalformedMessage(name)
    if not raw["CreateTime"].isdigit():
        raise MalformedMessage("CreateTime")
    is_event = raw["MsgType"].lower() == "event"
    msg_id = raw.get("MsgId")
    if msg_id is None and not is_event:
        raise MalformedMessage("MsgId")
    if msg_id is not None and (not isinstance(msg_id, str) or not msg_id.isdigit() or int(msg_id) > MAX_MSG_ID):
        raise MalformedMessage("MsgId")


def dedupe_key(msg: BaseMessage) -> str:
    """WeChat's own dedupe key: MsgId for messages, sender + CreateTime + event for events.

    Events use the event form even when they carry a MsgID (TEMPLATESENDJOBFINISH does), so
    they can never collide with a person's message.
    """
    raw = msg._data
    if str(raw.get("MsgType", "")).lower() == "event":
        event = str(raw.get("Event", "")).lower()
        return f"evt:{msg.source}:{raw.get('CreateTime', '')}:{event}"
    return f"msg:{raw.get('MsgId', '')}"


def _content(msg: BaseMessage) -> str | None:
    # Text, or what WeChat recognised in a voice message; media ids stay in the payload.
    if msg.type == "text":
        return msg.content
    if msg.type == "voice":
        return msg._data.get("Recognition") or None
    return None


def store_inbound(session: Session, msg: BaseMessage, key: str, now: datetime) -> InboundMessage | None:
    """Insert the message; None when this dedupe key was already stored (a retry)."""
    raw = dict(msg._data)
    try:
        sent_at = datetime.fromtimestamp(int(raw.get("CreateTime", 0)), tz=timezone.utc)
    except (TypeError, ValueError, OverflowError):
        sent_at = now
    stmt = (
        insert_ignoring_conflicts(session, InboundMessage)
        .values(
            dedupe_key=key,
            openid=str(msg.source or ""),
            msg_type=str(raw.get("MsgType", msg.type)).lower()[:32],
            event=(str(raw["Event"]).lower()[:48] if raw.get("Event") else None),
            msg_id=int(raw["MsgId"]) if key.startswith("msg:") else None,
            sent_at=sent_at,
            received_at=now,
            content=_content(msg),
            payload=raw,
        )
        .returning(InboundMessage.id)
    )
    new_id = session.execute(stmt).scalar_one_or_none()
    if new_id is None:
        return None
    return session.get(InboundMessage, new_id)


def find_inbound(session: Session, key: str) -> InboundMessage | None:
    """The stored message for a dedupe key, if any."""
    return session.scalars(select(InboundMessage).where(InboundMessage.dedupe_key == key)).one_or_none()
