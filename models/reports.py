"""Monthly reports (月报) as made: the spreadsheet and the PDF of one month, for a city or one town."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, LargeBinary, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, UTCDateTime
from models.people import Staff
from models.regions import Region


class MonthlyReport(Base):
    """The report of one month for a city (town_id None) or one of its towns: one row each, remade in place.

    The files are kept in the row itself: they hold aggregates and staff names only (no ID numbers
    or phone numbers), are small (tens to a few hundred KB), and so are made, stored and announced
    in one transaction, and backed up with the database.
    """

    __tablename__ = "monthly_reports"
    __table_args__ = (
        # One report per month for each city, and one per month for each town.
        Index("ix_monthly_reports_city_month", "city_id", "month", unique=True,
              postgresql_where=text("town_id IS NULL"), sqlite_where=text("town_id IS NULL")),
        Index("ix_monthly_reports_town_month", "town_id", "month", unique=True,
              postgresql_where=text("town_id IS NOT NULL"), sqlite_where=text("town_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The first day of the month the report covers.
    month: Mapped[date] = mapped_column(Date)
    # The city covered (a town's report: the town's city); None only for a report made before the
    # deployment kept one per city, when it served several: that one is the province's alone.
    city_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"))
    town_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"))
    # The last day the figures cover: the month's last day, or the day it was made while the month ran.
    period_end: Mapped[date] = mapped_column(Date)
    # Made after the month ended: its figures will not change any more.
    complete: Mapped[bool] = mapped_column(Boolean)
    made_at: Mapped[datetime] = mapped_column(UTCDateTime())
    made_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    # Who made it when no member of staff did: `cli` or `scheduler`.
    made_by_label: Mapped[str | None] = mapped_column(String(64))
    xlsx_size: Mapped[int] = mapped_column(Integer)
    pdf_size: Mapped[int] = mapped_column(Integer)
    # Loaded only when a file is downloaded, never with the list.
    xlsx: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    pdf: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)

    city: Mapped[Region | None] = relationship(foreign_keys=[city_id])
    town: Mapped[Region | None] = relationship(foreign_keys=[town_id])
    made_by: Mapped[Staff | None] = relationship()

    def __repr__(self) -> str:
        return f"<MonthlyReport {self.id} {self.month:%Y-%m} city={self.city_id} town={self.town_id}>"
