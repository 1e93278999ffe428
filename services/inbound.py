"""Inbound messages: stored once per WeChat dedupe key, with the reply that answered them."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session, make_transient_to_detached
from wechatpy.messages import BaseMessage

from models import InboundMessage
from services import wechat_events  # noqa: F401  # parse_message knows the subscribe_msg_* events
from services.wakeups import INBOX_CHANNEL, notify_column

MAX_MSG_ID = 2**63 - 1
# WeChat's formats, with room to spare, and never wider than the columns they are stored in: a value
# that does not fit is not WeChat's, and refusing it is better than failing on it in the database.
# An openid is 28 letters, digits, `-` and `_`; the account's own id is `gh_` and 12 hex digits.
ACCOUNT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Unix seconds; 11 digits reach the year 5138.
CREATE_TIME = re.compile(r"[0-9]{1,11}")
MSG_ID = re.compile(r"[0-9]{1,19}")
# `text`, `shortvideo`, `subscribe`, `TEMPLATESENDJOBFINISH` …: inbound_messages.msg_type and .event.
MSG_TYPE = re.compile(r"[A-Za-z0-9_.-]{1,32}")
EVENT = re.compile(r"[A-Za-z0-9_.-]{1,48}")
DEDUPE_KEY_MAX = 160
# Longest values for fields that reach a column of their own (media_items).
FIELD_MAX = {"MediaId": 128, "ThumbMediaId": 128, "Format": 16}
# Fields WeChat always sends as plain text. An attribute or a nested element parses as a dict
# there; some events nest on purpose (ScanCodeInfo, SendPicsInfo), so only these are checked.
TEXT_FIELDS = frozenset({
    "ToUserName", "FromUserName", "CreateTime", "MsgType", "MsgId", "MsgID", "MsgDataId", "Idx", "Content",
    "Event", "EventKey", "Ticket", "MediaId", "ThumbMediaId", "Format", "Recognition", "PicUrl", "Location_X",
    "Location_Y", "Scale", "Label", "Title", "Description", "Url", "Latitude", "Longitude", "Precision", "Status",
})


class MalformedMessage(ValueError):
    """A message that parsed as XML but is not a well-formed WeChat message; the argument names the field."""


def validate(msg: BaseMessage) -> None:
    """Refuse messages whose fields are missing, repeated, nested or out of WeChat's range.

    The error names the field, never its value: the value is what the sender wrote.
    """
    raw = msg._data
    for name, value in raw.items():
        # A repeated element parses as a list; WeChat never repeats one.
        if isinstance(value, list) or (name in TEXT_FIELDS and value is not None and not isinstance(value, str)):
            # Only a known name is named: any other was chosen by the sender.
            raise MalformedMessage(name if name in TEXT_FIELDS else "other")
    for name, pattern in (("ToUserName", ACCOUNT_ID), ("FromUserName", ACCOUNT_ID), ("CreateTime", CREATE_TIME),
                          ("MsgType", MSG_TYPE)):
        if not isinstance(raw.get(name), str) or not pattern.fullmatch(raw[name]):
            raise MalformedMessage(name)
    for name, longest in FIELD_MAX.items():
        if len(raw.get(name) or "") > longest:
            raise MalformedMessage(name)
    is_event = raw["MsgType"].lower() == "event"
    if is_event and not (isinstance(raw.get("Event"), str) and EVENT.fullmatch(raw["Event"])):
        raise MalformedMessage("Event")
    msg_id = raw.get("MsgId")
    if msg_id is None and not is_event:
        raise MalformedMessage("MsgId")
    if msg_id is not None and (not MSG_ID.fullmatch(msg_id) or int(msg_id) > MAX_MSG_ID):
        raise MalformedMessage("MsgId")
    if msg.type == "text" and not isinstance(raw.get("Content"), str):
        raise MalformedMessage("Content")
    if len(dedupe_key(msg)) > DEDUPE_KEY_MAX:
        raise MalformedMessage("dedupe_key")


def dedupe_key(msg: BaseMessage) -> str:
    """WeChat's own dedupe key: MsgId for messages, sender + CreateTime + event for events.

    Events use the event form even when they carry a MsgID (TEMPLATESENDJOBFINISH does), so
    they can never collide with a person's message. Numbers are written without leading zeros,
    so `0042` and `42` are one message, as they are to WeChat.
    """
    raw = msg._data
    if str(raw.get("MsgType", "")).lower() == "event":
        event = str(raw.get("Event", "")).lower()
        return f"evt:{msg.source}:{_number(raw.get('CreateTime'))}:{event}"
    return f"msg:{_number(raw.get('MsgId'))}"


def _number(value) -> str:
    """A validated number's canonical digits (the value as it is when it is not one)."""
    return str(int(value)) if isinstance(value, str) and value.isascii() and value.isdigit() else str(value or "")


def _content(msg: BaseMessage) -> str | None:
    # Text, or what WeChat recognised in a voice message; media ids stay in the payload.
    if msg.type == "text":
        return msg.content
    if msg.type == "voice":
        return msg._data.get("Recognition") or None
    return None


def _values(msg: BaseMessage, key: str, now: datetime, account_id: int | None = None) -> dict:
    """The stored row's columns for a message (`account_id`: the account it came through, None the default)."""
    raw = dict(msg._data)
    try:
        sent_at = datetime.fromtimestamp(int(raw.get("CreateTime", 0)), tz=timezone.utc)
    except (TypeError, ValueError, OverflowError):
        sent_at = now
    return dict(
        dedupe_key=key,
        openid=str(msg.source or ""),
        msg_type=str(raw.get("MsgType", msg.type)).lower()[:32],
        event=(str(raw["Event"]).lower()[:48] if raw.get("Event") else None),
        msg_id=int(raw["MsgId"]) if key.startswith("msg:") else None,
        sent_at=sent_at,
        received_at=now,
        content=_content(msg),
        payload=raw,
        account_id=account_id,
    )


def _insert_statement(dialect: str, wake: bool):
    """INSERT … ON CONFLICT DO NOTHING RETURNING id on the table (Core, built once per dialect):
    on the webhook's path a statement built per message costs more than the round trip.

    `wake`: on PostgreSQL the same statement also notifies the inbox workers (services.wakeups),
    at commit and only when the row is new."""
    if (dialect, wake) not in _INSERTS:
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        table = InboundMessage.__table__
        returned = [table.c.id]
        if wake and dialect == "postgresql":
            returned.append(notify_column(INBOX_CHANNEL))
        _INSERTS[(dialect, wake)] = insert(table).on_conflict_do_nothing().returning(*returned)
    return _INSERTS[(dialect, wake)]


_INSERTS: dict[tuple[str, bool], object] = {}


def insert_inbound(connection: Connection, msg: BaseMessage, key: str, now: datetime, *,
                   account_id: int | None = None) -> int | None:
    """Insert the message, not yet handled, and wake the inbox workers; its id, or None when this
    dedupe key was stored before."""
    return _insert_row(connection, _values(msg, key, now, account_id), wake=True)


def _insert_row(connection: Connection, values: dict, *, wake: bool = False) -> int | None:
    """Run the cached insert for one row's values; the new id or None."""
    return connection.execute(_insert_statement(connection.dialect.name, wake), values).scalars().one_or_none()


def store_inbound(session: Session, msg: BaseMessage, key: str, now: datetime, *,
                  account_id: int | None = None) -> InboundMessage | None:
    """Insert the message and return it, in one statement; None when this dedupe key was already
    stored (a retry)."""
    values = _values(msg, key, now, account_id)
    new_id = _insert_row(session.connection(), values)
    if new_id is None:
        return None
    # Every column is known, so the row becomes an entity without reading it back.
    stored = InboundMessage(id=new_id, reply_xml=None, handling_error=None, handled_at=None, request_id=None,
                            **values)
    make_transient_to_detached(stored)
    session.add(stored)
    return stored


def find_inbound(session: Session, key: str) -> InboundMessage | None:
    """The stored message for a dedupe key, if any."""
    return session.scalars(select(InboundMessage).where(InboundMessage.dedupe_key == key)).one_or_none()
