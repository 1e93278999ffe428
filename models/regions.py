"""Regions: the province (when there are several cities), cities, towns, villages and communities."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, UTCDateTime, one_of
from models.enums import RegionLevel


class Region(Base):
    """One node of the service map (province > city > town > village/community)."""

    __tablename__ = "regions"
    __table_args__ = (one_of("level", [lv.value for lv in RegionLevel]),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The administrative division code (行政区划代码), unique across the deployment.
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(16), index=True)
    # Villages are 村; communities (社区) are urban village-level units.
    is_community: Mapped[bool] = mapped_column(Boolean, default=False)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    # The office phone printed on care cards (the town's 民政办, for example).
    office_phone: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    parent: Mapped[Region | None] = relationship(back_populates="children", remote_side=[id])
    children: Mapped[list[Region]] = relationship(back_populates="parent")

    def __repr__(self) -> str:
        return f"<Region {self.code} {self.level}>"
