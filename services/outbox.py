"""The outbox: claim due pushes safely, decide how each goes, and record the outcomes.

These functions never commit; `runtime.dispatch.dispatch_outbox` runs them in short transactions
so that nothing is sent while a database transaction is open.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Integer, String, and_, bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from wechatpy.exceptions import WeChatClientException

from config import policy
from models import OutboxMessage, WeChatUser
from models.enums import OutboxKind, OutboxStatus
from services.policy.push import (
    CUSTOM_FALLBACK_ERRORS,
    PERMANENT_ERRORS,
    backoff_seconds,
    client_msg_id,
    custom_window_open,
)
from services.retention import EMPTIED_PAYLOAD


@dataclass(frozen=True)
class Claimed:
    """A claimed row, detached from any session: what the sender needs."""

    id: int
    key: str
    openid: str
    payload: dict
    attempts: int


def claim_due(session: Session, now: datetime, limit: int, only_ids: list[int] | None = None) -> list[Claimed]:
    """Claim up to `limit` due rows (and rows whose claim expired) in one atomic statement.

    `only_ids` limits the claim to those rows, for a reply sent the moment it is queued.
    """
    due = or_(
        and_(OutboxMessage.status == OutboxStatus.PENDING.value, OutboxMessage.next_attempt_at <= now),
        # A dispatcher that died after claiming: take its rows over once the claim lapses.
        and_(OutboxMessage.status == OutboxStatus.SENDING.value, OutboxMessage.claimed_until < now),
    )
    pick = select(OutboxMessage.id).where(due).order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(limit)
    if only_ids is not None:
        pick = pick.where(OutboxMessage.id.in_(only_ids))
    if session.get_bind().dialect.name == "postgresql":
        # Concurrent dispatchers skip each other's rows instead of waiting or double-claiming.
        pick = pick.with_for_update(skip_locked=True)
    # SQLite runs one writer at a time, so the single UPDATE … RETURNING is atomic there too.
    rows = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(pick))
        .values(
            status=OutboxStatus.SENDING.value,
            claimed_until=now + timedelta(seconds=policy.OUTBOX_CLAIM_SECONDS),
            attempts=OutboxMessage.attempts + 1,
        )
        .returning(
            OutboxMessage.id,
            OutboxMessage.idempotency_key,
            OutboxMessage.recipient_openid,
            OutboxMessage.payload,
            OutboxMessage.attempts,
        )
    ).all()
    return sorted((Claimed(*row) for row in rows), key=lambda c: c.id)


@dataclass
class Window:
    """A user's customer-service window: their last message and what we sent since."""

    last_message_at: datetime | None
    sent: int = 0

    def allows(self, now: datetime) -> bool:
        """True when one more customer-service message may go now (48 h, 5 messages)."""
        return custom_window_open(self.last_message_at, self.sent, now)


def custom_windows(session: Session, openids: list[str]) -> dict[str, Window]:
    """The windows of a batch of recipients, in two queries whatever the batch size."""
    last = dict(session.execute(
        select(WeChatUser.openid, WeChatUser.last_message_at).where(WeChatUser.openid.in_(openids))
    ).all())
    windows = {openid: Window(last.get(openid)) for openid in openids}
    open_since = {o: w.last_message_at for o, w in windows.items() if w.last_message_at is not None}
    if open_since:
        rows = session.execute(
            select(OutboxMessage.recipient_openid, OutboxMessage.sent_at)
            .where(
                OutboxMessage.recipient_openid.in_(list(open_since)),
                OutboxMessage.kind == OutboxKind.CUSTOM.value,
                OutboxMessage.status == OutboxStatus.SENT.value,
                OutboxMessage.sent_at >= min(open_since.values()),
            )
        )
        for openid, sent_at in rows:
            if sent_at >= open_since[openid]:
                windows[openid].sent += 1
    return windows



def send(client, row: Claimed, use_custom: bool) -> str:
    """Send one push; a customer-service message falls back to a template. Returns the kind used.

    A reply to a user's message carries no template: it always goes as a customer-service
    message, since the user's message has just opened the window.
    """
    template = row.payload.get("template")
    if use_custom or template is None:
        try:
            client.post(
                "message/custom/send",
                data={"touser": row.openid, "msgtype": "text", "text": {"content": row.payload["text"]}},
            )
            return OutboxKind.CUSTOM.value
        except WeChatClientException as exc:
            if template is None or exc.errcode not in CUSTOM_FALLBACK_ERRORS:
                raise
    body = {
        "touser": row.openid,
        "template_id": template["template_id"],
        "data": template["data"],
        # WeChat drops a repeat of the same id to the same user within 10 minutes.
        "client_msg_id": client_msg_id(row.key),
    }
    if template.get("url"):
        body["url"] = template["url"]
    client.post("message/template/send", data=body)
    return OutboxKind.TEMPLATE.value


def _still_ours(row: Claimed):
    # Only the claimant may record the outcome: a row taken over after a lapsed claim is not ours.
    return and_(
        OutboxMessage.id == row.id,
        OutboxMessage.status == OutboxStatus.SENDING.value,
        OutboxMessage.attempts == row.attempts,
    )


def by_recipient(rows: list[Claimed]) -> list[list[Claimed]]:
    """The rows split per recipient, each list in claim order, lists in order of their first row.

    One sender takes one list and sends it in order, so a user gets their pushes in the order
    they were written, as with a single sender.
    """
    lanes: dict[str, list[Claimed]] = {}
    for row in rows:
        lanes.setdefault(row.openid, []).append(row)
    return list(lanes.values())


def mark_sent(session: Session, sent: list[tuple[Claimed, str]], now: datetime) -> None:
    """Record a group of successful sends (row, kind used) in one statement."""
    if not sent:
        return
    done = {"status": OutboxStatus.SENT.value, "sent_at": now, "claimed_until": None, "last_error": None}
    if session.get_bind().dialect.name == "postgresql":
        # One array per column: the statement's text is the same for every group size, so it is
        # compiled and planned once, not once per size.
        group = func.unnest(
            bindparam("ids", [row.id for row, _ in sent], type_=ARRAY(Integer)),
            bindparam("attempts", [row.attempts for row, _ in sent], type_=ARRAY(Integer)),
            bindparam("kinds", [kind for _, kind in sent], type_=ARRAY(String)),
        ).table_valued("id", "attempts", "kind").render_derived(name="done")
        session.execute(
            update(OutboxMessage)
            .where(
                # Only the claimant may record the outcome, as in `_still_ours`.
                OutboxMessage.id == group.c.id,
                OutboxMessage.status == OutboxStatus.SENDING.value,
                OutboxMessage.attempts == group.c.attempts,
            )
            .values(kind=group.c.kind, **done)
        )
        return
    # SQLite has no arrays: one prepared UPDATE, executed per row.
    table = OutboxMessage.__table__
    session.execute(
        update(table)
        .where(
            table.c.id == bindparam("row_id"),
            table.c.status == OutboxStatus.SENDING.value,
            table.c.attempts == bindparam("row_attempts"),
        )
        .values(kind=bindparam("row_kind"), **done),
        [{"row_id": row.id, "row_attempts": row.attempts, "row_kind": kind} for row, kind in sent],
    )


def mark_failed(session: Session, row: Claimed, errcode: int | None, error: str, now: datetime, rng: random.Random) -> str:
    """Record a failure: retry later with backoff, or dead-letter it. Returns the new status."""
    dead = errcode in PERMANENT_ERRORS or row.attempts >= policy.OUTBOX_MAX_ATTEMPTS
    status = OutboxStatus.DEAD.value if dead else OutboxStatus.PENDING.value
    session.execute(
        update(OutboxMessage)
        .where(_still_ours(row))
        .values(
            status=status,
            claimed_until=None,
            last_error=error[:500],
            next_attempt_at=now if dead else now + timedelta(seconds=backoff_seconds(row.attempts, rng)),
        )
    )
    return status


def requeue(session: Session, row_id: int, now: datetime) -> bool:
    """Put a dead letter back in the queue (after the cause was fixed); False if it is not dead, or
    its contents were purged (services/retention.py) and there is nothing left to send."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id, OutboxMessage.status == OutboxStatus.DEAD.value,
               OutboxMessage.payload != EMPTIED_PAYLOAD)
        .values(status=OutboxStatus.PENDING.value, attempts=0, next_attempt_at=now, last_error=None)
    )
    return result.rowcount == 1
