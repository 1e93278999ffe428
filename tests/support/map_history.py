"""A small hand-built service map as of 2026-12-01 09:00 Shanghai (the tests' fixed clock): two towns,
four villages, one gap of each kind. The expected sizes and colours are worked out in the tests.

柳河镇 (the factory's town)
  东湾村   王芳: p1 weekly, seen 3 days ago; p2 monthly, seen 40 days ago (overdue).
           p3 weekly, nobody assigned, seen yesterday; p4 weekly, assigned to 钱七, who has left
           (inactive), never seen (overdue).                 → 4 people, 2 without an assistant, 50 %
  南岭村   李强: s1, s2, s3 weekly, all seen 2 days ago.        → 3 people, 100 %; 李强 carries 3
青湖镇
  北塘村   赵六: q1 weekly, seen 10 days ago (overdue); q2 monthly, seen 5 days ago → 2 people, 50 %
  西岭村   孙八: r1 monthly, seen yesterday.                   → 1 person, 100 %
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from models import Region, Staff
from models.enums import BeneficiaryCategory, RegionLevel, StaffRole
from tests.support.factories import Town, make_beneficiary, make_region, make_staff, make_town, make_visit

TZ = ZoneInfo("Asia/Shanghai")
WEEKLY = [BeneficiaryCategory.LIUSHOU_ELDERLY]
MONTHLY = [BeneficiaryCategory.DIBAO]


@dataclass
class MapHistory:
    """Who and where, for the tests to look things up."""

    a: Town
    town_b: Region
    north: Region  # 北塘村
    west: Region  # 西岭村
    officer_b: Staff
    assistant_b: Staff


def build(session, now: datetime) -> MapHistory:
    """The map above, committed; `now` is the tests' clock."""
    registered = datetime(2026, 10, 1, 9, tzinfo=TZ)
    day = timedelta(days=1)
    a = make_town(session, registered)
    town_b = make_region(session, RegionLevel.TOWN, a.city, registered, name="青湖镇")
    north = make_region(session, RegionLevel.VILLAGE, town_b, registered, name="北塘村")
    west = make_region(session, RegionLevel.VILLAGE, town_b, registered, name="西岭村")
    officer_b = make_staff(session, StaffRole.TOWN_OFFICER, town_b, registered, name="吴九")
    assistant_b = make_staff(session, StaffRole.ASSISTANT, north, registered, name="赵六")
    west_assistant = make_staff(session, StaffRole.ASSISTANT, west, registered, name="孙八")
    gone = make_staff(session, StaffRole.ASSISTANT, a.village, registered, name="钱七")

    def person(village, assistant, categories, seen=None):
        someone = make_beneficiary(session, village, registered, assistant=assistant, categories=categories)
        if seen is not None:
            make_visit(session, someone, assistant or a.assistant, now - seen)
        return someone

    person(a.village, a.assistant, WEEKLY, 3 * day)
    person(a.village, a.assistant, MONTHLY, 40 * day)
    person(a.village, None, WEEKLY, day)
    person(a.village, gone, WEEKLY)
    gone.active = False
    for _ in range(3):
        person(a.other_village, a.other_assistant, WEEKLY, 2 * day)
    person(north, assistant_b, WEEKLY, 10 * day)
    person(north, assistant_b, MONTHLY, 5 * day)
    person(west, west_assistant, MONTHLY, day)
    session.commit()
    return MapHistory(a, town_b, north, west, officer_b, assistant_b)
