"""What every phase of a city seed run shares: the shape, the run's state, the bulk writer.

`demo_city.seed_city` makes one `CityRun` and hands it to each phase in foreign-key order (places
and staff in `demo_city`, then `demo_city_people`, then `demo_city_cases`). It gives out ids,
counts what each phase wrote, and carries what earlier phases made (villages, officers, people,
visits that found a problem, who left) to the later ones. Rows are written with `BulkWriter`: COPY on
PostgreSQL, chunked executemany elsewhere.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, Table, func, insert, select
from sqlalchemy.schema import AddConstraint, DropConstraint
from sqlalchemy.orm import Session

from models import (
    Assignment,
    Beneficiary,
    Checkin,
    FamilyLink,
    Region,
    RequestEvent,
    ServiceRequest,
    Silence,
    Staff,
    Visit,
    WeChatUser,
)
from devtools.demo_history import Window
from services.pii import PiiCipher

Progress = Callable[[str, int], None]  # (phase, rows written so far)

CITY_CODE = "990100"  # the invented city's area code: region codes and ID numbers start with it
CHUNK = 10_000  # rows per executemany, and beneficiaries generated per batch


@dataclass(frozen=True)
class CityShape:
    """How much a generated city holds. `demo_city.CITY` is the reference city; tests use a tiny one."""

    towns: int
    villages: int  # administrative villages (村)
    communities: int  # communities (社区), village-level too
    assistants: int  # at least 3 per village-level unit; the rest go where caseloads are heaviest
    town_officers: int  # at least 4 per town; the rest go to the biggest towns
    supervisors: int
    admins: int
    beneficiaries: int
    # Cases raised on WeChat or at a town office over the history (demo_history.HISTORY_DAYS);
    # visits that find a problem add their own.
    requests: int
    # Beneficiaries with a relative (or themselves) bound on WeChat: the care card's QR code.
    family_share: float = 0.65
    # Visits at which one of the 四查 checks finds a problem (each opens a case, as in the app).
    visit_problem_rate: float = 0.015
    # Towns that keep to the visit plan less well than the rest (at least one).
    weak_town_share: float = 0.1
    # Villages where an assistant has left and nobody has taken their people over yet (at least one).
    leaver_share: float = 0.014
    # Villages where one assistant carries most of the people (at least one).
    heavy_share: float = 0.02

    def __post_init__(self) -> None:
        """Refuse a shape the builder cannot fill with its minimum staffing."""
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

    def share_of(self, share: float, whole: int) -> int:
        """`share` of `whole`, at least one and never all."""
        return min(max(round(share * whole), 1), max(whole - 1, 1))


@dataclass
class Village:
    """A village-level unit while the city is being built."""

    id: int
    town_index: int
    code: str
    name: str
    is_community: bool
    beneficiaries: int = 0
    assistants: list[int] = field(default_factory=list)
    # Each assistant's share of the village's people, in the order of `assistants`.
    shares: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class Person:
    """What later phases need to know about a beneficiary, kept small: there are 110,000."""

    id: int
    village: int  # index into the villages list
    staff_id: int
    since: datetime
    every: int  # visit frequency in days
    family_user_id: int | None
    family_since: datetime | None
    # When their assistant left (still assigned, no longer active): new cases go up the chain.
    left_at: datetime | None = None


class BulkWriter:
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
        for chunk in chunks(rows, CHUNK):
            self.session.execute(statement, [dict(zip(columns, row, strict=True)) for row in chunk])
            count += len(chunk)
        return count

    def _copy(self, table: Table, columns: Sequence[str], rows: Iterable[tuple]) -> int:
        """COPY `rows` into `table` on the session's own connection, in binary; returns how many."""
        from psycopg import sql
        from psycopg.types.json import Jsonb

        # COPY skips SQLAlchemy's type processing: JSON needs psycopg's wrapper (datetimes are
        # already aware UTC, which psycopg sends as timestamptz).
        json_at = [i for i, name in enumerate(columns) if isinstance(table.c[name].type, JSON)]
        statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
            sql.Identifier(table.name), sql.SQL(", ").join(sql.Identifier(c) for c in columns)
        )
        count = 0
        # The session's own connection, so the rows share its transaction.
        driver = self.session.connection().connection.driver_connection
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            copy.set_types([_copy_type(table.c[name].type) for name in columns])
            for row in rows:
                if json_at:
                    row = list(row)
                    for i in json_at:
                        row[i] = None if row[i] is None else Jsonb(row[i])
                copy.write_row(row)
                count += 1
        return count

    @contextmanager
    def bulk_load(self, table: Table) -> Iterator[None]:
        """On PostgreSQL, load `table` without its foreign keys and secondary indexes, then add them
        back: one check of every row and one sort per index instead of work for each row as it
        comes, several times cheaper (PostgreSQL's own advice for populating a database). The keys
        are checked in full when they are added back; on any failure the transaction is rolled
        back, keys and indexes included."""
        if not self.postgres:
            yield
            return
        connection = self.session.connection()
        keys = sorted(table.foreign_key_constraints, key=lambda key: key.name)
        indexes = sorted(table.indexes, key=lambda index: index.name)
        for index in indexes:
            index.drop(connection)
        for key in keys:
            connection.execute(DropConstraint(key))
        yield
        for key in keys:
            connection.execute(AddConstraint(key))
        for index in indexes:
            index.create(connection)


# PostgreSQL's names for the column types binary COPY sends.
_COPY_TYPES = {"timestamp with time zone": "timestamptz", "integer": "int4", "smallint": "int2", "boolean": "bool"}


def _copy_type(column_type) -> str:
    """The PostgreSQL type name of a column, as binary COPY wants it (varchar(8) -> varchar)."""
    from sqlalchemy.dialects import postgresql

    name = column_type.compile(dialect=postgresql.dialect()).lower().split("(")[0]
    return _COPY_TYPES.get(name, name)


def chunks(rows: Iterable, size: int) -> Iterator[list]:
    """`rows` in lists of `size` (the last one shorter), without holding them all."""
    chunk: list = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class CityRun:
    """One city seed run: its settings, the ids given out, and what each phase leaves for the next."""

    def __init__(
        self, session: Session, pii: PiiCipher, now: datetime, tz: ZoneInfo, seed: int, shape: CityShape,
        report: Progress,
    ) -> None:
        self.session = session
        self.pii = pii
        self.now = now
        self.tz = tz
        self.seed = seed
        self.shape = shape
        self.report = report
        self.writer = BulkWriter(session)
        # Ids continue after whatever rows exist (normally none), so nothing collides.
        self.next_id = {
            model: (session.scalar(select(func.max(model.id))) or 0)
            for model in (Region, Staff, WeChatUser, FamilyLink, Beneficiary, Assignment, Visit,
                          ServiceRequest, RequestEvent, Checkin, Silence)
        }
        self.window = Window(now, tz)
        self.villages: list[Village] = []
        self.town_ids: list[int] = []
        # Per town: the share of visits made on time, and how slowly cases are taken up (1: usual).
        self.keeps_to_plan: list[float] = []
        self.pace: list[float] = []
        self.city_id = 0
        self.officers: list[list[int]] = []
        self.responsible: dict[int, int] = {}  # village id -> its responsible town officer
        self.left: dict[int, datetime] = {}  # assistant id -> when they left
        self.people: list[Person] = []
        self.problem_visits: list[tuple[int, Person, datetime, dict[str, str]]] = []
        # Silences raised at 16:00, each awaiting its 联系 case: (person, name, silence row, accepted at).
        self.silence_cases: list[tuple[Person, str, tuple, datetime]] = []
        self.counts: dict[str, int] = {}

    def rng(self, phase: str) -> random.Random:
        """A random stream of its own per phase: changing one phase leaves the others' data alone."""
        return random.Random(f"sanzhida-demo-city:{self.seed}:{phase}")  # nosec B311  # repeatable demo data

    def ids(self, model, n: int) -> range:
        """`n` fresh ids for `model`."""
        start = self.next_id[model] + 1
        self.next_id[model] += n
        return range(start, start + n)

    def done(self, phase: str, rows: int) -> None:
        """Count a finished phase and say so."""
        self.counts[phase] = rows
        self.report(phase, rows)
