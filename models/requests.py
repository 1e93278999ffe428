"""Service requests (cases) and their timeline of events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, SmallInteger, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, JSONType, UTCDateTime, one_of
from models.enums import (
    ActorKind,
    EventKind,
    RequestCategory,
    RequestChannel,
    RequestSource,
    RequestStatus,
    Urgency,
)
from models.people import Beneficiary, Staff, WeChatUser


class ServiceRequest(Base):
    """One request for help, tracked from the first message until it is closed."""

    __tablename__ = "service_requests"
    __table_args__ = (
        one_of("category", [c.value for c in RequestCategory]),
        one_of("urgency", [u.value for u in Urgency]),
        one_of("status", [s.value for s in RequestStatus]),
        one_of("source", [s.value for s in RequestSource]),
        one_of("channel", [c.value for c in RequestChannel]),
        CheckConstraint("rating IS NULL OR (rating BETWEEN 1 AND 5)", name="rating_range"),
        # The escalation scan: open cases by when their next step falls due.
        Index("ix_service_requests_status_next_escalation", "status", "next_escalation_at"),
        Index("ix_service_requests_assignee_status", "assignee_staff_id", "status"),
        Index("ix_service_requests_beneficiary_status", "beneficiary_id", "status"),
        Index("ix_service_requests_town_status", "town_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    beneficiary_id: Mapped[int] = mapped_column(ForeignKey("beneficiaries.id"))
    # Where the beneficiary lived when the request was raised: boards and digests filter by these,
    # and a later move does not shift old cases to another town's figures.
    village_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    town_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    source: Mapped[str] = mapped_column(String(16), default=RequestSource.WECHAT.value)
    # How it reached us: WeChat, or by phone, a home visit, a walk-in … through staff (RequestChannel).
    channel: Mapped[str] = mapped_column(String(16), default=RequestChannel.WECHAT.value,
                                         server_default=RequestChannel.WECHAT.value)
    raised_by_wechat_user_id: Mapped[int | None] = mapped_column(ForeignKey("wechat_users.id"))
    raised_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"))
    category: Mapped[str] = mapped_column(String(16))
    urgency: Mapped[str] = mapped_column(String(16), default=Urgency.NORMAL.value)
    # Why the case is urgent when nobody has read its words yet: "unheard" for a voice message
    # without a transcript (policy.UNHEARD_VOICE_URGENCY); None when the urgency came from words.
    urgency_reason: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=RequestStatus.OPEN.value)
    summary: Mapped[str] = mapped_column(Text, default="")
    assignee_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    escalation_level: Mapped[int] = mapped_column(SmallInteger, default=0)
    # How many times the rung at `escalation_level` has been repeated (an urgent case nobody accepts).
    escalation_repeats: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    # When the next rung of the escalation ladder is due (None: nothing left to do).
    next_escalation_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    accept_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolve_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolution_note: Mapped[str | None] = mapped_column(Text)
    rating: Mapped[int | None] = mapped_column(SmallInteger)
    rating_comment: Mapped[str | None] = mapped_column(Text)

    beneficiary: Mapped[Beneficiary] = relationship()
    assignee: Mapped[Staff | None] = relationship(foreign_keys=[assignee_staff_id])
    raised_by_wechat_user: Mapped[WeChatUser | None] = relationship()
    events: Mapped[list[RequestEvent]] = relationship(
        back_populates="request", order_by="RequestEvent.id"
    )

    def __repr__(self) -> str:
        return f"<ServiceRequest {self.id} {self.status}>"


class RequestEvent(Base):
    """One entry of a request's timeline: a state change, message, push, escalation or comment."""

    __tablename__ = "request_events"
    __table_args__ = (
        one_of("kind", [k.value for k in EventKind]),
        one_of("actor_kind", [a.value for a in ActorKind]),
        Index("ix_request_events_request_created", "request_id", "created_at"),
        # Archiving keeps a message while an entry still here names it: one probe per message.
        Index(
            "ix_request_events_inbound_message_id",
            "inbound_message_id",
            postgresql_where=text("inbound_message_id IS NOT NULL"),
            sqlite_where=text("inbound_message_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id"))
    kind: Mapped[str] = mapped_column(String(16))
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    actor_wechat_user_id: Mapped[int | None] = mapped_column(ForeignKey("wechat_users.id"))
    inbound_message_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"))
    body: Mapped[str | None] = mapped_column(Text)
    # Kind-specific details: media ids, location, old/new assignee, escalation level …
    data: Mapped[dict | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    request: Mapped[ServiceRequest] = relationship(back_populates="events")
