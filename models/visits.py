"""Home visits (四查四帮): the four checks and the help given."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, UTCDateTime, one_of
from models.enums import CheckResult
from models.people import Beneficiary, Staff

CHECK_VALUES = [c.value for c in CheckResult]


class Visit(Base):
    """A home visit: 查 吃/穿/住/医, each fine or a noted problem, and 四帮 help given."""

    __tablename__ = "visits"
    __table_args__ = (
        one_of("food", CHECK_VALUES),
        one_of("clothing", CHECK_VALUES),
        one_of("housing", CHECK_VALUES),
        one_of("medical", CHECK_VALUES),
        # "When was this beneficiary last visited?" drives every visit reminder.
        Index("ix_visits_beneficiary_visited", "beneficiary_id", "visited_at"),
        Index("ix_visits_staff_visited", "staff_id", "visited_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    beneficiary_id: Mapped[int] = mapped_column(ForeignKey("beneficiaries.id"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    visited_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # 四查
    food: Mapped[str] = mapped_column(String(8), default=CheckResult.OK.value)
    food_note: Mapped[str | None] = mapped_column(String(255))
    clothing: Mapped[str] = mapped_column(String(8), default=CheckResult.OK.value)
    clothing_note: Mapped[str | None] = mapped_column(String(255))
    housing: Mapped[str] = mapped_column(String(8), default=CheckResult.OK.value)
    housing_note: Mapped[str | None] = mapped_column(String(255))
    medical: Mapped[str] = mapped_column(String(8), default=CheckResult.OK.value)
    medical_note: Mapped[str | None] = mapped_column(String(255))
    # 四帮
    helped_daily_care: Mapped[bool] = mapped_column(Boolean, default=False)
    helped_shopping: Mapped[bool] = mapped_column(Boolean, default=False)
    helped_contact_family: Mapped[bool] = mapped_column(Boolean, default=False)
    helped_policy: Mapped[bool] = mapped_column(Boolean, default=False)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    beneficiary: Mapped[Beneficiary] = relationship()
    staff: Mapped[Staff] = relationship()

    @property
    def has_problem(self) -> bool:
        """True when any of the four checks found a problem."""
        return CheckResult.PROBLEM.value in (self.food, self.clothing, self.housing, self.medical)


class VisitAlert(Base):
    """A visit overdue beyond the slack was reported to the town officers, once per overdue period."""

    __tablename__ = "visit_alerts"
    __table_args__ = (UniqueConstraint("beneficiary_id", "due_on"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    beneficiary_id: Mapped[int] = mapped_column(ForeignKey("beneficiaries.id"))
    # The due date of the missed visit: a new visit starts a new period with a new due date.
    due_on: Mapped[date] = mapped_column(Date)
    alerted_at: Mapped[datetime] = mapped_column(UTCDateTime())
