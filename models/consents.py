"""What people told us about being contacted: SMS opt-outs (回复TD退订) and subscription-notice choices (订阅通知)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, one_of
from models.enums import NoticeChoice


class SmsOptOut(Base):
    """One phone's latest opt-out or opt-back-in reply, as the SMS provider reported it.

    Only the decision is kept, never the reply's words. One row per phone: the provider retries a
    push, and a reply older than the one recorded changes nothing.
    """

    __tablename__ = "sms_opt_outs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Stored as staff.phone and beneficiaries.phone are (13800000000); never logged or listed.
    phone: Mapped[str] = mapped_column(String(32), unique=True)
    # True after TD / T / 退订 / N; False after 订阅 / 恢复 (the phone gets messages again).
    opted_out: Mapped[bool] = mapped_column(Boolean)
    # When the person replied (the provider's send_time), which orders replies that arrive out of turn.
    replied_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class NoticeConsent(Base):
    """A WeChat user's latest choice for one subscription-notice template (subscribe_msg_popup_event /
    subscribe_msg_change_event)."""

    __tablename__ = "notice_consents"
    __table_args__ = (
        UniqueConstraint("wechat_user_id", "template_id"),
        one_of("choice", [c.value for c in NoticeChoice]),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    wechat_user_id: Mapped[int] = mapped_column(ForeignKey("wechat_users.id"))
    # The subscription template's id (WECHAT_SUBSCRIBE_TEMPLATES), as the event names it.
    template_id: Mapped[str] = mapped_column(String(128))
    choice: Mapped[str] = mapped_column(String(8))
    # The event's CreateTime: an older event arriving late changes nothing.
    chosen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
