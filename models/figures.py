"""Pre-aggregated figures the scheduler keeps up to date: 四查四帮 and 报平安 per local day, village
and responsible assistant (services/daily_figures.py, services/daily_checkin_figures.py), and
requests per calendar week for the trends (services/weekly_figures.py).

Visits and check-ins are the biggest tables; the figures pages, trends and monthly reports sum the
daily rows instead of reading every visit or check-in.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, JSONType, UTCDateTime


class DailyVisitFigures(Base):
    """What one day looked like for the people of one village in one assistant's care."""

    __tablename__ = "daily_visit_figures"
    __table_args__ = (
        Index("ix_daily_visit_figures_day_town", "day", "town_id"),
        # A city's or a town's days: one range per town rather than a pass over every town's days.
        Index("ix_daily_visit_figures_town_day", "town_id", "day"),
        Index("ix_daily_visit_figures_staff_day", "staff_id", "day"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    town_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    village_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    # The assistant the people are assigned to; NULL for people without an active assistant.
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    # Snapshots at the end of the day.
    beneficiaries: Mapped[int] = mapped_column(Integer, default=0)
    overdue: Mapped[int] = mapped_column(Integer, default=0)
    # Plan periods (week, half-month, month) that ended this day, and how many had a visit.
    visits_due: Mapped[int] = mapped_column(Integer, default=0)
    visits_covered: Mapped[int] = mapped_column(Integer, default=0)
    # Visits made this day, the problems they found (四查) and the help they gave (四帮).
    visits_made: Mapped[int] = mapped_column(Integer, default=0)
    food: Mapped[int] = mapped_column(Integer, default=0)
    clothing: Mapped[int] = mapped_column(Integer, default=0)
    housing: Mapped[int] = mapped_column(Integer, default=0)
    medical: Mapped[int] = mapped_column(Integer, default=0)
    helped_daily_care: Mapped[int] = mapped_column(Integer, default=0)
    helped_shopping: Mapped[int] = mapped_column(Integer, default=0)
    helped_contact_family: Mapped[int] = mapped_column(Integer, default=0)
    helped_policy: Mapped[int] = mapped_column(Integer, default=0)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DailyCheckinFigures(Base):
    """What one day of 报平安 looked like for the people of one village in one assistant's care."""

    __tablename__ = "daily_checkin_figures"
    __table_args__ = (
        Index("ix_daily_checkin_figures_day_town", "day", "town_id"),
        Index("ix_daily_checkin_figures_town_day", "town_id", "day"),
        Index("ix_daily_checkin_figures_staff_day", "staff_id", "day"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    town_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    village_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    # The assistant the people are assigned to; NULL for people without an active assistant.
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    # People on a plan, registered by the end of the day (a snapshot).
    on_plan: Mapped[int] = mapped_column(Integer, default=0)
    # Check-ins the plans expected this day, and those met (services/policy/checkin_rate.py).
    expected: Mapped[int] = mapped_column(Integer, default=0)
    received: Mapped[int] = mapped_column(Integer, default=0)
    # Silences that happened here whose family was reminded this day, and those of them that ended
    # before a case was needed. The cases raised are counted with their resolution, from `silences`.
    reminded: Mapped[int] = mapped_column(Integer, default=0)
    ended_by_reminder: Mapped[int] = mapped_column(Integer, default=0)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WeeklyRequestFigures(Base):
    """The requests raised in one calendar week by one town, village or assistant, or the whole city.

    The trends page draws these; the scheduler recomputes the weeks it shows every few minutes, so
    the medians stay exact without reading half a year of requests on every view.
    """

    __tablename__ = "weekly_request_figures"
    __table_args__ = (Index("ix_weekly_request_figures_level_week", "level", "week"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    week: Mapped[date] = mapped_column(Date)  # its Monday
    # "city" (key NULL: every city; else the city's id), "town", "village" or "assistant" (key NULL: nobody assigned).
    level: Mapped[str] = mapped_column(String(16))
    key: Mapped[int | None] = mapped_column(Integer)
    raised: Mapped[int] = mapped_column(Integer, default=0)
    escalated: Mapped[int] = mapped_column(Integer, default=0)  # reached the first rung
    rated: Mapped[int] = mapped_column(Integer, default=0)
    rating_sum: Mapped[int] = mapped_column(Integer, default=0)
    accept_p50_wall: Mapped[float | None] = mapped_column(Float)  # hours
    accept_p50_service: Mapped[float | None] = mapped_column(Float)  # service hours
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ViewSnapshot(Base):
    """A whole province's view of the figures or trends, computed by the scheduler every few minutes.

    Thirty cities' requests of half a year take seconds to tally; the province administrator's
    standard periods (this month, last month, the last 26 weeks) and trends are read from here
    instead (services/province_views.py). Counts, place names and the most loaded assistants' names:
    nothing about any beneficiary. The figures job also keeps here when it last recomputed everything
    (services/figures_refresh.py).
    """

    __tablename__ = "view_snapshots"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    body: Mapped[dict] = mapped_column(JSONType)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())
