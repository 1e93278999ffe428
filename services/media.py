"""Media items: queued when a message carrying media joins a case, claimed by the media job, their
outcomes recorded, dead letters listed and retried, and deleted after retention.

These functions never commit and never call WeChat, the store or ffmpeg: the media job
(`runtime.media_jobs`) runs them in short transactions around that work, as the outbox does.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from config import policy
from models import InboundMessage, MediaItem, ServiceRequest
from models.db import insert_ignoring_conflicts
from models.enums import OPEN_STATUSES, MediaKind, MediaStatus, PushKind, TranscriptStatus
from services import texts
from services.notify import Push, enqueue, push_key
from services.policy.push import backoff_seconds

# Kinds sent on to staff as themselves after the task push (WeChat's customer-service voice and
# image messages); a video goes only by the case page.
FORWARDED_KINDS = {MediaKind.VOICE.value: "voice", MediaKind.IMAGE.value: "image"}


@dataclass(frozen=True)
class Claimed:
    """A claimed media item, detached from any session: what the fetch needs."""

    id: int
    wechat_media_id: str
    kind: str
    wechat_format: str | None
    attempts: int
    transcript_status: str | None


@dataclass(frozen=True)
class Stored:
    """What the fetch kept: the original, and for voice the playable copy."""

    content_type: str
    size_bytes: int
    sha256: str
    store_key: str
    playable_key: str | None = None
    playable_type: str | None = None
    duration_ms: int | None = None


def media_kind(inbound: InboundMessage) -> MediaKind | None:
    """The kind of media a message carries, or None when it carries none."""
    try:
        kind = MediaKind(inbound.msg_type)
    except ValueError:
        return None
    return kind if (inbound.payload or {}).get("MediaId") else None


def queue_for_message(session: Session, inbound: InboundMessage, request: ServiceRequest, now: datetime, *,
                      asr_on: bool) -> MediaItem | None:
    """Queue the media of a message for fetching, once per WeChat MediaId; None when it carries none."""
    kind = media_kind(inbound)
    if kind is None:
        return None
    payload = inbound.payload or {}
    transcript_status = None
    recognition = (payload.get("Recognition") or "").strip()
    if kind is MediaKind.VOICE:
        transcript_status = (TranscriptStatus.GIVEN if recognition else
                             TranscriptStatus.PENDING if asr_on else TranscriptStatus.OFF).value
    session.execute(
        insert_ignoring_conflicts(session, MediaItem).values(
            wechat_media_id=str(payload["MediaId"])[:128],
            inbound_message_id=inbound.id,
            request_id=request.id,
            kind=kind.value,
            wechat_format=(payload.get("Format") or None) if kind is MediaKind.VOICE else None,
            status=MediaStatus.PENDING.value,
            attempts=0,
            next_attempt_at=now,
            transcript=recognition or None,
            transcript_status=transcript_status,
            transcript_attempts=0,
            created_at=now,
        )
    )
    return session.scalars(select(MediaItem).where(MediaItem.wechat_media_id == str(payload["MediaId"])[:128])).one()


def claim_due(session: Session, now: datetime, limit: int) -> list[Claimed]:
    """Claim up to `limit` items to fetch (and items whose claim lapsed), in one atomic statement."""
    due = or_(
        and_(MediaItem.status == MediaStatus.PENDING.value, MediaItem.next_attempt_at <= now),
        and_(MediaItem.status == MediaStatus.FETCHING.value, MediaItem.claimed_until < now),
    )
    pick = select(MediaItem.id).where(due).order_by(MediaItem.next_attempt_at, MediaItem.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    rows = session.execute(
        update(MediaItem)
        .where(MediaItem.id.in_(pick))
        .values(status=MediaStatus.FETCHING.value, attempts=MediaItem.attempts + 1,
                claimed_until=now + timedelta(seconds=policy.MEDIA_CLAIM_SECONDS))
        .returning(MediaItem.id, MediaItem.wechat_media_id, MediaItem.kind, MediaItem.wechat_format,
                   MediaItem.attempts, MediaItem.transcript_status)
    ).all()
    return sorted((Claimed(*row) for row in rows), key=lambda c: c.id)


def accounts_of(session: Session, rows: list[Claimed]) -> dict[int, int]:
    """Item id -> the official account its message came through, for items not from the default account.

    A media_id is the account's own: only that account's access token fetches it.
    """
    if not rows:
        return {}
    return dict(session.execute(
        select(MediaItem.id, InboundMessage.account_id)
        .join(InboundMessage, InboundMessage.id == MediaItem.inbound_message_id)
        .where(MediaItem.id.in_([row.id for row in rows]), InboundMessage.account_id.is_not(None))
    ).all())


def _still_ours(row: Claimed):
    # Only the claimant records an outcome: a row taken over after a lapsed claim is not ours.
    return and_(MediaItem.id == row.id, MediaItem.status == MediaStatus.FETCHING.value,
                MediaItem.attempts == row.attempts)


def record_stored(session: Session, row: Claimed, stored: Stored, now: datetime, *, tz) -> bool:
    """Record a kept item and send it on to whoever has its case; False when the claim was lost."""
    done = session.execute(
        update(MediaItem).where(_still_ours(row)).values(
            status=MediaStatus.STORED.value, claimed_until=None, last_error=None, fetched_at=now,
            content_type=stored.content_type, size_bytes=stored.size_bytes, sha256=stored.sha256,
            store_key=stored.store_key, playable_key=stored.playable_key, playable_type=stored.playable_type,
            duration_ms=stored.duration_ms,
            transcript_next_at=now,
        )
    ).rowcount == 1
    if done:
        forward_to_assignee(session, session.get(MediaItem, row.id), now, tz=tz)
    return done


def forward_to_assignee(session: Session, item: MediaItem, now: datetime, *, tz) -> bool:
    """Queue the voice or photo itself to the case's assignee (after their task push); once per person."""
    request = session.get(ServiceRequest, item.request_id) if item.request_id else None
    media_type = FORWARDED_KINDS.get(item.kind)
    if request is None or request.assignee is None or media_type is None:
        return False
    if request.status not in {s.value for s in OPEN_STATUSES}:
        return False
    staff = request.assignee
    push = Push(
        key=push_key(PushKind.MEDIA, item.id, staff.id),
        text=texts.PUSH_MEDIA.format(number=request.id, what=texts.MEDIA_NAMES[item.kind]),
        template_id="",
        fields={},
        media={"item": item.id, "type": media_type},
    )
    return enqueue(session, push, staff.wechat_user, now, tz=tz, request=request, staff=staff)


def record_failure(session: Session, row: Claimed, error: str, now: datetime, rng: random.Random, *,
                   permanent: bool = False) -> str:
    """Record a failed fetch: retry later with backoff, or dead-letter it. Returns the new status.

    WeChat's 40007 (invalid media_id) is retried too: it is also what WeChat answers for a while
    right after a message arrives, before its media can be fetched.
    """
    dead = permanent or row.attempts >= policy.MEDIA_MAX_ATTEMPTS
    delay = backoff_seconds(row.attempts, rng, base=policy.MEDIA_BACKOFF_BASE_SECONDS,
                            cap=policy.MEDIA_BACKOFF_CAP_SECONDS)
    session.execute(
        update(MediaItem).where(_still_ours(row)).values(
            status=MediaStatus.DEAD.value if dead else MediaStatus.PENDING.value,
            claimed_until=None,
            last_error=error[:300],
            next_attempt_at=now if dead else now + timedelta(seconds=delay),
        )
    )
    return MediaStatus.DEAD.value if dead else MediaStatus.PENDING.value


def failed(session: Session, limit: int = 200) -> list[MediaItem]:
    """Dead letters, newest first."""
    return list(session.scalars(
        select(MediaItem).where(MediaItem.status == MediaStatus.DEAD.value).order_by(MediaItem.id.desc()).limit(limit)
    ))


def requeue(session: Session, item_id: int, now: datetime) -> bool:
    """Put a dead letter back in the queue; False when it is not dead."""
    return session.execute(
        update(MediaItem)
        .where(MediaItem.id == item_id, MediaItem.status == MediaStatus.DEAD.value)
        .values(status=MediaStatus.PENDING.value, attempts=0, next_attempt_at=now, last_error=None)
    ).rowcount == 1


# --- speech recognition ---------------------------------------------------------------------------


def due_transcripts(session: Session, now: datetime, limit: int) -> list[MediaItem]:
    """Stored voice still waiting for the speech recogniser whose next try is due."""
    return list(session.scalars(
        select(MediaItem)
        .where(MediaItem.transcript_status == TranscriptStatus.PENDING.value,
               MediaItem.status == MediaStatus.STORED.value,
               MediaItem.transcript_next_at <= now)
        .order_by(MediaItem.transcript_next_at, MediaItem.id)
        .limit(limit)
    ))


def record_transcript_failure(session: Session, item: MediaItem, now: datetime) -> str:
    """The recogniser failed: try again a minute later, or give up after a day (staff listen)."""
    item.transcript_attempts = (item.transcript_attempts or 0) + 1
    if item.transcript_attempts >= policy.TRANSCRIPT_MAX_ATTEMPTS:
        item.transcript_status = TranscriptStatus.FAILED.value
    else:
        item.transcript_next_at = now + timedelta(seconds=policy.TRANSCRIPT_RETRY_SECONDS)
    return item.transcript_status


# --- retention and viewing ------------------------------------------------------------------------


def past_retention(session: Session, now: datetime, days: int, limit: int = 500) -> list[MediaItem]:
    """Kept media whose case closed (resolved, closed or cancelled) more than `days` ago."""
    cutoff = now - timedelta(days=days)
    ended = ServiceRequest.status.not_in([s.value for s in OPEN_STATUSES])
    finished = func.coalesce(ServiceRequest.closed_at, ServiceRequest.resolved_at, ServiceRequest.cancelled_at) < cutoff
    return list(session.scalars(
        select(MediaItem)
        .join(ServiceRequest, ServiceRequest.id == MediaItem.request_id)
        .where(MediaItem.status.in_([MediaStatus.STORED.value, MediaStatus.DEAD.value]), ended, finished)
        .order_by(MediaItem.id)
        .limit(limit)
    ))


def mark_deleted(item: MediaItem, now: datetime) -> None:
    """Forget where an item was kept and its words: the files are gone."""
    item.status = MediaStatus.DELETED.value
    item.deleted_at = now
    item.store_key = item.playable_key = None
    item.transcript = None
    item.wechat_upload_id = None


def for_request(session: Session, request_id: int) -> list[MediaItem]:
    """A case's media, oldest first."""
    return list(session.scalars(select(MediaItem).where(MediaItem.request_id == request_id).order_by(MediaItem.id)))
