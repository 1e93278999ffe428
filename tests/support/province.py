"""A deployment of two cities under one province: each city with a town, a village, its staff
(all able to sign in) and one beneficiary with an open request; and the province administrator."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from models import Beneficiary, Region, ServiceRequest, Staff
from models.enums import RegionLevel, RequestCategory, StaffRole, Urgency
from services import accounts
from services import requests as service
from services.policy.classify import Classification
from tests.support.factories import make_beneficiary, make_region, make_staff
from tests.support.office import PASSWORD


@dataclass
class City:
    """One city of the province, its staff, its beneficiary and that person's open request."""

    city: Region
    town: Region
    village: Region
    assistant: Staff
    officer: Staff
    supervisor: Staff
    admin: Staff
    person: Beneficiary
    case: ServiceRequest


@dataclass
class Province:
    """The province row, its administrator, and cities A and B."""

    province: Region
    admin: Staff
    a: City
    b: City


def _city(session, env, province: Region, key: str, names: tuple[str, str, str, str], now: datetime) -> City:
    """A city under the province with one town, one village and its staff; `names` are the city's,
    the town's, the village's and the beneficiary's."""
    city_name, town_name, village_name, person_name = names
    city = make_region(session, RegionLevel.CITY, province, now, name=city_name)
    town = make_region(session, RegionLevel.TOWN, city, now, name=town_name)
    village = make_region(session, RegionLevel.VILLAGE, town, now, name=village_name)
    assistant = make_staff(session, StaffRole.ASSISTANT, village, now, openid=f"o-{key}-assistant")
    staff = {
        "officer": make_staff(session, StaffRole.TOWN_OFFICER, town, now, openid=f"o-{key}-officer"),
        "supervisor": make_staff(session, StaffRole.CITY_SUPERVISOR, city, now, openid=f"o-{key}-supervisor"),
        "admin": make_staff(session, StaffRole.ADMIN, city, now, openid=f"o-{key}-admin"),
    }
    person = make_beneficiary(session, village, now, assistant=assistant, name=person_name)
    case = service.open_request(session, env, beneficiary=person, summary="腿疼", now=now,
                                classification=Classification(RequestCategory.MEDICAL, Urgency.URGENT))
    return City(city, town, village, assistant, staff["officer"], staff["supervisor"], staff["admin"], person, case)


def make_province(session, env, now: datetime) -> Province:
    """The province, cities A (东城市) and B (西城市), everyone's password set; committed."""
    province = make_region(session, RegionLevel.PROVINCE, None, now, name="示范省")
    admin = make_staff(session, StaffRole.PROVINCE_ADMIN, province, now, openid="o-province-admin")
    a = _city(session, env, province, "a", ("东城市", "东河镇", "东湾村", "甲大爷"), now)
    b = _city(session, env, province, "b", ("西城市", "西山镇", "西岭村", "乙奶奶"), now)
    for member in (admin, a.assistant, a.officer, a.supervisor, a.admin, b.assistant, b.officer, b.supervisor,
                   b.admin):
        accounts.set_password(member, PASSWORD, now)
    session.commit()
    return Province(province, admin, a, b)
