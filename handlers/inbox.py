"""The inbox: route one stored WeChat message, in its webhook request or later in the inbox worker.

Either way a message is handled exactly once: `handled_at` is set in the same transaction as
everything the handler wrote. In queued mode the worker takes unhandled messages under a row lock,
oldest first and never ahead of an earlier message from the same sender, and queues the reply
as a customer-service message in that same transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy import func, select
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, aliased
from wechatpy.events import EVENT_TYPES
from wechatpy.messages import MESSAGE_TYPES, BaseMessage, UnknownMessage

from handlers.context import Context
from handlers.router import Router
from models import InboundMessage, WeChatUser
from models.db import take_changes, update_by_key, walking_indexes
from models.enums import OutboxKind, OutboxStatus, PushKind
from services import checkins, identity, texts
from services.binding import BindGuard
from services.notify import hold_events, insert_outbox, push_key, write_held_events
from services.pii import PiiCipher
from services.requests import RequestEnv, know_recent_requests

logger = logging.getLogger(__name__)

# Redis unreachable (binding counts wrong codes there): the outage's fault, not the message's. It is
# raised like a database failure, so the message is handled again once Redis is back instead of
# being kept as failed. Other Redis errors (a wrong command, a wrong type) are bugs like any other.
REDIS_OUTAGE = (RedisConnectionError, RedisTimeoutError)


@dataclass(frozen=True)
class InboxEnv:
    """What handling a message needs besides the session and the time."""

    redis: object
    router: Router
    tz: ZoneInfo
    pii: PiiCipher
    bind_guard: BindGuard
    request_env: RequestEnv


@dataclass
class GroupWrites:
    """What the messages of one group write alike, kept until the group's end and then written in one
    statement each rather than one a message: the timeline entries (held by the session), the
    messages' and senders' changed columns, the beneficiaries' last contacts, and the outbox rows
    (pushes and replies, in order)."""

    changes: dict[type, dict[int, dict]] = field(default_factory=dict)
    contacts: checkins.Contacts = field(default_factory=dict)
    outbox: list[dict] = field(default_factory=list)
    # Whether `outbox` holds more than replies: rows the dispatchers must be woken for.
    pushes: bool = False
    # Whether a dispatcher sends the replies too (the worker leaves them to it): then they wake it.
    replies_wake: bool = False

    @classmethod
    def held_by(cls, session: Session, env: InboxEnv, senders: dict[str, WeChatUser], now: datetime, *,
                replies_wake: bool = False) -> GroupWrites:
        """A group's writes, the session holding back its timeline entries until `write` and knowing
        the recent requests of the people its senders are bound to (one query, not one a message)."""
        hold_events(session)
        bound = [link.beneficiary_id for user in senders.values() for link in user.family_links if link.active]
        know_recent_requests(session, bound, now, env.request_env.merge_hours)
        return cls(replies_wake=replies_wake)

    def take(self, obj) -> None:
        """Keep a loaded object's unflushed column changes for the group's UPDATE of its table."""
        changes = take_changes(obj)
        if changes:
            self.changes.setdefault(type(obj), {}).setdefault(obj.id, {}).update(changes)

    def write(self, session: Session) -> dict[str, int]:
        """Write what was kept; {idempotency key: id} of the outbox rows created."""
        # What the unit of work still holds first (a case's updated_at when a message joined it), so that
        # every group changes cases before people and messages, in one order across workers; the cases
        # themselves are locked in id order when the group starts (`know_recent_requests`).
        session.flush()
        # The timeline entries the handlers added, held back by the session (`notify.hold_events`).
        write_held_events(session)
        for model, rows in self.changes.items():
            update_by_key(session, model, rows)
        checkins.save_contacts(session, self.contacts)
        if not self.outbox:
            return {}
        # Replies the worker sends itself wake no one; task pushes, and replies left to a dispatcher, do.
        return insert_outbox(session, self.outbox, wake=self.pushes or self.replies_wake)


class HandlerFailed(Exception):
    """A handler bug while handling without a savepoint (`isolate=False`): the transaction holds part
    of what the handler wrote, so the caller rolls it back and handles the messages again, isolated."""


def handle(session: Session, env: InboxEnv, stored: InboundMessage, msg: BaseMessage, now: datetime, *,
           known: dict[str, WeChatUser] | None = None, isolate: bool = True,
           group: GroupWrites | None = None) -> str | None:
    """Route a stored message and mark it handled; return the reply text (None for none).

    A handler bug keeps the message (listed by `sanzhida inbound failed`) and answers kindly;
    a database failure or a Redis outage is raised so that nothing of this message is kept and it
    is tried again. `known`: senders already loaded for a group (`senders_of`). `isolate=False`
    saves the savepoint's two round trips: a handler bug then raises `HandlerFailed` instead.
    `group`: where a group of messages keeps the message's, its sender's and the beneficiaries' plain
    updates and the outbox rows the handler queued, for `GroupWrites.write`; None: written here.
    """
    user = identity.get_or_create_user(session, msg.source, now, stored.account_id, known=known)
    if msg.type != "event":
        # Kept even when the handler fails: the user did write, and the window is open.
        identity.note_message(user, stored.received_at or now)
    if group is not None:
        # Outside the savepoint below, so a handler's failure does not take it back.
        group.take(user)
    ctx = Context(
        session=session, redis=env.redis, now=now, tz=env.tz, user=user, inbound=stored,
        pii=env.pii, bind_guard=env.bind_guard, request_env=env.request_env,
    )
    try:
        if isolate:
            with session.begin_nested():
                text = env.router.dispatch(msg, ctx)
        else:
            text = env.router.dispatch(msg, ctx)
    except (OperationalError, InterfaceError, *REDIS_OUTAGE):
        raise
    except Exception as exc:
        if not isolate:
            raise HandlerFailed(type(exc).__name__) from exc
        logger.error("wechat=handler_failed openid=%s key=%s type=%s error=%s",
                     msg.source, stored.dedupe_key, msg.type, type(exc).__name__, exc_info=True)
        stored.handling_error = type(exc).__name__[:120]
        text = texts.SORRY_ERROR
        # What the failed handler queued went with its savepoint.
        ctx.outbox.clear()
    # Before the UPDATEs below flush it, so the request it joined and this go in one statement.
    stored.handled_at = now
    if msg.type != "event":
        # A sign of life for whoever the sender is bound to, even when the handler failed. After the
        # handler, so a check-in is kept as one and not as a plain message.
        checkins.note_message(session, user, now, env=env.request_env, via_case=stored.request_id,
                              contacts=group.contacts if group is not None else None)
    if group is not None:
        group.take(stored)
        group.outbox.extend(ctx.outbox)
        group.pushes = group.pushes or bool(ctx.outbox)
    elif ctx.outbox:
        insert_outbox(session, ctx.outbox)
    return text


def write_group(session: Session, group: GroupWrites) -> dict[str, int]:
    """Write what a group kept (`GroupWrites.write`); a failure other than the database's or Redis's
    is a bug, raised as `HandlerFailed` so the group is handled again with each message on its own."""
    try:
        return group.write(session)
    except (OperationalError, InterfaceError, *REDIS_OUTAGE):
        raise
    except Exception as exc:
        raise HandlerFailed(type(exc).__name__) from exc


def senders_of(session: Session, messages: list[InboundMessage]) -> dict[str, WeChatUser]:
    """The known senders of a group of messages, loaded in one query for `handle(known=...)`."""
    return identity.load_senders(session, [stored.openid for stored in messages])


def message_of(stored: InboundMessage) -> BaseMessage:
    """The wechatpy message again, built from the stored payload as the webhook's parse built it."""
    return message_from_fields(dict(stored.payload))


def message_from_fields(fields: dict) -> BaseMessage:
    """The wechatpy message for the fields `wechatpy.parse_message` read from a message's XML.

    The class is chosen as `parse_message` chooses it (wechatpy 1.8.18), without writing the fields
    out as XML and parsing them again: that round trip was a twentieth of the inbox worker's time.
    `fields` is the message's own (a scan-to-follow's event and key are rewritten as wechatpy does).
    """
    message_type = str(fields["MsgType"]).lower()
    if message_type != "event" and not message_type.startswith("device_"):
        return MESSAGE_TYPES.get(message_type, UnknownMessage)(fields)
    event_type = str(fields["Event"]).lower() if "Event" in fields else None
    if event_type is None and message_type.startswith("device_"):
        event_type = message_type
    elif message_type.startswith("device_"):
        event_type = f"device_{event_type}"
    if event_type == "subscribe" and fields.get("EventKey"):
        event_key = fields["EventKey"]
        if event_key.startswith(("scanbarcode|", "scanimage|")):
            event_type = fields["Event"] = "subscribe_scan_product"
        elif event_key.startswith("qrscene_"):
            event_type = fields["Event"] = "subscribe_scan"
            fields["EventKey"] = event_key[len("qrscene_"):]
    return EVENT_TYPES.get(event_type, UnknownMessage)(fields)


def take_next(session: Session) -> InboundMessage | None:
    """Lock the oldest unhandled message whose sender has no earlier one still waiting."""
    taken = take_group(session, 1)
    return taken[0] if taken else None


def take_group(session: Session, size: int) -> list[InboundMessage]:
    """Lock up to `size` of the oldest unhandled messages whose senders have no earlier one still
    waiting, in one statement: at most one per sender, oldest first.

    On PostgreSQL the row lock is taken with SKIP LOCKED, so several workers share the queue;
    a message locked by one worker also holds back its sender's later messages, which keeps
    each sender's messages in order (the next one is taken with a later group). A worker that
    dies releases its locks with its connection.
    """
    earlier = aliased(InboundMessage)
    # The sender's oldest waiting message, as a subquery the planner runs per candidate (one probe of
    # ix_inbound_messages_unhandled_sender each) while it walks the waiting messages in order and
    # stops at `size`. Written as NOT EXISTS it may be planned as an anti join of every waiting
    # message against every other: with the queue table's statistics from a quiet hour (a few rows
    # waiting), a backlog of 3,000 then took 126 ms a group instead of under 1 ms.
    oldest = (
        select(func.min(earlier.id))
        .where(earlier.openid == InboundMessage.openid, earlier.handled_at.is_(None))
        .scalar_subquery()
    )
    query = (
        select(InboundMessage)
        .where(InboundMessage.handled_at.is_(None), InboundMessage.id == oldest)
        .order_by(InboundMessage.id)
        .limit(size)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=InboundMessage)
    with walking_indexes(session):
        return list(session.scalars(query))


def queue_reply(session: Session, stored: InboundMessage, text: str | None, now: datetime, *,
                wake: bool = False) -> int | None:
    """Queue the reply to a handled message as a customer-service message; its outbox id.

    `wake`: notify the dispatchers, which send it; without, the worker sends it itself after the commit.
    """
    if not text:
        return None
    row = reply_row(stored, text, now)
    return insert_outbox(session, [row], wake=wake).get(row["idempotency_key"])


def reply_row(stored: InboundMessage, text: str, now: datetime) -> dict:
    """The outbox row of the reply to a handled message, a customer-service message.

    The user has just written, so WeChat's customer-service window is open: there is no
    template fallback, and no quiet-hours delay for an answer the user is waiting for.
    """
    return {
        "idempotency_key": push_key(PushKind.ANSWER, stored.id),
        "recipient_openid": stored.openid,
        "recipient_phone": None,
        "recipient_staff_id": None,
        "request_id": stored.request_id,
        "kind": OutboxKind.CUSTOM.value,
        # `reply_to` also tells these rows apart from relayed staff replies (migration 0005).
        "payload": {"text": text, "template": None, "reply_to": stored.id},
        "status": OutboxStatus.PENDING.value,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def count_waiting(session: Session) -> int:
    """How many stored messages still wait for the inbox worker."""
    return session.scalar(select(func.count()).select_from(InboundMessage).where(InboundMessage.handled_at.is_(None)))
