"""What comes in from WeChat and what goes out to it: inbound messages and the outbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, JSONType, UTCDateTime, one_of
from models.enums import OutboxKind, OutboxStatus


class InboundMessage(Base):
    """Every message and event WeChat delivered, stored once per WeChat dedupe key."""

    __tablename__ = "inbound_messages"
    __table_args__ = (
        # Administrators list the messages whose handling failed; they are few.
        Index(
            "ix_inbound_messages_failed",
            "received_at",
            postgresql_where=text("handling_error IS NOT NULL"),
            sqlite_where=text("handling_error IS NOT NULL"),
        ),
        # The inbox worker takes unhandled messages oldest first, and never ahead of an earlier
        # one from the same sender; both indexes hold only the few messages still waiting.
        Index(
            "ix_inbound_messages_unhandled",
            "id",
            postgresql_where=text("handled_at IS NULL"),
            sqlite_where=text("handled_at IS NULL"),
        ),
        Index(
            "ix_inbound_messages_unhandled_sender",
            "openid",
            "id",
            postgresql_where=text("handled_at IS NULL"),
            sqlite_where=text("handled_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # `msg:{MsgId}` for messages, `evt:{FromUserName}:{CreateTime}:{Event}` for events.
    # Unique: the database is the source of truth for "handled once".
    dedupe_key: Mapped[str] = mapped_column(String(160), unique=True)
    # Not indexed on its own: every insert is on the webhook's path, and lookups by sender
    # only concern waiting messages (the partial index below).
    openid: Mapped[str] = mapped_column(String(64))
    msg_type: Mapped[str] = mapped_column(String(32))
    event: Mapped[str | None] = mapped_column(String(48))
    msg_id: Mapped[int | None] = mapped_column(BigInteger)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    content: Mapped[str | None] = mapped_column(Text)
    # The parsed message as WeChat sent it (media ids, location, event key …).
    payload: Mapped[dict] = mapped_column(JSONType)
    # The passive reply, kept so a retried delivery gets exactly the same answer.
    reply_xml: Mapped[str | None] = mapped_column(Text)
    # Set when handling failed and the message was kept with an apology instead of lost.
    handling_error: Mapped[str | None] = mapped_column(String(120))
    # Set once the router has handled the message; NULL while it waits for the inbox worker.
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    request_id: Mapped[int | None] = mapped_column(ForeignKey("service_requests.id"))
    # The official account it came through (`/wechat/<slug>`); NULL for the default account at `/wechat`.
    account_id: Mapped[int | None] = mapped_column(ForeignKey("wechat_accounts.id"))


class OutboxMessage(Base):
    """A push waiting to be sent to WeChat (or by SMS), written in the same transaction as its cause."""

    __tablename__ = "outbox"
    __table_args__ = (
        one_of("kind", [k.value for k in OutboxKind]),
        one_of("status", [s.value for s in OutboxStatus]),
        # Rows by status, then time (counts of what waits).
        Index("ix_outbox_status_next_attempt", "status", "next_attempt_at"),
        # The dispatcher claims due rows from these, walking them in order (services.outbox.claim_due).
        Index(
            "ix_outbox_claimable",
            "next_attempt_at",
            "id",
            postgresql_where=text("status IN ('pending', 'sending')"),
            sqlite_where=text("status IN ('pending', 'sending')"),
        ),
        # Counting customer-service messages sent to a user inside WeChat's 48-hour window.
        Index("ix_outbox_recipient_kind_sent", "recipient_openid", "kind", "sent_at"),
        # Our own per-phone rate limits count the SMS sent to a phone lately.
        Index(
            "ix_outbox_phone_sent",
            "recipient_phone",
            "sent_at",
            postgresql_where=text("recipient_phone IS NOT NULL"),
            sqlite_where=text("recipient_phone IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The kind of push, then its ids (`PushKind`): `answer:{inbound}`, `escalate:{request}:{level}:{staff}` …
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    # Empty for an SMS, which goes to `recipient_phone` instead.
    recipient_openid: Mapped[str | None] = mapped_column(String(64))
    # The phone of an SMS (kept as staff and beneficiary phones are); never logged or listed.
    recipient_phone: Mapped[str | None] = mapped_column(String(32))
    recipient_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    request_id: Mapped[int | None] = mapped_column(ForeignKey("service_requests.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Set while a dispatcher holds the row; an expired claim is taken over.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # WeChat's msgid for a template send, to match its TEMPLATESENDJOBFINISH delivery report.
    wechat_msgid: Mapped[int | None] = mapped_column(BigInteger, index=True)
    # The SMS provider's id for a sent message (Aliyun's BizId).
    provider_message_id: Mapped[str | None] = mapped_column(String(64))


class JobRun(Base):
    """One run of a scheduled job for one due instant: what makes catch-up and ticks run once."""

    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("job_id", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[str] = mapped_column(String(64))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default="running")
    detail: Mapped[dict | None] = mapped_column(JSONType)
