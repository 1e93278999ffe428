"""Plain factory functions for test data: `make_x(session, **overrides)`."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime

from models import Beneficiary, Region, Staff, Visit, WeChatUser
from models.enums import BeneficiaryCategory, RegionLevel, StaffRole
from services import roster
from services.pii import PiiCipher

_seq = itertools.count(1)
PII = PiiCipher("test-pii-key-0000000000000000000000000")


def make_region(session, level: RegionLevel, parent: Region | None, now: datetime, **overrides) -> Region:
    """A region with a unique code."""
    n = next(_seq)
    fields = {"code": f"R{n:05d}", "name": f"{level.value}{n}", "office_phone": "0716-0000000", **overrides}
    return roster.create_region(session, level=level, parent=parent, now=now, **fields)


def make_staff(session, role: StaffRole, region: Region, now: datetime, *, openid: str | None = None, **overrides) -> Staff:
    """A member of staff; with `openid`, already bound to that WeChat user."""
    n = next(_seq)
    fields = {"staff_no": f"S{n:05d}", "name": f"员工{n}", "phone": f"1380000{n:04d}", **overrides}
    staff = roster.create_staff(session, role=role, region=region, now=now, **fields)
    if openid:
        staff.wechat_user = make_wechat_user(session, openid, now)
    session.flush()
    return staff


def make_wechat_user(session, openid: str, now: datetime, **overrides) -> WeChatUser:
    """A follower of the account."""
    user = WeChatUser(openid=openid, subscribed=True, subscribed_at=now, created_at=now, **overrides)
    session.add(user)
    session.flush()
    return user


def make_beneficiary(session, village: Region, now: datetime, *, assistant: Staff | None = None, **overrides) -> Beneficiary:
    """A beneficiary in the village, assigned to `assistant` when given."""
    n = next(_seq)
    fields = {"name": f"对象{n}", "categories": [BeneficiaryCategory.LIUSHOU_ELDERLY], "phone": f"1390000{n:04d}", **overrides}
    person = roster.create_beneficiary(session, PII, village=village, now=now, **fields)
    session.flush()
    if assistant is not None:
        roster.assign_assistant(session, person, assistant, now)
    return person


@dataclass
class Town:
    """A small world: city > town > two villages, with staff bound to WeChat."""

    city: Region
    town: Region
    village: Region
    other_village: Region
    assistant: Staff
    other_assistant: Staff
    officer: Staff
    supervisor: Staff


def make_town(session, now: datetime) -> Town:
    """City, town, two villages; one assistant each, a town officer and a supervisor, all bound."""
    city = make_region(session, RegionLevel.CITY, None, now, name="示范市")
    town = make_region(session, RegionLevel.TOWN, city, now, name="柳河镇", office_phone="0716-1234101")
    village = make_region(session, RegionLevel.VILLAGE, town, now, name="东湾村")
    other = make_region(session, RegionLevel.VILLAGE, town, now, name="南岭村")
    world = Town(
        city=city, town=town, village=village, other_village=other,
        assistant=make_staff(session, StaffRole.ASSISTANT, village, now, openid="o-assistant", name="王芳"),
        other_assistant=make_staff(session, StaffRole.ASSISTANT, other, now, openid="o-assistant-2", name="李强"),
        officer=make_staff(session, StaffRole.TOWN_OFFICER, town, now, openid="o-officer", name="赵敏"),
        supervisor=make_staff(session, StaffRole.CITY_SUPERVISOR, city, now, openid="o-supervisor", name="周杰"),
    )
    session.commit()
    return world


def fresh(session) -> None:
    """See what other sessions committed: end this session's snapshot and forget loaded state."""
    session.rollback()
    session.expire_all()


def make_visit(session, beneficiary, staff, at: datetime, **checks) -> Visit:
    """A visit recorded directly, keeping the beneficiary's latest-visit time as the service does."""
    visit = Visit(beneficiary_id=beneficiary.id, staff_id=staff.id, visited_at=at, created_at=at, **checks)
    session.add(visit)
    person = session.get(Beneficiary, beneficiary.id)
    if person.last_visited_at is None or person.last_visited_at < at:
        person.last_visited_at = at
    return visit
