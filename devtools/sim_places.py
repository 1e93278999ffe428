"""The places the simulator's place picker offers (the menu's 发送位置, WeChat's location_select): the
persona's home, their village's committee and the town's health centre, at fixed demo coordinates
near 东湾村, and the menu buttons each tap type stands for."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.menu import MENU
from models import Beneficiary, Region, Staff
from models.enums import RegionLevel

# The demo county has no real map: the first village sits here, the next ones a little north-east.
ORIGIN = (29.8268, 113.4853)
VILLAGE_STEP = (0.012, 0.015)
HOME_OFFSET = (0.0021, -0.0017)
HEALTH_CENTRE_OFFSET = (-0.006, -0.009)
SCALE = 15


@dataclass(frozen=True)
class Place:
    """One place in the picker, as WeChat's picker gives it (latitude, longitude, address, point of interest)."""

    lat: float
    lng: float
    label: str
    poiname: str

    def as_dict(self) -> dict:
        """The place as the page lists it."""
        return {"lat": self.lat, "lng": self.lng, "label": self.label, "poiname": self.poiname}


def buttons(kind: str) -> list[dict]:
    """Every menu button (top-level or sub-button) of one WeChat type."""
    found = []
    for button in MENU["button"]:
        found += [sub for sub in button.get("sub_button", []) if sub.get("type") == kind]
        if button.get("type") == kind:
            found.append(button)
    return found


def places_for(session: Session, openid: str) -> list[Place]:
    """The places a persona may pick: their home first (a family or self persona), then their village's
    committee and the town's health centre. Empty when the demo has no village."""
    person = _beneficiary(session, openid)
    village = person.village if person is not None else _staff_village(session, openid)
    if village is None:
        return []
    town = village.parent
    city = town.parent if town is not None else None
    prefix = "".join(r.name for r in (city, town) if r is not None)
    villages = session.scalars(select(Region.id).where(Region.level == RegionLevel.VILLAGE.value)
                               .order_by(Region.code)).all()
    step = villages.index(village.id) if village.id in villages else 0
    lat, lng = ORIGIN[0] + VILLAGE_STEP[0] * step, ORIGIN[1] + VILLAGE_STEP[1] * step
    committee = f"{village.name}{'居委会' if village.is_community else '村委会'}"
    places = []
    if person is not None:
        home = person.address or village.name
        places.append(Place(_round(lat + HOME_OFFSET[0]), _round(lng + HOME_OFFSET[1]), f"{prefix}{home}", home))
    places.append(Place(_round(lat), _round(lng), f"{prefix}{village.name}", committee))
    if town is not None:
        places.append(Place(_round(ORIGIN[0] + HEALTH_CENTRE_OFFSET[0]), _round(ORIGIN[1] + HEALTH_CENTRE_OFFSET[1]),
                            prefix, f"{town.name}卫生院"))
    return places


def _round(degrees: float) -> float:
    """Six decimals, as WeChat's picker gives coordinates."""
    return round(degrees, 6)


def _persona_id(openid: str, *prefixes: str) -> int | None:
    """The database id in a persona's openid when it has one of these prefixes."""
    for prefix in prefixes:
        rest = openid.removeprefix(prefix)
        if rest != openid and rest.isdigit():
            return int(rest)
    return None


def _beneficiary(session: Session, openid: str) -> Beneficiary | None:
    """The beneficiary a family or self persona stands for."""
    found = _persona_id(openid, "sim-family-", "sim-self-")
    return session.get(Beneficiary, found) if found is not None else None


def _staff_village(session: Session, openid: str) -> Region | None:
    """An assistant persona's own village; anyone else's, the demo's first village."""
    found = _persona_id(openid, "sim-staff-")
    staff = session.get(Staff, found) if found is not None else None
    if staff is not None and staff.region.level == RegionLevel.VILLAGE.value:
        return staff.region
    return session.scalars(select(Region).where(Region.level == RegionLevel.VILLAGE.value)
                           .order_by(Region.code).limit(1)).first()
