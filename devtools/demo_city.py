"""The reference city as demo data: 20 towns, 292 villages and communities, 110,000 beneficiaries,
with seven months of history up to `now` (`demo_history` says how it behaves).

Everything is generated (names, addresses, ID numbers) and deterministic for a seed: the same
seed gives the same people, categories, assignments, bind codes, visits and cases; only the
Fernet ciphertexts of ID numbers differ between runs, as Fernet tokens always do.

Rows are written in bulk with ids computed here: binary COPY on PostgreSQL (the big tables loaded
before their foreign keys and indexes are put back), chunked executemany elsewhere. One ORM object
at a time would take hours for the two million-odd rows. Like every service, this one never
commits: the caller commits once, so a failed load leaves nothing behind.

This module is the entry point (`seed_city`, `CityShape`, `CITY`, `CitySummary`): it runs the
phases in foreign-key order and makes the places, the staff and the 包联 chain itself (each town's
villages split among its officers, the departments' liaisons, a week of duty: `demo_chain`), and
the gaps the service map shows (a few overloaded assistants, a few who left). The beneficiaries,
their visits and check-ins are made in `demo_city_people`, the cases in `demo_city_cases`; `demo_city_run`
holds what every phase shares (the shape, the run's state, the bulk writer). Last, the daily
visit figures of the whole history are computed as the scheduler keeps them for recent days.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from devtools import demo, demo_chain, demo_city_cases, demo_city_people
from devtools.demo_city_run import CITY_CODE, CityRun, CityShape, Progress, Village
from models import Beneficiary, Checkin, Region, RequestEvent, ServiceRequest, Silence, Staff, VillageOfficers, Visit
from models.enums import RegionLevel, StaffRole
from services import daily_checkin_figures, daily_figures, weekly_figures
from services.pii import PiiCipher

# The reference city's own figures: 234 villages and 58 communities, 882 village assistants,
# 88 town-level staff, 36 city liaisons (2 in each of 18 departments), 110,000 beneficiaries.
# Its source does not say how many towns; 20 gives the 4-5 officers per town it describes.
# Requests: about 3 % of beneficiaries ask for help in a month, over the 31 weeks of history.
CITY = CityShape(
    towns=20, villages=234, communities=58, assistants=882, town_officers=88,
    supervisors=36, admins=2, beneficiaries=110_000, requests=23_000,
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
    checkins: int = 0
    silences: int = 0


# Syllables for invented place names; any resemblance to a real place is the syllables' fault.
PLACE_FIRST = "柳杨桂荷莲石金青白沙芦枫梅桃竹兰菱鹤雁龙凤新长安永丰福兴东西南北"
PLACE_SECOND = "河湖湾口洲桥港岭坪堤塘垸台坝林山庄集滩"


def _quiet(_phase: str, _rows: int) -> None:
    """The default progress report: say nothing."""
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
    run = CityRun(session, pii, now, tz, seed, shape, progress or _quiet)
    # Foreign-key order: each phase writes rows the later ones point at.
    _write_regions(run)
    _town_habits(run)
    _write_staff(run)
    _write_chain(run)
    # Silences raised at 16:00 are written with the cases, once their 联系 case has its id.
    with run.writer.bulk_load(Silence.__table__):
        with run.writer.bulk_load(Visit.__table__), run.writer.bulk_load(Checkin.__table__):
            demo_city_people.write_beneficiaries(run)
        with run.writer.bulk_load(ServiceRequest.__table__), run.writer.bulk_load(RequestEvent.__table__):
            demo_city_cases.write_requests(run)
    _finish(run)
    _write_daily_figures(run)
    counts = run.counts
    return CitySummary(
        regions=counts["regions"], staff=counts["staff"], beneficiaries=counts["beneficiaries"],
        family_links=counts["family links"], visits=counts["visits"], requests=counts["requests"],
        request_events=counts["request events"], checkins=counts["checkins"], silences=counts["silences"],
    )


# --- places and staff ----------------------------------------------------------------------------


def _write_regions(run: CityRun) -> None:
    """The city, its towns (a few of them 街道), and their villages and communities."""
    rng, shape = run.rng("regions"), run.shape
    founded = run.now - timedelta(days=1000)
    names = _place_stems(rng)
    run.city_id = run.ids(Region, 1)[0]
    rows = [(run.city_id, CITY_CODE, "示范市", RegionLevel.CITY.value, False, None, "0716-1230000", founded)]
    streets = max(1, shape.towns // 10)  # urban subdistricts, where most communities are
    run.town_ids = list(run.ids(Region, shape.towns))
    town_names = []
    for t, town_id in enumerate(run.town_ids):
        suffix = "街道" if t < streets else rng.choice(("镇", "镇", "镇", "乡"))
        town_names.append(next(names) + suffix)
        rows.append((town_id, f"{CITY_CODE}{t + 1:03d}", town_names[-1], RegionLevel.TOWN.value, False,
                     run.city_id, f"0716-{rng.randint(2000000, 8999999)}", founded))
    # Towns differ a lot in size (a few big ones, several small), villages much less.
    sizes = [min(max(rng.lognormvariate(0, 0.4), 0.45), 2.4) for _ in run.town_ids]
    per_town = _spread(rng, shape.village_units, sizes, minimum=1)
    slots = [t for t, n in enumerate(per_town) for _ in range(n)]
    # Which units are communities: a weighted draw without replacement (Efraimidis-Spirakis),
    # six times likelier in the subdistricts, where the towns' urban parts are.
    keys = [rng.random() ** (1 / (6.0 if t < streets else 1.0)) for t in slots]
    communities = set(sorted(range(len(slots)), key=lambda i: -keys[i])[: shape.communities])
    numbers = [0] * shape.towns
    for i, t in enumerate(slots):
        numbers[t] += 1
        is_community = i in communities
        village_id = run.ids(Region, 1)[0]
        name = next(names) + ("社区" if is_community else "村")
        code = f"{CITY_CODE}{t + 1:03d}{numbers[t]:03d}"
        run.villages.append(Village(village_id, t, code, name, is_community))
        rows.append((village_id, code, name, RegionLevel.VILLAGE.value, is_community, run.town_ids[t], None,
                     founded))
    columns = ("id", "code", "name", "level", "is_community", "parent_id", "office_phone", "created_at")
    run.done("regions", run.writer.write(Region.__table__, columns, rows))


def _town_habits(run: CityRun) -> None:
    """How well each town keeps to the visit plan and how quickly it takes cases up: most well, a weak few less."""
    rng = run.rng("habits")
    weak = set(rng.sample(range(run.shape.towns), run.shape.share_of(run.shape.weak_town_share, run.shape.towns)))
    for t in range(run.shape.towns):
        if t in weak:
            run.keeps_to_plan.append(rng.uniform(0.68, 0.76))
            run.pace.append(rng.uniform(1.3, 1.5))
        else:
            run.keeps_to_plan.append(rng.uniform(0.86, 0.97))
            run.pace.append(rng.uniform(0.85, 1.15))


def _write_staff(run: CityRun) -> None:
    """Three or more assistants per village, four or more officers per town, the city's people."""
    rng, shape = run.rng("staff"), run.shape
    # Caseloads are decided here, so that extra assistants go where they are needed.
    # Villages are of similar size, so three assistants each carry about the reference city's 125.
    weights = [rng.uniform(0.78, 1.02) for _ in run.villages]
    for village, count in zip(run.villages, _spread(rng, shape.beneficiaries, weights), strict=True):
        village.beneficiaries = count
    per_village = [3] * len(run.villages)
    heap = [(-v.beneficiaries / 3, i) for i, v in enumerate(run.villages)]
    heapq.heapify(heap)
    for _ in range(shape.assistants - 3 * len(run.villages)):
        _, i = heapq.heappop(heap)
        per_village[i] += 1
        heapq.heappush(heap, (-run.villages[i].beneficiaries / per_village[i], i))
    town_load = [0] * shape.towns
    for v in run.villages:
        town_load[v.town_index] += v.beneficiaries
    per_town = [4] * shape.towns
    for t in sorted(range(shape.towns), key=lambda t: (-town_load[t], t))[: shape.town_officers - 4 * shape.towns]:
        per_town[t] += 1

    hired = run.now - timedelta(days=950)  # before the earliest beneficiary (900 days)
    rows = []

    def add(prefix: str, number: int, role: StaffRole, region_id: int) -> int:
        """Add one staff row with a generated name and phone; returns its id."""
        staff_id = run.ids(Staff, 1)[0]
        rows.append((staff_id, f"{prefix}{number:04d}", demo._name(rng), demo._phone(rng), role.value, region_id,
                     True, 0, hired, hired))
        return staff_id

    for n in range(1, shape.admins + 1):
        add("S", n, StaffRole.ADMIN, run.city_id)
    for n in range(1, shape.supervisors + 1):
        add("C", n, StaffRole.CITY_SUPERVISOR, run.city_id)
    number = 0
    for t, town_id in enumerate(run.town_ids):
        officers = []
        for _ in range(per_town[t]):
            number += 1
            officers.append(add("T", number, StaffRole.TOWN_OFFICER, town_id))
        run.officers.append(officers)
    number = 0
    for village, count in zip(run.villages, per_village, strict=True):
        for _ in range(count):
            number += 1
            village.assistants.append(add("A", number, StaffRole.ASSISTANT, village.id))
            village.shares.append(rng.uniform(0.97, 1.03))
    _gaps(run, rng, rows)
    columns = ("id", "staff_no", "name", "phone", "role", "region_id", "active", "failed_logins",
               "created_at", "updated_at")
    run.done("staff", run.writer.write(Staff.__table__, columns, rows))


def _gaps(run: CityRun, rng: random.Random, rows: list[tuple]) -> None:
    """The gaps the service map shows: in a few villages one assistant carries most of the people
    (a colleague works part-time), and in a few an assistant has left, weeks ago, with nobody
    named for their people yet (they keep the assignment; the routing passes them up the chain)."""
    shape, units = run.shape, len(run.villages)
    big = sorted(range(units), key=lambda i: -run.villages[i].beneficiaries)[: max(units // 4, 1)]
    for i in rng.sample(big, min(shape.share_of(shape.heavy_share, units), len(big))):
        village = run.villages[i]
        village.shares = [1.0] * len(village.shares)
        village.shares[0] = 0.82 * (len(village.shares) - 1)  # 45 % of the village
    row_of = {row[0]: n for n, row in enumerate(rows)}
    for i in rng.sample(range(units), shape.share_of(shape.leaver_share, units)):
        staff_id = run.villages[i].assistants[-1]
        left_at = run.now - timedelta(days=rng.uniform(6, 45))
        run.left[staff_id] = left_at
        n = row_of[staff_id]
        rows[n] = (*rows[n][:6], False, rows[n][7], rows[n][8], left_at)


def _write_chain(run: CityRun) -> None:
    """Who answers for what: each town's villages split among its officers (each with a deputy),
    the city's eighteen departments with two liaisons each, and a week of duty from today."""
    rows = []
    for t, officers in enumerate(run.officers):
        # Villages were made in code order, officers in 工号 order.
        villages = [v.id for v in run.villages if v.town_index == t]
        splits = demo_chain.village_split(villages, officers)
        run.responsible.update((village, responsible) for village, responsible, _ in splits)
        rows += [(*split, run.now) for split in splits]
    columns = ("village_id", "responsible_staff_id", "deputy_staff_id", "updated_at")
    written = run.writer.write(VillageOfficers.__table__, columns, rows)
    city = run.session.get(Region, run.city_id)
    demo_chain.name_departments(run.session, city, run.now)
    demo_chain.week_of_duty(run.session, city, run.now, run.tz, run.now)
    run.done("village officers", written)


def _finish(run: CityRun) -> None:
    """On PostgreSQL: move id sequences past the ids given here, and refresh planner statistics."""
    if not run.writer.postgres:
        return  # SQLite takes the next rowid after the largest one by itself
    tables = [m.__table__.name for m in run.next_id]
    for name in tables:
        run.session.execute(
            # The names are our own tables' (the models'), never input.
            text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "  # nosec B608
                 f"COALESCE(MAX(id), 1)) FROM {name}")
        )
    # A fresh demo is queried at once (the daily figures first); without statistics the planner guesses badly.
    run.session.execute(text(f"ANALYZE {', '.join([*tables, 'beneficiary_categories'])}"))


def _write_daily_figures(run: CityRun) -> None:
    """The daily 四查四帮 and 报平安 figures of the whole history and the trends' weekly request figures,
    as the scheduler keeps them for recent days."""
    window = run.window
    rows = daily_figures.rebuild(run.session, window.first, window.today, run.tz, run.now)
    rows += daily_checkin_figures.rebuild(run.session, window.first, window.today, run.tz, run.now)
    rows += weekly_figures.rebuild(run.session, window.today, run.tz, run.now)
    if run.writer.postgres:
        run.session.execute(text("ANALYZE daily_visit_figures, daily_checkin_figures, weekly_request_figures"))
    run.done("figures", rows)


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
