"""Demo data: a small generated town, deterministic for a given seed. Names are invented.

With a `RequestEnv`, the small town also gets about sixty days of 四查 visits and a handful of
cases in every state, made through the real visit and request services so they look exactly like
cases the running system would have produced. The city-sized demo lives in `demo_city`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from devtools import demo_chain
from models import Beneficiary, FamilyLink, Region, ServiceRequest, Staff, Visit, WeChatUser
from models.enums import (
    OPEN_STATUSES,
    BeneficiaryCategory,
    RegionLevel,
    Relation,
    RequestCategory,
    RequestSource,
    StaffRole,
)
from services import accounts, casework, escalation, roster, visits
from services import requests as request_service
from services.pii import PiiCipher
from services.policy import id_number
from services.policy import visits as schedule
from services.policy.classify import classify
from services.policy.commands import VisitReport

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

# What an assistant notes at a visit when one of the 四查 checks finds a problem.
VISIT_PROBLEMS = {
    "food": ("米面快吃完了", "家里没有新鲜菜", "一个人做饭不方便"),
    "clothing": ("冬衣不够", "被子太薄", "鞋子破了"),
    "housing": ("屋顶漏雨", "墙体开裂", "电线老化"),
    "medical": ("降压药快吃完了", "腿疼走路困难", "该去医院复查了"),
}
HELP_FIELDS = ("helped_daily_care", "helped_shopping", "helped_contact_family", "helped_policy")

# What beneficiaries and their families write, with relative frequency. `classify()` decides the
# category and urgency, as it would for a real message; the last few are urgent.
HELP_MESSAGES = (
    ("家里的米快吃完了，能不能帮忙买一袋", 14),
    ("降压药快吃完了，想请人帮忙去卫生院拿药", 14),
    ("屋顶漏雨了，下雨天屋里都是水", 8),
    ("冬天的棉被不够厚，晚上冷", 6),
    ("想问一下低保年审要带什么证明", 12),
    ("好几天联系不上在外地打工的儿子", 6),
    ("请帮忙代购一些日用品", 10),
    ("残疾证到期了，怎么换新的", 5),
    ("电灯坏了，晚上看不见", 6),
    ("想问问残疾补贴怎么申请", 5),
    ("腿疼了好几天，想去医院看看", 6),
    ("门锁坏了，关不上", 3),
    ("想去幸福食堂吃饭，怎么报名", 4),
    ("孩子上学的补贴想申请一下", 3),
    ("老人在家摔倒了，起不来，请快来看看", 2),
    ("胸口疼，喘不上气", 1),
    ("老人走失了，到处找不到人", 1),
)

# How the one who helped describes the outcome, by request category.
RESOLUTION_NOTES = {
    RequestCategory.FOOD: ("已送米面油上门", "已帮忙报名幸福食堂"),
    RequestCategory.CLOTHING: ("已送去棉被和冬衣",),
    RequestCategory.HOUSING: ("已联系村里维修好了", "已请电工上门修好"),
    RequestCategory.MEDICAL: ("已陪同去卫生院看病取药", "已送药上门"),
    RequestCategory.SHOPPING: ("已代购送到家",),
    RequestCategory.CONTACT_FAMILY: ("已联系上家人，家人会常打电话",),
    RequestCategory.POLICY: ("已讲清政策，材料已代为提交",),
    RequestCategory.OTHER: ("已上门处理好",),
}
REPLIES = ("收到，今天就过去看看", "已联系好，明天上午上门", "我先打电话问问情况")
RATING_COMMENTS = ("谢谢，来得很快", "问题解决了，很满意", "态度很好", "")
RATING_WEIGHTS = ((5, 60), (4, 25), (3, 10), (2, 3), (1, 2))


@dataclass(frozen=True)
class DemoSummary:
    """What a seed run created."""

    regions: int
    staff: int
    beneficiaries: int
    visits: int = 0
    requests: int = 0


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
    for village in villages:
        assistants = [add_staff("A", StaffRole.ASSISTANT, village) for _ in range(3)]
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
    visit_count, request_count = _small_history(session, env, rng, now, people, officers)
    return DemoSummary(
        regions=summary.regions, staff=summary.staff, beneficiaries=summary.beneficiaries,
        visits=visit_count, requests=request_count,
    )


# --- the small town's history, played forward through the real services ---------------------------

# Scripted cases, so that every state shows up whatever the seed:
# (message, hours ago raised, minutes until accepted, hours until resolved, then "cancel" or stars).
SMALL_CASES = (
    ("老人在家摔倒了，起不来，请快来看看", 0.4, None, None, None),  # urgent, unanswered: first rung
    ("家里的米快吃完了，能不能帮忙买一袋", 0.6, None, None, None),  # just arrived
    ("想问问残疾补贴怎么申请", 30, None, None, None),  # nobody accepted it: escalated to the town
    ("降压药快吃完了，想请人帮忙去卫生院拿药", 5, 25, None, None),  # being handled
    ("屋顶漏雨了，下雨天屋里都是水", 72, 14 * 60, None, None),  # accepted late, unresolved after 48 hours
    ("冬天的棉被不够厚，晚上冷", 50, 40, 20, None),  # resolved, waiting for a rating
    ("请帮忙代购一些日用品", 240, 30, 6, 5),
    ("好几天联系不上在外地打工的儿子", 480, 90, 30, 4),
    ("电灯坏了，晚上看不见", 150, None, None, "cancel"),  # withdrawn by the family
)
HISTORY_DAYS = 60
# The first beneficiaries are the simulator's personas (four families, two in person): they start
# with no case at all, so the README's walk opens new cases rather than joining old ones.
WALK_PEOPLE = 6


@dataclass
class _Case:
    """A request being played forward: filled in once the step that opens it has run."""

    request: ServiceRequest | None = None


@dataclass(frozen=True)
class _Step:
    """One thing that happened at `at`; `case` is the request it concerns, if any."""

    at: datetime
    order: int
    run: Callable[[datetime], None]
    case: _Case | None = None


def _working_time(rng: random.Random, day: date, tz: ZoneInfo) -> datetime:
    """A time during the working day, local `day`, as UTC."""
    local = datetime.combine(day, time(8, 30), tzinfo=tz) + timedelta(minutes=rng.randint(0, 9 * 60))
    return local.astimezone(timezone.utc)


def _catch_up(session: Session, env: request_service.RequestEnv, case: _Case | None, until: datetime) -> None:
    """Take the ladder rungs that fell due before `until`, each at its own time, as the scheduler would have."""
    request = case.request if case else None
    open_statuses = {s.value for s in OPEN_STATUSES}
    while request is not None and request.status in open_statuses:
        due = request.next_escalation_at
        if due is None or due > until:
            return
        escalation.escalate(session, env, request, due)
        if request.next_escalation_at == due:  # nothing moved: never loop on it
            return


def _small_history(
    session: Session,
    env: request_service.RequestEnv,
    rng: random.Random,
    now: datetime,
    people: list[tuple[Beneficiary, Staff, datetime]],
    officers: list[Staff],
) -> tuple[int, int]:
    """Sixty days of visits and the scripted cases, run in time order; returns (visits, requests)."""
    steps: list[_Step] = []

    def add(at: datetime, run: Callable[[datetime], None], case: _Case | None = None) -> None:
        if at <= now:
            steps.append(_Step(at, len(steps), run, case))

    today = now.astimezone(env.tz).date()
    walk_people = {person.id for person, _, _ in people[:WALK_PEOPLE]}
    for person, assistant, since in people:
        every = schedule.frequency_days(person.category_names)
        # Some are visited on time, some are a little overdue, as in any real village.
        days_ago = rng.randint(0, every + every // 3)
        while days_ago <= HISTORY_DAYS:
            at = _working_time(rng, today - timedelta(days=days_ago), env.tz)
            days_ago += max(every + rng.randint(-2, 2), 3)
            if at < since or at > now:
                continue
            report = VisitReport(beneficiary_id=person.id, helps={f for f in HELP_FIELDS if rng.random() < 0.3})
            case = _Case()
            if rng.random() < 0.1:
                check = rng.choice(sorted(VISIT_PROBLEMS))
                problem = rng.choice(VISIT_PROBLEMS[check])
                if person.id not in walk_people:
                    report.problems[check] = problem
            add(at, _visit_step(session, env, assistant, report, case), case)
            if report.problems:
                accepted = at + timedelta(minutes=rng.randint(5, 120))
                add(accepted, _staff_step(session, env, case, assistant, None), case)
                resolved = accepted + timedelta(hours=rng.randint(4, 40))
                note = rng.choice(RESOLUTION_NOTES[visits.CHECK_CATEGORY[check]])
                add(resolved, _staff_step(session, env, case, assistant, note), case)

    family_count = 0
    # The scripted messages are about older people, none of them the walk's.
    adults = [p for p in people[WALK_PEOPLE:] if p[0].phone]
    for (text, hours_ago, accept_minutes, resolve_hours, outcome), (person, assistant, since) in zip(
        SMALL_CASES, rng.sample(adults, len(SMALL_CASES)), strict=True
    ):
        raised = now - timedelta(hours=hours_ago)
        case = _Case()
        add(raised, _open_step(session, env, case, person, rng.choice(officers), text), case)
        if accept_minutes is not None:
            accepted = raised + timedelta(minutes=accept_minutes)
            add(accepted, _staff_step(session, env, case, assistant, None), case)
            if resolve_hours is not None:
                note = rng.choice(RESOLUTION_NOTES[classify(text, raised.astimezone(env.tz).month).category])
                add(raised + timedelta(hours=resolve_hours), _staff_step(session, env, case, assistant, note), case)
        if outcome is not None:
            # Rating and cancelling are the family's: bind a relative (who asked for no notices).
            family_count += 1
            bound = max(since, raised - timedelta(days=rng.randint(1, 30)))
            user = _family_member(session, person, family_count, bound)
            if outcome == "cancel":
                add(raised + timedelta(hours=2), _cancel_step(session, env, case, user), case)
            else:
                comment = rng.choice(RATING_COMMENTS)
                add(raised + timedelta(hours=resolve_hours + 20),
                    _rate_step(session, env, case, user, outcome, comment), case)

    steps.sort(key=lambda s: (s.at, s.order))
    for step in steps:
        _catch_up(session, env, step.case, step.at)
        step.run(step.at)
    for step in steps:  # and the rungs due since the last thing that happened
        _catch_up(session, env, step.case, now)
    session.flush()
    visit_count = session.scalar(select(func.count()).select_from(Visit))
    request_count = session.scalar(select(func.count()).select_from(ServiceRequest))
    return visit_count, request_count


def _visit_step(session, env, assistant: Staff, report: VisitReport, case: _Case) -> Callable[[datetime], None]:
    """Record the visit; a problem found opens a request, which the case then follows."""

    def run(at: datetime) -> None:
        visits.record_visit(session, env, assistant, report, at)
        if report.problems:
            case.request = session.scalars(
                select(ServiceRequest)
                .where(ServiceRequest.beneficiary_id == report.beneficiary_id)
                .order_by(ServiceRequest.id.desc())
                .limit(1)
            ).one()

    return run


def _open_step(session, env, case: _Case, person: Beneficiary, officer: Staff, text: str):
    """A call to the town office, logged by an officer and routed to the assigned assistant."""

    def run(at: datetime) -> None:
        classification = classify(text, at.astimezone(env.tz).month)
        case.request = request_service.open_request(
            session, env, beneficiary=person, classification=classification, summary=text, now=at,
            staff=officer, source=RequestSource.OFFICE,
        )

    return run


def _staff_step(session, env, case: _Case, assistant: Staff, note: str | None):
    """The assistant accepts (no note) or resolves (with the note) the case."""

    def run(at: datetime) -> None:
        if note is None:
            casework.acknowledge(session, env, case.request, assistant, at)
        else:
            casework.resolve(session, env, case.request, assistant, note, at)

    return run


def _rate_step(session, env, case: _Case, user: WeChatUser, stars: int, comment: str):
    """The family rates the resolved case, which closes it."""

    def run(at: datetime) -> None:
        casework.rate(session, env, case.request, user, stars, comment, at)

    return run


def _cancel_step(session, env, case: _Case, user: WeChatUser):
    """The family withdraws the case."""

    def run(at: datetime) -> None:
        casework.cancel(session, env, case.request, user, at)

    return run


def _family_member(session: Session, person: Beneficiary, number: int, since: datetime) -> WeChatUser:
    """A relative bound to `person` on WeChat who turned family notices off, so no push is queued."""
    user = WeChatUser(openid=f"demo-family-{number:06d}", subscribed=True, subscribed_at=since, created_at=since)
    session.add(user)
    session.add(FamilyLink(beneficiary=person, wechat_user=user, relation=Relation.CHILD.value, notify=False,
                           active=True, created_at=since))
    session.flush()
    return user


def counts(session: Session) -> DemoSummary:
    """How many regions, staff and beneficiaries the database holds."""
    return DemoSummary(
        regions=session.scalar(select(func.count()).select_from(Region)),
        staff=session.scalar(select(func.count()).select_from(Staff)),
        beneficiaries=session.scalar(select(func.count()).select_from(Beneficiary)),
    )
