"""Demo data: a small generated town, deterministic for a given seed. Names are invented.

With a `RequestEnv`, the small town also gets seven months of history (`demo_small`): 四查四帮 visits
on each person's plan, about three cases a week accepted, resolved, escalated and rated, and the
cases of the last days in every state, all made through the real visit and request services so they
look exactly like what the running system would have produced. The city-sized demo lives in
`demo_city`; both draw their history's shape from `demo_history`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from devtools import demo_chain, demo_history, demo_small, demo_small_checkins
from models import Beneficiary, Region, Staff
from models.enums import BeneficiaryCategory, RegionLevel, StaffRole
from services import accounts, roster
from services import requests as request_service
from services.pii import PiiCipher
from services.policy import id_number

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
    visits: int = 0
    requests: int = 0


# How far back the small town's history goes, and the simulator's personas (the first people),
# who start with no case so that the README's walk opens new ones.
HISTORY_DAYS = demo_history.HISTORY_DAYS
WALK_PEOPLE = demo_small.WALK_PEOPLE


# The time zone of the small demo's duty rota when no request settings are given.
DEMO_TZ = ZoneInfo("Asia/Shanghai")
# The dashboard password of every staff member in the small demo (development only).
DEMO_PASSWORD = "sanzhida-demo"  # nosec B105  # the demo's, printed by make run; never production


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


def seed_small(
    session: Session,
    pii: PiiCipher,
    now: datetime,
    seed: int = 1,
    env: request_service.RequestEnv | None = None,
    password: str | None = None,
) -> DemoSummary:
    """One town, three villages, staff of every role (four town officers dividing the villages, two
    city liaisons for every department, a week of duty rota) and sixty beneficiaries; with `env`,
    visits and cases too; with `password`, every demo staff member can sign in to the dashboard."""
    if session.scalar(select(func.count()).select_from(Region)):
        raise AlreadySeeded("数据库里已有区域数据")
    rng = random.Random(seed)  # nosec B311  # repeatable demo data, not secrets
    # The office opened well before anyone was assigned, so no record predates its region.
    founded = now - timedelta(days=401)
    city = roster.create_region(
        session, code="990000", name="示范市", level=RegionLevel.CITY, parent=None, now=founded,
        office_phone="0716-1234000",
    )
    town = roster.create_region(
        session, code="990101", name="柳河镇", level=RegionLevel.TOWN, parent=city, now=founded,
        office_phone="0716-1234101",
    )
    villages = [
        roster.create_region(
            session, code=f"990101{i:03d}", name=name, level=RegionLevel.VILLAGE, parent=town, now=founded,
            is_community=name.endswith("社区"),
        )
        for i, name in enumerate(["东湾村", "南岭村", "新街社区"], start=1)
    ]
    staff_count = 0

    def add_staff(prefix: str, role: StaffRole, region: Region, stream: random.Random = rng) -> Staff:
        nonlocal staff_count
        staff_count += 1
        staff = roster.create_staff(
            session, staff_no=f"{prefix}{staff_count:04d}", name=_name(stream), phone=_phone(stream),
            role=role, region=region, now=founded,
        )
        if password:
            accounts.set_password(staff, password, founded)
        return staff

    add_staff("S", StaffRole.ADMIN, city)
    add_staff("S", StaffRole.CITY_SUPERVISOR, city)
    officers = [add_staff("T", StaffRole.TOWN_OFFICER, town), add_staff("T", StaffRole.TOWN_OFFICER, town)]
    people: list[tuple[Beneficiary, Staff, datetime]] = []
    village_assistants: list[list[Staff]] = []
    for village in villages:
        assistants = [add_staff("A", StaffRole.ASSISTANT, village) for _ in range(3)]
        village_assistants.append(assistants)
        session.flush()
        for _ in range(20):
            cats = _categories(rng)
            child = BeneficiaryCategory.LIUSHOU_CHILD in cats or BeneficiaryCategory.ORPHAN in cats
            age = rng.randint(6, 15) if child else rng.randint(58, 92)
            born = date(now.year - age, rng.randint(1, 12), rng.randint(1, 28))
            # Registered on the day their assistant took them on.
            since = now - timedelta(days=rng.randint(30, 400))
            person = roster.create_beneficiary(
                session, pii, name=_name(rng), village=village, categories=cats, now=since,
                id_no=_id_number(rng, town.code, born, len(people) + 1),
                phone=None if child else _phone(rng),
                address=f"{village.name}{rng.choice(STREETS)}{rng.randint(1, 60)}号",
                bind_code=roster.new_bind_code(rng),
            )
            assistant = rng.choice(assistants)
            roster.assign_assistant(session, person, assistant, since)
            people.append((person, assistant, since))
    # Living alone and check-in plans draw from a stream of their own, too.
    plan_rng = random.Random(f"sanzhida-demo-plans:{seed}")  # nosec B311  # demo data, as above
    demo_small_checkins.settle_plans(plan_rng, [person for person, _, _ in people], WALK_PEOPLE)
    # The 包联 chain: four town officers (as the source has) dividing the villages, a second city
    # liaison so each department has two, and a week of duty. Their names come from a stream of
    # their own, so everyone above is the same as before for a seed.
    chain_rng = random.Random(f"sanzhida-demo-chain:{seed}")  # nosec B311  # demo data, as above
    officers += [add_staff("T", StaffRole.TOWN_OFFICER, town, chain_rng) for _ in range(2)]
    add_staff("S", StaffRole.CITY_SUPERVISOR, city, chain_rng)
    session.flush()
    demo_chain.name_villages(session, villages, officers, founded)
    demo_chain.name_departments(session, city, founded)
    demo_chain.week_of_duty(session, city, now, env.tz if env else DEMO_TZ, founded)
    session.flush()
    summary = DemoSummary(regions=2 + len(villages), staff=staff_count, beneficiaries=len(people))
    if env is None:
        return summary
    # The history draws from a stream of its own, so the people above stay the same for a seed.
    history_rng = random.Random(f"sanzhida-demo-history:{seed}")  # nosec B311  # demo data, as above
    town_cast = demo_small.Town(villages, people, officers, village_assistants)
    visit_count, request_count = demo_small.play(session, env, history_rng, now, town_cast)
    return DemoSummary(
        regions=summary.regions, staff=summary.staff, beneficiaries=summary.beneficiaries,
        visits=visit_count, requests=request_count,
    )


def counts(session: Session) -> DemoSummary:
    """How many regions, staff and beneficiaries the database holds."""
    return DemoSummary(
        regions=session.scalar(select(func.count()).select_from(Region)),
        staff=session.scalar(select(func.count()).select_from(Staff)),
        beneficiaries=session.scalar(select(func.count()).select_from(Beneficiary)),
    )
