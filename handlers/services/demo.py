"""Demo data: a small generated town, deterministic for a given seed. Names are invented."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from handlers.policy import id_number
from handlers.services import roster
from handlers.services.pii import PiiCipher
from models import Beneficiary, Region, Staff
from models.enums import BeneficiaryCategory, RegionLevel, StaffRole

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程魏苏吕丁任沈"
GIVEN = "国建明华秀英兰芳桂珍玉梅德福春生海平军伟强丽敏静红霞志文杰涛洪波斌金凤荣翠云松柏"
STREETS = ["东头组", "西湾组", "大堤组", "新村组", "河坝组", "柳林组", "湖边组"]

# Category mix weights, roughly as in the reference city's caseload.
CATEGORY_WEIGHTS = [
    (BeneficiaryCategory.DIBAO, 46),
    (BeneficiaryCategory.TEKUN, 10),
    (BeneficiaryCategory.LIUSHOU_ELDERLY, 22),
    (BeneficiaryCategory.LIUSHOU_CHILD, 8),
    (BeneficiaryCategory.DISABLED, 12),
    (BeneficiaryCategory.ORPHAN, 2),
]


@dataclass(frozen=True)
class DemoSummary:
    """What a seed run created."""

    regions: int
    staff: int
    beneficiaries: int


class AlreadySeeded(Exception):
    """The database already has regions; seeding again would mix two demos."""


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _phone(rng: random.Random) -> str:
    return "1" + rng.choice("3578") + "".join(str(rng.randrange(10)) for _ in range(9))


def _id_number(rng: random.Random, prefix: str, born: date, seq: int) -> str:
    first17 = f"{prefix}{born:%Y%m%d}{seq % 1000:03d}"
    return first17 + id_number.check_digit(first17)


def _categories(rng: random.Random) -> list[BeneficiaryCategory]:
    names = [c for c, _ in CATEGORY_WEIGHTS]
    weights = [w for _, w in CATEGORY_WEIGHTS]
    chosen = {rng.choices(names, weights)[0]}
    if rng.random() < 0.25:
        chosen.add(rng.choices(names, weights)[0])
    return sorted(chosen)


def seed_small(session: Session, pii: PiiCipher, now: datetime, seed: int = 1) -> DemoSummary:
    """One town, three villages, staff of every role and about sixty beneficiaries."""
    if session.scalar(select(func.count()).select_from(Region)):
        raise AlreadySeeded("数据库里已有区域数据")
    rng = random.Random(seed)
    city = roster.create_region(
        session, code="990000", name="示范市", level=RegionLevel.CITY, parent=None, now=now, office_phone="0716-1234000"
    )
    town = roster.create_region(
        session, code="990101", name="柳河镇", level=RegionLevel.TOWN, parent=city, now=now, office_phone="0716-1234101"
    )
    villages = [
        roster.create_region(
            session, code=f"990101{i:03d}", name=name, level=RegionLevel.VILLAGE, parent=town, now=now,
            is_community=name.endswith("社区"),
        )
        for i, name in enumerate(["东湾村", "南岭村", "新街社区"], start=1)
    ]
    staff_count = 0

    def add_staff(prefix: str, role: StaffRole, region: Region) -> Staff:
        nonlocal staff_count
        staff_count += 1
        return roster.create_staff(
            session, staff_no=f"{prefix}{staff_count:04d}", name=_name(rng), phone=_phone(rng),
            role=role, region=region, now=now,
        )

    add_staff("S", StaffRole.ADMIN, city)
    add_staff("S", StaffRole.CITY_SUPERVISOR, city)
    add_staff("T", StaffRole.TOWN_OFFICER, town)
    add_staff("T", StaffRole.TOWN_OFFICER, town)
    beneficiaries = 0
    for village in villages:
        assistants = [add_staff("A", StaffRole.ASSISTANT, village) for _ in range(3)]
        session.flush()
        for _ in range(20):
            beneficiaries += 1
            cats = _categories(rng)
            child = BeneficiaryCategory.LIUSHOU_CHILD in cats or BeneficiaryCategory.ORPHAN in cats
            age = rng.randint(6, 15) if child else rng.randint(58, 92)
            born = date(now.year - age, rng.randint(1, 12), rng.randint(1, 28))
            person = roster.create_beneficiary(
                session, pii, name=_name(rng), village=village, categories=cats, now=now,
                id_no=_id_number(rng, town.code, born, beneficiaries),
                phone=None if child else _phone(rng),
                address=f"{village.name}{rng.choice(STREETS)}{rng.randint(1, 60)}号",
                bind_code=roster.new_bind_code(rng),
            )
            roster.assign_assistant(session, person, rng.choice(assistants), now - timedelta(days=rng.randint(30, 400)))
    session.flush()
    return DemoSummary(regions=2 + len(villages), staff=staff_count, beneficiaries=beneficiaries)


def counts(session: Session) -> DemoSummary:
    """How many regions, staff and beneficiaries the database holds."""
    return DemoSummary(
        regions=session.scalar(select(func.count()).select_from(Region)),
        staff=session.scalar(select(func.count()).select_from(Staff)),
        beneficiaries=session.scalar(select(func.count()).select_from(Beneficiary)),
    )
