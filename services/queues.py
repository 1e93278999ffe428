"""How much work waits in each queue, for the operators' metrics: a few counts on indexed columns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from models import InboundMessage, MediaItem, OutboxMessage
from models.enums import MediaStatus, OutboxStatus, TranscriptStatus


@dataclass(frozen=True)
class QueueDepths:
    """What waits at one instant; ages in seconds."""

    inbox_waiting: int
    inbox_oldest_age_seconds: float
    outbox_due: int
    outbox_dead: int
    media_pending: int
    media_dead: int
    speech_pending: int


def _count(session: Session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def depths(session: Session, now: datetime) -> QueueDepths:
    """Count what waits: messages for the inbox worker, due and dead pushes, media and transcripts."""
    unhandled = InboundMessage.handled_at.is_(None)
    oldest = session.scalar(select(func.min(InboundMessage.received_at)).where(unhandled))
    due = or_(
        and_(OutboxMessage.status == OutboxStatus.PENDING.value, OutboxMessage.next_attempt_at <= now),
        # A claim that lapsed (a dispatcher died mid-send) is due again.
        and_(OutboxMessage.status == OutboxStatus.SENDING.value, OutboxMessage.claimed_until < now),
    )
    return QueueDepths(
        inbox_waiting=_count(session, InboundMessage, unhandled),
        inbox_oldest_age_seconds=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
        outbox_due=_count(session, OutboxMessage, due),
        outbox_dead=_count(session, OutboxMessage, OutboxMessage.status == OutboxStatus.DEAD.value),
        media_pending=_count(session, MediaItem,
                             MediaItem.status.in_([MediaStatus.PENDING.value, MediaStatus.FETCHING.value])),
        media_dead=_count(session, MediaItem, MediaItem.status == MediaStatus.DEAD.value),
        speech_pending=_count(session, MediaItem, MediaItem.transcript_status == TranscriptStatus.PENDING.value,
                              MediaItem.status == MediaStatus.STORED.value),
    )
