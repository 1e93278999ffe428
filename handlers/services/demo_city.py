"""The reference city as demo data: 20 towns, 292 villages and communities, 110,000 beneficiaries.

Everything is generated (names, addresses, ID numbers) and deterministic for a seed: the same
seed gives the same people, categories, assignments, bind codes, visits and cases; only the
Fernet ciphertexts of ID numbers differ between runs, as Fernet tokens always do.

Rows are written in bulk with ids computed here: COPY on PostgreSQL, chunked executemany
elsewhere. One ORM object at a time would take most of an hour for the 700,000-odd rows.
Cases are not played through the request services either (the small demo does that); their
timelines are generated with the same ladder and escalation rules, so the escalation level and
`next_escalation_at` are what the scheduler would have left. Like every service, this one
never commits: the caller commits once, so a failed load leaves nothing behind.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, Table, bindparam, func, insert, select, text, update
from sqlalchemy.orm import Session

from config import policy
from handlers.policy import id_number, ladder
from handlers.policy import visits as schedule
from handlers.policy.classify import classify
from handlers.services import demo, escalation, roster
from handlers.services import visits as visit_service
from handlers.services import requests as request_service
from handlers.services.pii import PiiCipher
from handlers.services.visits import CHECK_CATEGORY, CHECK_LABEL
from models import (
    Assignment,
    Beneficiary,
    BeneficiaryCategoryLink,
    FamilyLink,
    Region,
    RequestEvent,
    ServiceRequest,
    Staff,
    Visit,
    WeChatUser,
)
from models.enums import (
    ActorKind,
    BeneficiaryCategory,
    CheckResult,
    EventKind,
    RegionLevel,
    Relation,
    RequestSource,
    RequestStatus,
    StaffRole,
    Urgency,
)

Progress = Callable[[str, int], None]


@dataclass(frozen=True)
class CityShape:
    """How much a generated city holds. CITY is the reference city; tests use a tiny one."""

    towns: int
    villages: int  # administrative villages (村)
    communities: int  # communities (社区), village-level too
    assistants: int  # at least 3 per village-level unit; the rest go where caseloads are heaviest
    town_officers: int  # at least 4 per town; the rest go to the biggest towns
    supervisors: int
    admins: int
    beneficiaries: int
    # Cases raised on WeChat or at a town office; visits that find a problem add their own.
    requests: int
    # Beneficiaries with a relative (or themselves) bound on WeChat.
    family_share: float = 0.12
    # Visits at which one of the 四查 checks finds a problem (each opens a case, as in the app).
    visit_problem_rate: float = 0.015
    visits_per_beneficiary: tuple[int, int] = (1, 4)

    def __post_init__(self) -> None:
        units = self.villages + self.communities
        if self.towns < 1 or units < self.towns:
            raise ValueError("every town needs at least one village or community")
        if self.assistants < 3 * units:
            raise ValueError("at least 3 assistants per village or community")
        if self.town_officers < 4 * self.towns:
            raise ValueError("at least 4 officers per town")
        if self.supervisors < 1 or self.admins < 1:
            raise ValueError("the city needs a supervisor and an administrator")

    @property
    def village_units(self) -> int:
        """Villages and communities together."""
        return self.villages + self.communities


# The reference city's own figures: 234 villages and 58 communities, 882 village assistants,
# 88 town-level staff, 36 city liaisons (2 in each of 18 departments), 110,000 beneficiaries.
# Its source does not say how many towns; 20 gives the 4-5 officers per town it describes.
CITY = CityShape(
    towns=20, villages=234, communities=58, assistants=882, town_officers=88,
    supervisors=36, admins=2, beneficiaries=110_000, requests=4_000,
)


@dataclass(frozen=True)
class CitySummary:
    """What a city seed run created."""

    regions: int
    staff: int
    beneficiaries: int
    family_links: int
    visits: int
    requests: int
    request_events: int


# --- generated place names ---------------------------------------------------------------------

# Syllables for invented place names; any resemblance to a real place is the syllables' fault.
PLACE_FIRST = "柳杨桂荷莲石金青白沙芦枫梅桃竹兰菱鹤雁龙凤新长安永丰福兴东西南北"
PLACE_SECOND = "河湖湾口洲桥港岭坪堤塘垸台坝林山庄集滩"
COMMUNITY_ROADS = ("幸福路", "建设路", "文化街", "新华巷", "人民路", "园林路", "滨江路")
VISIT_NOTES = ("身体还好", "精神不错", "子女上周回来过", "需要多关注", "天冷了，提醒注意保暖")
CITY_CODE = "990100"
REQUEST_DAYS = 42  # WeChat and office cases are spread over the past six weeks
CHUNK = 10_000


@dataclass
class _Village:
    """A village-level unit while the city is being built."""

    id: int
    town_index: int
    code: str
    name: str
    is_community: bool
    beneficiaries: int = 0
    assistants: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class _Person:
    """What later phases need to know about a beneficiary, kept small: there are 110,000."""

    id: int
    village: int  # index into the villages list
    staff_id: int
    since: datetime
    every: int  # visit frequency in days
    family_user_id: int | None
    family_since: datetime | None


@dataclass
class _Case:
    """A generated request and its timeline, before ids are given out in time order."""

    person: _Person
    created: datetime
    source: RequestSource
    category: str
    urgency: str
    summary: str
    emergency_numbers: tuple[str, ...] = ()
    raised_by_user: int | None = None
    raised_by_staff: int | None = None
    visit_id: int | None = None
    events: list[tuple] = field(default_factory=list)  # (at, kind, actor staff, actor user, body, data)
    row: dict = field(default_factory=dict)


class _BulkWriter:
    """Writes rows in bulk: COPY on PostgreSQL, chunked executemany elsewhere (SQLite)."""

    def __init__(self, session: Session):
        self.session = session
        self.postgres = session.get_bind().dialect.name == "postgresql"

    def write(self, table: Table, columns: Sequence[str], rows: Iterable[tuple]) -> int:
        """Insert `rows` (tuples in `columns` order); returns how many."""
        if self.postgres:
            return self._copy(table, columns, rows)
        count = 0
        statement = insert(table)
        for chunk in _chunks(rows, CHUNK):
            self.session.execute(statement, [dict(zip(columns, row, strict=True)) for row in chunk])
            count += len(chunk)
        return count

    def _copy(self, table: Table, columns: Sequence[str], rows: Iterable[tuple]) -> int:
        from psycopg import sql
        from psycopg.types.json import Jsonb

        # COPY skips SQLAlchemy's type processing: JSON needs psycopg's wrapper (datetimes are
        # already aware UTC, which psycopg sends as timestamptz).
        json_at = [i for i, name in enumerate(columns) if isinstance(table.c[name].type, JSON)]
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table.name), sql.SQL(", ").join(sql.Identifier(c) for c in columns)
        )
        count = 0
        # The session's own connection, so the rows share its transaction.
        driver = self.session.connection().connection.driver_connection
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                if json_at:
                    row = list(row)
                    for i in json_at:
                        row[i] = None if row[i] is None else Jsonb(row[i])
                copy.write_row(row)
                count += 1
        return count


def _chunks(rows: Iterable, size: int) -> Iterator[list]:
    chunk: list = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _quiet(_phase: str, _rows: int) -> None:
    return None


def seed_city(
    session: Session,
    pii: PiiCipher,
    now: datetime,
    *,
    tz: ZoneInfo,
    seed: int = 1,
    shape: CityShape = CITY,
    progress: Progress | None = None,
) -> CitySummary:
    """Generate a whole city of `shape` into an empty database; `progress(phase, rows)` reports as it goes."""
    for model in (Region, Staff, Beneficiary):
        if session.scalar(select(func.count()).select_from(model)):
            raise demo.AlreadySeeded("数据库里已有区域、人员或服务对象数据")
    report = progress or _quiet
    builder = _CityBuilder(session, pii, now, tz, seed, shape, report)
    return builder.run()


class _CityBuilder:
    """The phases of one city seed run; each phase draws from its own seeded random stream."""

    def __init__(self, session, pii, now, tz, seed, shape, report):
        self.session = session
        self.pii = pii
        self.now = now
        self.tz = tz
        self.seed = seed
        self.shape = shape
        self.report = report
        self.writer = _BulkWriter(session)
        # Ids continue after whatever rows exist (normally none), so nothing collides.
        self.next_id = {
            model: (session.scalar(select(func.max(model.id))) or 0)
            for model in (Region, Staff, WeChatUser, FamilyLink, Beneficiary, Assignment, Visit,
                          ServiceRequest, RequestEvent)
        }
        self.villages: list[_Village] = []
        self.town_ids: list[int] = []
        self.city_id = 0
        self.officers: list[list[int]] = []
        self.people: list[_Person] = []
        self.problem_visits: list[tuple[int, _Person, datetime, dict[str, str]]] = []
        self.counts: dict[str, int] = {}

    def rng(self, phase: str) -> random.Random:
        """A random stream of its own per phase: changing one phase leaves the others' data alone."""
        return random.Random(f"sanzhida-demo-city:{self.seed}:{phase}")

    def ids(self, model, n: int) -> range:
        """`n` fresh ids for `model`."""
        start = self.next_id[model] + 1
        self.next_id[model] += n
        return range(start, start + n)

    def run(self) -> CitySummary:
        """Every phase in foreign-key order."""
        self.regions()
        self.staff()
        self.beneficiaries()
        self.visits()
        self.requests()
        self.finish()
        return CitySummary(
            regions=self.counts["regions"], staff=self.counts["staff"],
            beneficiaries=self.counts["beneficiaries"], family_links=self.counts["family links"],
            visits=self.counts["visits"], requests=self.counts["requests"],
            request_events=self.counts["request events"],
        )

    def done(self, phase: str, rows: int) -> None:
        """Count a finished phase and say so."""
        self.counts[phase] = rows
        self.report(phase, rows)

    # --- regions ---------------------------------------------------------------------------------

    def regions(self) -> None:
        """The city, its towns (a few of them 街道), and their villages and communities."""
        rng, shape = self.rng("regions"), self.shape
        founded = self.now - timedelta(days=1000)
        names = _place_stems(rng)
        self.city_id = self.ids(Region, 1)[0]
        rows = [(self.city_id, CITY_CODE, "示范市", RegionLevel.CITY.value, False, None, "0716-1230000", founded)]
        streets = max(1, shape.towns // 10)  # urban subdistricts, where most communities are
        self.town_ids = list(self.ids(Region, shape.towns))
        town_names = []
        for t, town_id in enumerate(self.town_ids):
            suffix = "街道" if t < streets else rng.choice(("镇", "镇", "镇", "乡"))
            town_names.append(next(names) + suffix)
            rows.append((town_id, f"{CITY_CODE}{t + 1:03d}", town_names[-1], RegionLevel.TOWN.value, False,
                         self.city_id, f"0716-{rng.randint(2000000, 8999999)}", founded))
        per_town = _spread(rng, shape.village_units, [rng.uniform(0.7, 1.3) for _ in self.town_ids], minimum=1)
        slots = [t for t, n in enumerate(per_town) for _ in range(n)]
        # Which units are communities: a weighted draw without replacement (Efraimidis-Spirakis),
        # six times likelier in the subdistricts, where the towns' urban parts are.
        keys = [rng.random() ** (1 / (6.0 if t < streets else 1.0)) for t in slots]
        communities = set(sorted(range(len(slots)), key=lambda i: -keys[i])[: shape.communities])
        numbers = [0] * shape.towns
        for i, t in enumerate(slots):
            numbers[t] += 1
            is_community = i in communities
            village_id = self.ids(Region, 1)[0]
            name = next(names) + ("社区" if is_community else "村")
            code = f"{CITY_CODE}{t + 1:03d}{numbers[t]:03d}"
            self.villages.append(_Village(village_id, t, code, name, is_community))
            rows.append((village_id, code, name, RegionLevel.VILLAGE.value, is_community, self.town_ids[t], None,
                         founded))
        columns = ("id", "code", "name", "level", "is_community", "parent_id", "office_phone", "created_at")
        self.done("regions", self.writer.write(Region.__table__, columns, rows))

    # --- staff -----------------------------------------------------------------------------------

    def staff(self) -> None:
        """Three or more assistants per village, four or more officers per town, the city's people."""
        rng, shape = self.rng("staff"), self.shape
        # Caseloads are decided here, so that extra assistants go where they are needed.
        weights = [rng.uniform(0.6, 1.4) * (1.3 if v.is_community else 1.0) for v in self.villages]
        for village, count in zip(self.villages, _spread(rng, shape.beneficiaries, weights), strict=True):
            village.beneficiaries = count
        per_village = [3] * len(self.villages)
        heap = [(-v.beneficiaries / 3, i) for i, v in enumerate(self.villages)]
        heapq.heapify(heap)
        for _ in range(shape.assistants - 3 * len(self.villages)):
            _, i = heapq.heappop(heap)
            per_village[i] += 1
            heapq.heappush(heap, (-self.villages[i].beneficiaries / per_village[i], i))
        town_load = [0] * shape.towns
        for v in self.villages:
            town_load[v.town_index] += v.beneficiaries
        per_town = [4] * shape.towns
        for t in sorted(range(shape.towns), key=lambda t: (-town_load[t], t))[: shape.town_officers - 4 * shape.towns]:
            per_town[t] += 1

        hired = self.now - timedelta(days=950)  # before the earliest beneficiary (900 days)
        rows = []

        def add(prefix: str, number: int, role: StaffRole, region_id: int) -> int:
            staff_id = self.ids(Staff, 1)[0]
            rows.append((staff_id, f"{prefix}{number:04d}", demo._name(rng), demo._phone(rng), role.value, region_id,
                         True, 0, hired, hired))
            return staff_id

        for n in range(1, shape.admins + 1):
            add("S", n, StaffRole.ADMIN, self.city_id)
        for n in range(1, shape.supervisors + 1):
            add("C", n, StaffRole.CITY_SUPERVISOR, self.city_id)
        number = 0
        for t, town_id in enumerate(self.town_ids):
            officers = []
            for _ in range(per_town[t]):
                number += 1
                officers.append(add("T", number, StaffRole.TOWN_OFFICER, town_id))
            self.officers.append(officers)
        number = 0
        for village, count in zip(self.villages, per_village, strict=True):
            for _ in range(count):
                number += 1
                village.assistants.append(add("A", number, StaffRole.ASSISTANT, village.id))
        columns = ("id", "staff_no", "name", "phone", "role", "region_id", "active", "failed_logins",
                   "created_at", "updated_at")
        self.done("staff", self.writer.write(Staff.__table__, columns, rows))

    # --- beneficiaries -----------------------------------------------------------------------------

    def beneficiaries(self) -> None:
        """Beneficiaries with valid ID numbers, categories, one assistant each, some with family on WeChat."""
        rng, shape = self.rng("beneficiaries"), self.shape
        taken, codes = set(), set()  # first 17 digits of ID numbers given out; bind codes
        today = self.now.astimezone(self.tz).date()
        order = [i for i, v in enumerate(self.villages) for _ in range(v.beneficiaries)]
        written = {"beneficiaries": 0, "family links": 0}
        for chunk in _chunks(order, CHUNK):
            people, users, links, rows, cats_rows, assignments = [], [], [], [], [], []
            for beneficiary_id, v in zip(self.ids(Beneficiary, len(chunk)), chunk, strict=True):
                village = self.villages[v]
                cats = demo._categories(rng)
                child = BeneficiaryCategory.LIUSHOU_CHILD in cats or BeneficiaryCategory.ORPHAN in cats
                age = rng.randint(6, 15) if child else rng.randint(58, 92)
                born = date(today.year - age, rng.randint(1, 12), rng.randint(1, 28))
                while True:
                    first17 = f"{CITY_CODE}{born:%Y%m%d}{rng.randrange(1000):03d}"
                    if first17 not in taken:
                        taken.add(first17)
                        break
                id_no = first17 + id_number.check_digit(first17)
                while (code := roster.new_bind_code(rng)) in codes:
                    pass
                codes.add(code)
                if village.is_community:
                    address = f"{village.name}{rng.choice(COMMUNITY_ROADS)}{rng.randint(1, 99)}号{rng.randint(1, 12)}栋"
                else:
                    address = f"{village.name}{rng.choice(demo.STREETS)}{rng.randint(1, 60)}号"
                since = self.now - timedelta(days=rng.randint(20, 900), minutes=rng.randint(0, 600))
                staff_id = rng.choice(village.assistants)
                rows.append((beneficiary_id, demo._name(rng), village.id, address,
                             None if child else demo._phone(rng), self.pii.encrypt(id_no), self.pii.lookup_hash(id_no),
                             code, True, schedule.frequency_days(cats), since, since))
                cats_rows.extend((beneficiary_id, c.value) for c in cats)
                assignments.append((self.ids(Assignment, 1)[0], beneficiary_id, staff_id, since))
                user_id = family_since = None
                if rng.random() < shape.family_share:
                    user_id = self.ids(WeChatUser, 1)[0]
                    family_since = min(since + timedelta(days=rng.randint(0, 90), minutes=rng.randint(0, 900)),
                                       self.now - timedelta(hours=1))
                    relation = Relation.RELATIVE if child else rng.choices(
                        (Relation.CHILD, Relation.SELF, Relation.SPOUSE, Relation.RELATIVE, Relation.NEIGHBOUR),
                        (70, 10, 5, 10, 5),
                    )[0]
                    users.append((user_id, f"demo-family-{user_id:06d}", True, family_since, family_since))
                    links.append((self.ids(FamilyLink, 1)[0], beneficiary_id, user_id, relation.value,
                                  rng.random() < 0.9, True, family_since))
                people.append(_Person(beneficiary_id, v, staff_id, since, schedule.frequency_days(cats),
                                      user_id, family_since))
            self.people.extend(people)
            self.writer.write(
                WeChatUser.__table__, ("id", "openid", "subscribed", "subscribed_at", "created_at"), users
            )
            written["beneficiaries"] += self.writer.write(
                Beneficiary.__table__,
                ("id", "name", "village_id", "address", "phone", "id_number_encrypted", "id_number_hash",
                 "bind_code", "active", "visit_every_days", "created_at", "updated_at"),
                rows,
            )
            self.writer.write(BeneficiaryCategoryLink.__table__, ("beneficiary_id", "category"), cats_rows)
            written["family links"] += self.writer.write(
                FamilyLink.__table__,
                ("id", "beneficiary_id", "wechat_user_id", "relation", "notify", "active", "created_at"),
                links,
            )
            self.writer.write(Assignment.__table__, ("id", "beneficiary_id", "staff_id", "started_at"), assignments)
            if written["beneficiaries"] < shape.beneficiaries:
                self.report("beneficiaries", written["beneficiaries"])
        self.done("beneficiaries", written["beneficiaries"])
        self.done("family links", written["family links"])

    # --- visits ------------------------------------------------------------------------------------

    def visits(self) -> None:
        """The last few 四查 visits of each beneficiary, about as often as their categories require."""
        rng, shape = self.rng("visits"), self.shape
        today = self.now.astimezone(self.tz).date()
        low, high = shape.visits_per_beneficiary
        columns = ("id", "beneficiary_id", "staff_id", "visited_at", "food", "food_note", "clothing", "clothing_note",
                   "housing", "housing_note", "medical", "medical_note", "helped_daily_care", "helped_shopping",
                   "helped_contact_family", "helped_policy", "notes", "created_at")
        ok = CheckResult.OK.value
        total = 0

        def rows_for(people: list[_Person]) -> Iterator[tuple]:
            for person in people:
                # Most are visited on time; a quarter or so are somewhat overdue, as in life.
                days_ago = rng.uniform(0, person.every * 1.3)
                for _ in range(rng.randint(low, high)):
                    at = demo._working_time(rng, today - timedelta(days=int(days_ago)), self.tz)
                    if at > self.now:
                        at -= timedelta(days=1)
                    if at < person.since:
                        break
                    checks = {name: None for name in CHECK_LABEL}
                    problems = {}
                    if rng.random() < shape.visit_problem_rate:
                        for name in rng.sample(sorted(CHECK_LABEL), 2 if rng.random() < 0.1 else 1):
                            problems[name] = checks[name] = rng.choice(demo.VISIT_PROBLEMS[name])
                    visit_id = self.ids(Visit, 1)[0]
                    if problems:
                        self.problem_visits.append((visit_id, person, at, problems))
                    yield (
                        visit_id, person.id, person.staff_id, at,
                        *(x for name in ("food", "clothing", "housing", "medical")
                          for x in ((CheckResult.PROBLEM.value if checks[name] else ok), checks[name])),
                        rng.random() < 0.35, rng.random() < 0.25, rng.random() < 0.15, rng.random() < 0.2,
                        rng.choice(VISIT_NOTES) if rng.random() < 0.05 else None,
                        at,
                    )
                    days_ago += max(person.every + rng.uniform(-2, 2), 3)

        for people in _chunks(self.people, 2 * CHUNK):
            total += self.writer.write(Visit.__table__, columns, rows_for(people))
            if total and people[-1] is not self.people[-1]:
                self.report("visits", total)
        visit_service.refresh_last_visits(self.writer.session)
        self.done("visits", total)

    # --- requests ----------------------------------------------------------------------------------

    def requests(self) -> None:
        """Cases from visits, WeChat and town offices, each with a timeline that ends where it is now."""
        rng, shape = self.rng("requests"), self.shape
        cases: list[_Case] = []
        for visit_id, person, at, problems in self.problem_visits:
            summary = "；".join(f"{CHECK_LABEL[k]}：{v}" for k, v in problems.items())
            cases.append(_Case(
                person=person, created=at, source=RequestSource.VISIT,
                category=CHECK_CATEGORY[next(iter(problems))].value, urgency=Urgency.NORMAL.value,
                summary=f"走访发现：{summary}", raised_by_staff=person.staff_id, visit_id=visit_id,
            ))
        with_family = [p for p in self.people if p.family_user_id is not None]
        messages = [m for m, _ in demo.HELP_MESSAGES]
        weights = [w for _, w in demo.HELP_MESSAGES]
        window = timedelta(days=REQUEST_DAYS)
        for _ in range(shape.requests):
            on_wechat = with_family and rng.random() < 0.85
            person = rng.choice(with_family if on_wechat else self.people)
            earliest = max(self.now - window, person.family_since if on_wechat else person.since)
            created = _daytime_between(rng, earliest, self.now, self.tz)
            message = rng.choices(messages, weights)[0]
            found = classify(message, created.astimezone(self.tz).month)
            town = self.villages[person.village].town_index
            cases.append(_Case(
                person=person, created=created,
                source=RequestSource.WECHAT if on_wechat else RequestSource.OFFICE,
                category=found.category.value, urgency=found.urgency.value, summary=message,
                emergency_numbers=found.emergency_numbers,
                raised_by_user=person.family_user_id if on_wechat else None,
                raised_by_staff=None if on_wechat else rng.choice(self.officers[town]),
            ))
        for case in cases:
            self._timeline(rng, case)
        # Numbers follow time, as they would have been handed out.
        cases.sort(key=lambda c: (c.created, c.person.id))
        for request_id, case in zip(self.ids(ServiceRequest, len(cases)), cases, strict=True):
            case.row["id"] = request_id
        columns = ("id", "beneficiary_id", "village_id", "town_id", "source", "raised_by_wechat_user_id",
                   "raised_by_staff_id", "visit_id", "category", "urgency", "status", "summary",
                   "assignee_staff_id", "escalation_level", "next_escalation_at", "created_at", "updated_at",
                   "acknowledged_at", "resolved_at", "closed_at", "cancelled_at", "resolution_note", "rating",
                   "rating_comment")
        self.done("requests", self.writer.write(
            ServiceRequest.__table__, columns, (tuple(c.row[name] for name in columns) for c in cases)
        ))
        events = sorted(
            ((at, case.row["id"], n, kind, staff, user, body, data)
             for case in cases for n, (at, kind, staff, user, body, data) in enumerate(case.events)),
            key=lambda e: (e[0], e[1], e[2]),
        )
        last_seen: dict[int, datetime] = {}
        rows = []
        for event_id, (at, request_id, _n, kind, staff, user, body, data) in zip(
            self.ids(RequestEvent, len(events)), events, strict=True
        ):
            actor = ActorKind.STAFF if staff else ActorKind.WECHAT_USER if user else ActorKind.SYSTEM
            rows.append((event_id, request_id, kind.value, actor.value, staff, user, body, data, at))
            if user:
                last_seen[user] = at
        self.done("request events", self.writer.write(
            RequestEvent.__table__,
            ("id", "request_id", "kind", "actor_kind", "actor_staff_id", "actor_wechat_user_id", "body", "data",
             "created_at"),
            rows,
        ))
        # The 48-hour customer-service window runs from a follower's last message.
        if last_seen:
            table = WeChatUser.__table__
            self.session.execute(
                update(table)
                .where(table.c.id == bindparam("user_id"))
                .values(last_message_at=bindparam("at", type_=table.c.last_message_at.type)),
                [{"user_id": user, "at": at} for user, at in sorted(last_seen.items())],
            )

    def _timeline(self, rng: random.Random, case: _Case) -> None:
        """What happened to the case up to now: accepted, replied, resolved, rated or cancelled; rungs climbed."""
        now, urgent = self.now, case.urgency == Urgency.URGENT.value
        created = case.created
        person = case.person
        rater = case.raised_by_user or person.family_user_id
        # Who may rate or cancel must have been bound by then.
        if rater is not None and person.family_since is not None and person.family_since > created:
            rater = None
        ack = reply = resolved = rated = cancelled = None
        if urgent:
            ack = created + timedelta(minutes=rng.uniform(2, 20))
        elif case.source == RequestSource.VISIT:
            ack = created + timedelta(minutes=rng.uniform(1, 30))  # the assistant was there
        elif rng.random() < 0.03:
            ack = None  # nobody ever accepts it: the ladder climbs to the city
        else:
            ack = created + timedelta(hours=rng.choices(
                (rng.uniform(0.1, 1.8), rng.uniform(2, 14), rng.uniform(14, 60)), (70, 25, 5)
            )[0])
        if ack is not None and rng.random() > 0.04:  # a few stay accepted but never finished
            if urgent:
                resolved = ack + timedelta(hours=rng.uniform(0.5, 8))
            else:
                resolved = ack + timedelta(hours=rng.choices(
                    (rng.uniform(1, 24), rng.uniform(24, 47), rng.uniform(48, 160)), (75, 20, 5)
                )[0])
            if rng.random() < 0.3:
                reply = ack + (resolved - ack) * rng.uniform(0.05, 0.5)
        # Only whoever raised a case on WeChat withdraws it (the app lets any bound relative, but rarely).
        if case.raised_by_user is not None and rng.random() < 0.07:
            cancelled = created + timedelta(minutes=rng.uniform(20, 24 * 60))
            if ack is not None and ack >= cancelled:
                ack = reply = None
            if reply is not None and reply >= cancelled:
                reply = None
            resolved = None
        stars = comment = None
        if resolved is not None and rater is not None and rng.random() < 0.7:
            rated = resolved + timedelta(hours=rng.uniform(0.5, 72))
            stars = rng.choices([s for s, _ in demo.RATING_WEIGHTS], [w for _, w in demo.RATING_WEIGHTS])[0]
            comment = rng.choice(demo.RATING_COMMENTS) or None
        note = rng.choice(demo.RESOLUTION_NOTES[case.category]) if resolved else None
        reply_text = rng.choice(demo.REPLIES)

        # Keep only what has happened by now.
        ack, reply, resolved, rated, cancelled = (t if t is not None and t <= now else None
                                                  for t in (ack, reply, resolved, rated, cancelled))
        if resolved is None:
            rated = None

        def status_at(t: datetime) -> str:
            if cancelled and cancelled <= t:
                return RequestStatus.CANCELLED.value
            if rated and rated <= t:
                return RequestStatus.CLOSED.value
            if resolved and resolved <= t:
                return RequestStatus.RESOLVED.value
            if ack and ack <= t:
                return RequestStatus.ACKNOWLEDGED.value
            return RequestStatus.OPEN.value

        assistant = person.staff_id
        data = {"routed_to": "assistant", "emergency_numbers": list(case.emergency_numbers)}
        if case.visit_id is not None:
            data = {"visit_id": case.visit_id, **data}
        events = [(created, EventKind.CREATED, case.raised_by_staff, case.raised_by_user, case.summary, data)]
        # The escalation scan, as if it had run all along: each rung at its due time, if its condition held.
        level = 0
        for step in policy.ESCALATION_LADDER[case.urgency]:
            due = ladder.step_due_at(step, created, self.tz, policy.SERVICE_HOURS)
            if due <= now and step.level > level and ladder.condition_holds(step, status_at(due)):
                level = step.level
                events.append((due, EventKind.ESCALATED, None, None,
                               f"第{step.level}级督办：已等待{escalation.waited(created, due)}",
                               {"level": step.level, "condition": step.condition, "notify": list(step.notify)}))
        if ack:
            events.append((ack, EventKind.ACKNOWLEDGED, assistant, None, None, None))
        if reply:
            events.append((reply, EventKind.REPLY, assistant, None, reply_text, None))
        if resolved:
            events.append((resolved, EventKind.RESOLVED, assistant, None, note, None))
        if rated:
            events.append((rated, EventKind.RATED, None, rater, comment, {"rating": stars}))
        if cancelled:
            events.append((cancelled, EventKind.CANCELLED, None, rater, None, None))
        events.sort(key=lambda e: e[0])
        case.events = events
        status = status_at(now)
        facts = _Facts(status=status, created_at=created, escalation_level=level, urgency=case.urgency)
        village = self.villages[person.village]
        case.row.update(
            beneficiary_id=person.id, village_id=village.id, town_id=self.town_ids[village.town_index],
            source=case.source.value, raised_by_wechat_user_id=case.raised_by_user,
            raised_by_staff_id=case.raised_by_staff, visit_id=case.visit_id, category=case.category,
            urgency=case.urgency, status=status, summary=case.summary, assignee_staff_id=assistant,
            escalation_level=level, next_escalation_at=request_service.next_escalation(facts, self.tz),
            created_at=created, updated_at=events[-1][0], acknowledged_at=ack,
            resolved_at=resolved, closed_at=rated, cancelled_at=cancelled,
            resolution_note=note if resolved else None, rating=stars if rated else None,
            rating_comment=comment if rated else None,
        )

    # --- finishing -----------------------------------------------------------------------------------

    def finish(self) -> None:
        """On PostgreSQL: move id sequences past the ids given here, and refresh planner statistics."""
        if not self.writer.postgres:
            return  # SQLite takes the next rowid after the largest one by itself
        tables = [m.__table__.name for m in self.next_id]
        for name in tables:
            self.session.execute(
                text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), COALESCE(MAX(id), 1)) FROM {name}")
            )
        # A fresh demo is queried at once; without statistics the planner guesses badly.
        self.session.execute(text(f"ANALYZE {', '.join([*tables, 'beneficiary_categories'])}"))


@dataclass(frozen=True)
class _Facts:
    """The attributes `requests.next_escalation` reads, for a request not yet an ORM object."""

    status: str
    created_at: datetime
    escalation_level: int
    urgency: str


def _place_stems(rng: random.Random) -> Iterator[str]:
    """Unique invented place-name stems: two syllables, then three when those run out."""
    two = [a + b for a in PLACE_FIRST for b in PLACE_SECOND]
    rng.shuffle(two)
    yield from two
    three = [a + b + c for a in PLACE_FIRST for b in PLACE_FIRST for c in PLACE_SECOND if a != b]
    rng.shuffle(three)
    yield from three


def _spread(rng: random.Random, total: int, weights: list[float], minimum: int = 0) -> list[int]:
    """Split `total` into len(weights) whole parts, each at least `minimum`, roughly by weight."""
    parts = [minimum] * len(weights)
    rest = total - minimum * len(weights)
    scale = sum(weights)
    shares = [rest * w / scale for w in weights]
    for i, share in enumerate(shares):
        parts[i] += int(share)
    # Largest remainders first; ties broken by the stream, not by position.
    order = sorted(range(len(weights)), key=lambda i: (-(shares[i] - int(shares[i])), rng.random()))
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


def _daytime_between(rng: random.Random, start: datetime, end: datetime, tz: ZoneInfo) -> datetime:
    """A moment between `start` and `end`, mostly in waking hours, as people write."""
    for _ in range(4):
        at = start + (end - start) * rng.random()
        if 7 <= at.astimezone(tz).hour < 21 or rng.random() < 0.15:
            return at
    return at
