"""A province of demo cities: the province on top, 30 cities of the reference city's size
(3.3 million beneficiaries with their staff and seven months of history), and its administrator.

The first city is generated as the city demo generates one (`demo_city.seed_city`); the others are
copies of it made inside PostgreSQL (`demo_province_copy`), each under its own name and codes. Each
copy's people keep their birth dates and sequence numbers, so their ID numbers differ from the
first city's only in the area code (and the check digit): a valid, distinct number for everyone,
encrypted and hashed again in a worker process while the database copies the city before. The
embedded SQLite database is refused: the province is some twenty gigabytes of rows. Like every
service, this one never commits.
"""

from __future__ import annotations

import multiprocessing
import random
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from devtools import demo, demo_chain, demo_city
from devtools.demo_city_run import CITY_CODE, CityShape, Progress
from devtools.demo_province_copy import PII_TABLE, CityCopy, Copier
from models import Beneficiary, Region, RequestEvent, ServiceRequest, Staff, Visit
from models.enums import RegionLevel, StaffRole
from services.pii import PiiCipher
from services.policy import id_number

CITIES = 30
PROVINCE_CODE = CITY_CODE[:2] + "0000"  # the province's area code; city n's is 99nn00
PROVINCE_NAME = "示范省"
PROVINCE_ADMIN_NO = "P0001"
# Numbers as the city names write them: 示范市, 示范二市 … 示范三十市.
_DIGITS = "一二三四五六七八九"
# How many copies wait, encrypted, for the database: one being copied, one ready.
_AHEAD = 2


class NeedsPostgres(Exception):
    """The province is too big for the embedded SQLite database."""


@dataclass(frozen=True)
class ProvinceSummary:
    """What a province seed run created."""

    cities: int
    regions: int
    staff: int
    beneficiaries: int
    visits: int
    requests: int
    request_events: int


def city_name(number: int) -> str:
    """The demo name of the province's city `number` (1 on): 示范市, 示范二市 … 示范九十九市."""
    if number == 1:
        return "示范市"
    tens, ones = divmod(number, 10)
    spoken = ("" if tens < 2 else _DIGITS[tens - 1]) + ("十" if tens else "") + (_DIGITS[ones - 1] if ones else "")
    return f"示范{spoken}市"


def city_code(number: int) -> str:
    """The 6-digit area code of the province's city `number` (1 on): 990100 … 993000."""
    return f"{CITY_CODE[:2]}{number:02d}{CITY_CODE[4:]}"


def seed_province(
    session: Session,
    pii: PiiCipher,
    now: datetime,
    *,
    tz: ZoneInfo,
    seed: int = 1,
    cities: int = CITIES,
    shape: CityShape = demo_city.CITY,
    progress: Progress | None = None,
) -> ProvinceSummary:
    """Generate a province of `cities` cities of `shape` into an empty PostgreSQL database."""
    if session.get_bind().dialect.name != "postgresql":
        raise NeedsPostgres("a province demo needs PostgreSQL")
    if not 1 <= cities <= 99:
        raise ValueError("a province holds 1 to 99 demo cities (two-digit city codes)")
    report = progress or (lambda _phase, _rows: None)
    demo_city.seed_city(session, pii, now, tz=tz, seed=seed, shape=shape, progress=report)
    report(f"city 1/{cities} {city_name(1)}", session.scalar(select(func.count()).select_from(Beneficiary)))
    copier = Copier(session)
    copies = [_city_copy(n) for n in range(2, cities + 1)]
    with copier.constraints_off():
        session.execute(text(f"CREATE TEMPORARY TABLE {PII_TABLE} (source_id integer PRIMARY KEY, "
                             "encrypted text, lookup_hash varchar(64)) ON COMMIT DROP"))
        people = _id_number_tails(session, pii)
        for city, numbers in zip(copies, _encrypted(pii, people, copies), strict=True):
            _load_numbers(session, numbers)
            rows = copier.copy(city)
            report(f"city {city.number}/{cities} {city.name}", rows)
        session.execute(text(f"DROP TABLE {PII_TABLE}"))
        copier.renumber_first_city()
        copier.scale_deployment_figures(cities)
        copier.reset_sequences()
        _chain(session, copies, tz, now)
        _province(session, now)
        report("copies written, building indexes", 0)
    copier.analyze()
    report("indexes and statistics", 0)
    return ProvinceSummary(cities, *(session.scalar(select(func.count()).select_from(model))
                                     for model in (Region, Staff, Beneficiary, Visit, ServiceRequest, RequestEvent)))


def _city_copy(number: int) -> CityCopy:
    """City `number`: its code, name, and place names' first syllables turned round by number - 1."""
    syllables = demo_city.PLACE_FIRST
    turn = (number - 1) % len(syllables)
    return CityCopy(number, city_code(number), city_name(number), syllables, syllables[turn:] + syllables[:turn])


def _id_number_tails(session: Session, pii: PiiCipher) -> list[tuple[int, str]]:
    """(id, the 11 digits after the area code) of the first city's people with an ID number."""
    rows = session.execute(select(Beneficiary.id, Beneficiary.id_number_encrypted)
                           .where(Beneficiary.id_number_encrypted.is_not(None)).order_by(Beneficiary.id))
    return [(person, pii.decrypt(token)[len(CITY_CODE):17]) for person, token in rows]


def _encrypted(pii: PiiCipher, people: list[tuple[int, str]], copies: list[CityCopy]) -> Iterator[list[tuple]]:
    """Each copy's (source id, encrypted ID number, lookup hash), in order, made in a worker process
    a copy or two ahead of the database."""
    if not copies:
        return
    # A fresh interpreter, not a fork of this one with its open database connection.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context, initializer=_start_worker, initargs=(pii, people)) as pool:
        waiting: deque[Future] = deque()
        pending = iter(copies)
        for city in pending:
            waiting.append(pool.submit(_encrypt_city, city.code))
            if len(waiting) == _AHEAD:
                break
        while waiting:
            numbers = waiting.popleft().result()
            city = next(pending, None)
            if city is not None:
                waiting.append(pool.submit(_encrypt_city, city.code))
            yield numbers


_worker: dict[str, object] = {}


def _start_worker(pii: PiiCipher, people: list[tuple[int, str]]) -> None:
    """Keep the cipher and the first city's people in the worker, sent once."""
    _worker.update(pii=pii, people=people)


def _encrypt_city(code: str) -> list[tuple[int, str, str]]:
    """The first city's people's ID numbers under area code `code`, encrypted and hashed."""
    pii: PiiCipher = _worker["pii"]  # type: ignore[assignment]
    rows = []
    for person, tail in _worker["people"]:  # type: ignore[attr-defined]
        first17 = code + tail
        number = first17 + id_number.check_digit(first17)
        rows.append((person, pii.encrypt(number), pii.lookup_hash(number)))
    return rows


def _load_numbers(session: Session, rows: list[tuple[int, str, str]]) -> None:
    """Put one copy's encrypted ID numbers in the temporary table the copy reads them from."""
    session.execute(text(f"TRUNCATE {PII_TABLE}"))
    driver = session.connection().connection.driver_connection
    with driver.cursor() as cursor, cursor.copy(
        f"COPY {PII_TABLE} (source_id, encrypted, lookup_hash) FROM STDIN"
    ) as copy:
        for row in rows:
            copy.write_row(row)


def _chain(session: Session, copies: list[CityCopy], tz: ZoneInfo, now: datetime) -> None:
    """Each copied city's departments with their liaisons and a week of duty, as for the first."""
    for city in copies:
        region = session.scalar(select(Region).where(Region.code == city.code))
        demo_chain.name_departments(session, region, now)
        demo_chain.week_of_duty(session, region, now, tz, now)
    session.flush()


def _province(session: Session, now: datetime) -> None:
    """The province over the cities, and its administrator."""
    founded = session.scalar(select(func.min(Region.created_at)))
    province = Region(code=PROVINCE_CODE, name=PROVINCE_NAME, level=RegionLevel.PROVINCE.value, is_community=False,
                      office_phone="027-1230000", created_at=founded)
    session.add(province)
    session.flush()
    session.execute(update(Region).where(Region.level == RegionLevel.CITY.value).values(parent_id=province.id))
    rng = random.Random(f"sanzhida-demo-province:{PROVINCE_CODE}")  # nosec B311  # repeatable demo data
    session.add(Staff(staff_no=PROVINCE_ADMIN_NO, name=demo._name(rng), phone=demo._phone(rng),
                      role=StaffRole.PROVINCE_ADMIN.value, region_id=province.id, active=True, created_at=founded,
                      updated_at=founded))
    session.flush()
