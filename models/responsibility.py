"""The 包联 responsibility chain: who answers for each village, the city's departments with their
liaisons, and the on-duty rota of city supervisors.

Where nothing is named, `services.responsibility` fills in a deterministic default spread, so a
NULL here means "by default", never "nobody".
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, UTCDateTime
from models.people import Staff
from models.regions import Region

_DEPUTY_DIFFERS = "deputy_staff_id IS NULL OR responsible_staff_id IS NULL OR deputy_staff_id <> responsible_staff_id"


class VillageOfficers(Base):
    """The town officer responsible for a village (包村) and their deputy; NULL: the default spread.

    A small table rather than two columns on `regions`: staff already point at regions
    (`staff.region_id`), and regions pointing back at staff would make a foreign-key cycle, which
    needs constraints added after both tables and breaks emptying or dropping tables in dependency
    order. Only villages get a row, and the much-read regions table does not widen.
    """

    __tablename__ = "village_officers"
    __table_args__ = (CheckConstraint(_DEPUTY_DIFFERS, name="deputy_differs"),)

    village_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), primary_key=True)
    responsible_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    deputy_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    village: Mapped[Region] = relationship()
    responsible: Mapped[Staff | None] = relationship(foreign_keys=[responsible_staff_id])
    deputy: Mapped[Staff | None] = relationship(foreign_keys=[deputy_staff_id])


class Department(Base):
    """A functional department of the city (卫健委, 住建局 …) with its two city liaisons.

    Request categories map to departments by `code` (config/policy.py, CATEGORY_DEPARTMENT).
    A NULL liaison is filled from the city's supervisors by the default spread.
    """

    __tablename__ = "departments"
    __table_args__ = (
        UniqueConstraint("city_id", "code"),
        CheckConstraint(_DEPUTY_DIFFERS, name="deputy_differs"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    city_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(64))
    responsible_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    deputy_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    responsible: Mapped[Staff | None] = relationship(foreign_keys=[responsible_staff_id])
    deputy: Mapped[Staff | None] = relationship(foreign_keys=[deputy_staff_id])

    def __repr__(self) -> str:
        return f"<Department {self.code}>"


class DutyShift(Base):
    """One shift of the city's on-duty rota (值班): a city supervisor, from `starts_at` to `ends_at`
    (stored UTC; a night shift crosses midnight)."""

    __tablename__ = "duty_shifts"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        # "Who is on duty now": the shifts not yet over, few at any moment.
        Index("ix_duty_shifts_ends_at", "ends_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    staff: Mapped[Staff] = relationship()
