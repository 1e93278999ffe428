"""Care service phone cards (关爱服务电话卡) and the parametric QR codes printed on them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime


class CareCard(Base):
    """A printed card: which assistant it shows and the QR that binds a family member."""

    __tablename__ = "care_cards"
    __table_args__ = (Index("ix_care_cards_beneficiary_outdated", "beneficiary_id", "outdated_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    beneficiary_id: Mapped[int] = mapped_column(ForeignKey("beneficiaries.id"))
    assistant_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    # The QR scene (`bind:{code}`) and what WeChat returned for it, cached until expiry.
    qr_scene: Mapped[str] = mapped_column(String(64))
    qr_ticket: Mapped[str | None] = mapped_column(String(255))
    qr_url: Mapped[str | None] = mapped_column(String(255))
    qr_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    printed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Set when the assistant changes: the card on the wall shows the wrong person.
    outdated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
