"""Inbound messages: stored once per WeChat dedupe key, with the reply that answered them."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session
from wechatpy.messages import BaseMessage

from models import InboundMessage
from models.db import insert_ignoring_conflicts


def dedupe_key(msg: BaseMessage) -> str:
    """WeChat's own dedupe key: MsgId for messages, sender + CreateTime (+ event) for events."""
    raw = msg._data
    if msg.id:
        return f"msg:{msg.id}"
    event = str(raw.get("Event", "")).lower()
    return f"evt:{msg.source}:{raw.get('CreateTime', '')}:{event}"


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
            msg_id=msg.id or None,
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
