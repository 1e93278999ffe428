"""How long what people wrote is kept: message payloads and stored replies older than
MESSAGE_RETENTION_DAYS are replaced by a stub; cases, their events and the audit log stay.

- inbound_messages: `payload` becomes `{"purged": true}`, `content` and `reply_xml` NULL, once the
  message was handled (one still waiting is never touched);
- outbox: the `payload` of a sent or dead push becomes `{}`, and an SMS's phone NULL (a pending one is
  still to go).

The work is cut into windows of ids (`WINDOW`), each its own short transaction (the job wrapper
commits each), so a first purge of a year's messages never holds locks for long. A row already
stubbed is skipped, so each run only touches what aged since the last.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from models import InboundMessage, OutboxMessage
from models.enums import OutboxStatus

# What a purged message's payload becomes; a purged push's payload is emptied.
PURGED_PAYLOAD = {"purged": True}
EMPTIED_PAYLOAD: dict = {}
# Ids per transaction: a range scan of the primary key, short enough to never hold locks long.
WINDOW = 2000


@dataclass(frozen=True)
class Purge:
    """One kind of stored text to purge: the table's id, which rows are old enough, and their stub."""

    name: str
    id_column: InstrumentedAttribute
    old_enough: Callable[[datetime], list]
    stub: dict


def _old_messages(cutoff: datetime) -> list:
    """Handled messages received before the cutoff and not yet purged."""
    return [InboundMessage.received_at < cutoff, InboundMessage.handled_at.is_not(None),
            InboundMessage.payload != PURGED_PAYLOAD]


def _old_pushes(cutoff: datetime) -> list:
    """Pushes sent, given up or skipped before the cutoff and not yet emptied."""
    return [OutboxMessage.created_at < cutoff,
            OutboxMessage.status.in_([OutboxStatus.SENT.value, OutboxStatus.DEAD.value, OutboxStatus.SKIPPED.value]),
            OutboxMessage.payload != EMPTIED_PAYLOAD]


PURGES = (
    Purge("inbound", InboundMessage.id, _old_messages,
          {"payload": PURGED_PAYLOAD, "content": None, "reply_xml": None}),
    Purge("outbox", OutboxMessage.id, _old_pushes, {"payload": EMPTIED_PAYLOAD, "recipient_phone": None}),
)


def cutoff_for(now: datetime, days: int) -> datetime:
    """The instant before which stored text is purged."""
    return now - timedelta(days=days)


def id_span(session: Session, purge: Purge, cutoff: datetime) -> tuple[int, int] | None:
    """The lowest and highest id still to purge, or None when nothing is."""
    low, high = session.execute(
        select(func.min(purge.id_column), func.max(purge.id_column)).where(*purge.old_enough(cutoff))
    ).one()
    return None if low is None else (low, high)


def purge_window(session: Session, purge: Purge, cutoff: datetime, first_id: int, last_id: int) -> int:
    """Stub out the rows old enough with ids from `first_id` to `last_id`; how many were changed."""
    table = purge.id_column.class_
    result = session.execute(
        update(table)
        .where(purge.id_column.between(first_id, last_id), *purge.old_enough(cutoff))
        .values(**purge.stub)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0

