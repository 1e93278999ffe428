"""报平安: the check-ins people send, and the silences noticed when someone on a plan sends none."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, UTCDateTime, one_of
from models.enums import CheckinPlan, CheckinSource, ContactKind
from models.people import Beneficiary, Staff, WeChatUser
from models.requests import ServiceRequest


class Checkin(Base):
    """One "I am fine today" for a beneficiary, from them, a family member, or staff who heard from them."""

    __tablename__ = "checkins"
    __table_args__ = (
        one_of("source", [s.value for s in CheckinSource]),
        Index("ix_checkins_beneficiary_checked", "beneficiary_id", "checked_at"),
        # The check-in rate of a village or town over a period.
        Index("ix_checkins_village_checked", "village_id", "checked_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    beneficiary_id: Mapped[int] = mapped_column(ForeignKey("beneficiaries.id"))
    # Where the beneficiary lived at the time, for the figures (as on service_requests).
    village_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    source: Mapped[str] = mapped_column(String(8))
    wechat_user_id: Mapped[int | None] = mapped_column(ForeignKey("wechat_users.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime())

    beneficiary: Mapped[Beneficiary] = relationship()
    wechat_user: Mapped[WeChatUser | None] = relationship()
    staff: Mapped[Staff | None] = relationship()


class Silence(Base):
    """A period (a day, or a week) in which a beneficiary on a plan gave no sign of life by the set hour.

    One row per beneficiary and period: the unique key is what makes the family reminder and the
    assistant's task happen once, whichever scheduler runs the scan, however often.
    """

    __tablename__ = "silences"
    __table_args__ = (
        UniqueConstraint("beneficiary_id", "period_start"),
        one_of("plan", [p.value for p in CheckinPlan if p is not CheckinPlan.OFF]),
        one_of("ended_by", [k.value for k in ContactKind]),
        # The figures and the town digest: silences of a town over a period.
        Index("ix_silences_town_period", "town_id", "period_start"),
        # The 16:00 scan reads the open silences of the period.
        Index("ix_silences_period_raised", "period_start", "raised_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    beneficiary_id: Mapped[int] = mapped_column(ForeignKey("beneficiaries.id"))
    village_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    town_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    plan: Mapped[str] = mapped_column(String(8))
    # The local date the period starts: the day itself (daily), or the week's Monday (weekly).
    period_start: Mapped[date] = mapped_column(Date)
    # When the bound family members were reminded (10:00); None when nobody could be reminded.
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When the assistant was given the 联系 case (16:00), and the case.
    raised_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    request_id: Mapped[int | None] = mapped_column(ForeignKey("service_requests.id"))
    # When a sign of life (ContactKind) ended it: before 16:00 nothing is raised; after, the case says how fast.
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_by: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    beneficiary: Mapped[Beneficiary] = relationship()
    request: Mapped[ServiceRequest | None] = relationship()
