"""Media a beneficiary or family member sent (voice, photos, video), kept beyond WeChat's 3 days."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, one_of
from models.enums import MediaKind, MediaStatus, TranscriptStatus


class MediaItem(Base):
    """One voice message, photo or video: fetched from WeChat by a durable job and kept in the media store."""

    __tablename__ = "media_items"
    __table_args__ = (
        one_of("kind", [k.value for k in MediaKind]),
        one_of("status", [s.value for s in MediaStatus]),
        one_of("transcript_status", [s.value for s in TranscriptStatus]),
        # The media job claims due rows by status, then time.
        Index("ix_media_items_status_next_attempt", "status", "next_attempt_at"),
        # Voice still waiting for the speech recogniser; few at any time.
        Index(
            "ix_media_items_transcript_pending",
            "transcript_next_at",
            postgresql_where=text("transcript_status = 'pending'"),
            sqlite_where=text("transcript_status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # WeChat's MediaId: fetched once, whatever retries or redeliveries happen.
    wechat_media_id: Mapped[str] = mapped_column(String(128), unique=True)
    inbound_message_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"), unique=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("service_requests.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    # As WeChat named it for voice (amr, speex); None for other kinds.
    wechat_format: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=MediaStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Set while a job holds the row; an expired claim is taken over.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(300))
    # The original as WeChat gave it, its type read from the bytes.
    content_type: Mapped[str | None] = mapped_column(String(64))
    size_bytes: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64))
    store_key: Mapped[str | None] = mapped_column(String(200))
    # Voice converted for browsers (MP3), kept beside the original.
    playable_key: Mapped[str | None] = mapped_column(String(200))
    playable_type: Mapped[str | None] = mapped_column(String(64))
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    transcript: Mapped[str | None] = mapped_column(Text)
    transcript_status: Mapped[str | None] = mapped_column(String(16))
    transcript_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    transcript_next_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Our own upload to WeChat (media/upload) to send it on to staff; WeChat keeps it 3 days.
    wechat_upload_id: Mapped[str | None] = mapped_column(String(128))
    wechat_uploaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"<MediaItem {self.id} {self.kind} {self.status}>"
