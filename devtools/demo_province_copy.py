"""The further cities of a province demo, copied from its first city inside PostgreSQL.

`demo_province` seeds one city with the city generator, then asks a `Copier` for each further city.
Every table the city filled is copied with one INSERT … SELECT: ids move past those already used
(the city's largest id times the copy's number less one, and likewise every foreign key to a
copied table), so a copy points only into itself. What has to differ is made to differ: region
codes go under the copy's own city code (a copy's 6-digit city code, its towns' 9 and its villages'
12 digits), place names and addresses change their first syllable, 工号 end in the city's number,
openids follow the new ids, bind codes are a permutation of the new ids, and ID numbers come
already encrypted from a table the caller fills (the person's own number under the copy's area
code). Ids inside JSON (a case's visit or silence) move with their rows.

Loading many copies through indexes is several times slower than building the indexes afterwards,
so `constraints_off` drops the copied tables' secondary and unique indexes and puts them back at
the end (the unique ones then check every copy at once). Foreign keys are checked by construction
for a superuser (session_replication_role, which skips their triggers: every key of a copy is its
original's key, checked when the first city was written, moved by its table's offset), and are
dropped and added back (checked in full) otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import JSON, Table, UniqueConstraint, text
from sqlalchemy.orm import Session
from sqlalchemy.schema import AddConstraint, DropConstraint

from devtools.demo_city_run import CITY_CODE
from models import Base
from services import roster, weekly_figures

# Remade for each city through the services (`demo_chain`), with their audit entries.
REMADE = frozenset({"departments", "duty_shifts", "audit_log"})
# Ids that JSON columns may hold, and the tables they point into.
JSON_IDS = {"visit_id": "visits", "silence_id": "silences", "request_id": "service_requests",
            "beneficiary_id": "beneficiaries", "staff_id": "staff"}
# Bind codes: i -> (i * A + B) mod 31^6 is a permutation of the code space (A is prime to 31).
_CODE_SPACE = len(roster.BIND_CODE_ALPHABET) ** roster.BIND_CODE_LENGTH
_CODE_A, _CODE_B = 392_837_471, 73_193_311
PII_TABLE = "province_pii"  # temporary: (source_id, encrypted, lookup_hash) of the city being copied


@dataclass(frozen=True)
class CityCopy:
    """One further city: its number in the province (2 on), 6-digit code, name and name syllables."""

    number: int
    code: str
    name: str
    # The first syllables of place names, and what the copy turns each into.
    syllables: str
    renamed: str


def bind_code_sql(id_sql: str) -> str:
    """SQL for the bind code of the beneficiary whose id is `id_sql`: distinct ids, distinct codes."""
    base = len(roster.BIND_CODE_ALPHABET)
    number = f"mod(({id_sql})::bigint * {_CODE_A} + {_CODE_B}, {_CODE_SPACE})"
    digits = [f"substr('{roster.BIND_CODE_ALPHABET}', (mod({number} / {base ** p}, {base}) + 1)::int, 1)"
              for p in reversed(range(roster.BIND_CODE_LENGTH))]
    return " || ".join(digits)


class Copier:
    """Copies the first city's rows, table by table, for each further city."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.tables = [t for t in Base.metadata.sorted_tables
                       if t.name not in REMADE and session.scalar(text(f"SELECT EXISTS (SELECT FROM {t.name})"))]
        # The largest id of each copied table: copy n's ids are (n - 1) * span higher.
        self.spans = {t.name: session.scalar(text(f"SELECT COALESCE(MAX(id), 0) FROM {t.name}"))  # nosec B608
                      for t in self.tables if _has_id(t)}
        # The pages the first city fills: copies go after them, so each copy reads only these
        # (a TID range scan) instead of every copy made before it.
        self.pages = {t.name: session.scalar(text(f"SELECT pg_relation_size('{t.name}') / "
                                                  "current_setting('block_size')::int"))
                      for t in self.tables}
        self._special: dict[tuple[str, str], Callable[[CityCopy], str]] = {
            ("regions", "code"): lambda c: f"'{c.code}' || substr(code, {len(CITY_CODE) + 1})",
            ("regions", "name"): lambda c: (f"CASE WHEN parent_id IS NULL THEN '{c.name}' "
                                            f"ELSE {_first_renamed('name', c)} END"),
            ("staff", "staff_no"): lambda c: f"staff_no || '-{c.number:02d}'",
            ("wechat_users", "openid"): self._openid,
            ("beneficiaries", "bind_code"): lambda c: bind_code_sql(f"id + {self.offset('beneficiaries', c)}"),
            ("beneficiaries", "address"): lambda c: _first_renamed("address", c),
            ("beneficiaries", "id_number_encrypted"): lambda c: "pii.encrypted",
            ("beneficiaries", "id_number_hash"): lambda c: "pii.lookup_hash",
            ("weekly_request_figures", "key"): self._figures_key,
        }

    def offset(self, table: str, city: CityCopy) -> int:
        """How far city `city`'s ids of `table` lie past the first city's (0 for tables not copied)."""
        return (city.number - 1) * self.spans.get(table, 0)

    def renumber_first_city(self) -> None:
        """Give the first city's beneficiaries the bind codes the copies' scheme gives their ids
        (after the copies: the new row versions land past the pages the copies read)."""
        self.session.execute(text(f"UPDATE beneficiaries SET bind_code = {bind_code_sql('id')} "  # nosec B608
                                  f"WHERE id <= {self.spans['beneficiaries']}"))

    def copy(self, city: CityCopy) -> int:
        """Write city `city` as a copy of the first one; returns the rows written."""
        written = 0
        for table in self.tables:
            written += self.session.execute(text(self.statement(table, city))).rowcount
        return written

    def statement(self, table: Table, city: CityCopy) -> str:
        """The INSERT … SELECT that copies the first city's rows of `table` for `city`."""
        columns = [c.name for c in table.columns]
        values = [self._value(table, c.name, city) for c in table.columns]
        source = f"{table.name}"
        if table.name == "beneficiaries":
            source += f" LEFT JOIN pg_temp.{PII_TABLE} AS pii ON pii.source_id = beneficiaries.id"
        where = self._first_city(table)
        if table.name == "weekly_request_figures":
            # The whole deployment's rows (no key) are the first city's times the cities (`scale_deployment_figures`).
            where += f" AND NOT (level = '{weekly_figures.CITY}' AND key IS NULL)"
        # The names and numbers are the models' own and computed here, never input.
        return (f"INSERT INTO {table.name} ({', '.join(columns)}) "  # nosec B608
                f"SELECT {', '.join(values)} FROM {source} WHERE {where}")

    def scale_deployment_figures(self, cities: int) -> None:
        """The trends' whole-deployment weekly rows: every city is the first one again, so counts
        multiply and medians stay (the scheduler's figures job recomputes them on its next run)."""
        self.session.execute(
            text("UPDATE weekly_request_figures SET raised = raised * :n, escalated = escalated * :n, "
                 "rated = rated * :n, rating_sum = rating_sum * :n WHERE level = :level AND key IS NULL"),
            {"n": cities, "level": weekly_figures.CITY},
        )

    def reset_sequences(self) -> None:
        """Move every copied table's id sequence past the last id written."""
        for name in self.spans:
            self.session.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "  # nosec B608
                                      f"COALESCE(MAX(id), 1)) FROM {name}"))

    @contextmanager
    def constraints_off(self) -> Iterator[None]:
        """Load without the copied tables' secondary and unique indexes (and, unless the role may skip
        their triggers, their foreign keys); put them back afterwards, checking every row once."""
        connection = self.session.connection()
        superuser = connection.execute(text("SELECT current_setting('is_superuser')")).scalar() == "on"
        indexes = [i for t in self.tables for i in sorted(t.indexes, key=lambda i: i.name)]
        uniques = [c for t in self.tables for c in sorted(t.constraints, key=lambda c: c.name)
                   if isinstance(c, UniqueConstraint)]
        keys = [] if superuser else [k for t in self.tables
                                     for k in sorted(t.foreign_key_constraints, key=lambda k: k.name)]
        for index in indexes:
            index.drop(connection)
        for constraint in [*uniques, *keys]:
            connection.execute(DropConstraint(constraint))
        if superuser:
            connection.execute(text("SET LOCAL session_replication_role = replica"))
        # Building the indexes back sorts tens of millions of rows: give the sorts memory.
        connection.execute(text("SET LOCAL maintenance_work_mem = '1GB'"))
        yield
        if superuser:
            connection.execute(text("SET LOCAL session_replication_role = origin"))
        for constraint in [*uniques, *keys]:
            connection.execute(AddConstraint(constraint))
        for index in indexes:
            index.create(connection)

    def analyze(self) -> None:
        """Planner statistics for every copied table."""
        self.session.execute(text(f"ANALYZE {', '.join(t.name for t in self.tables)}"))

    def _value(self, table: Table, name: str, city: CityCopy) -> str:
        """The SQL for column `name` of a copied row."""
        special = self._special.get((table.name, name))
        if special is not None:
            return special(city)
        column = table.c[name]
        if column.primary_key and name == "id":
            return f"{name} + {self.offset(table.name, city)}"
        for key in column.foreign_keys:
            return f"{name} + {self.offset(key.column.table.name, city)}"
        if isinstance(column.type, JSON):
            return self._json(name, city)
        return name

    def _json(self, name: str, city: CityCopy) -> str:
        """A JSON column with the ids it holds moved like their rows'."""
        moved = [f"CASE WHEN jsonb_typeof({name} -> '{key}') = 'number' THEN jsonb_build_object('{key}', "
                 f"({name} ->> '{key}')::bigint + {self.offset(table, city)}) ELSE '{{}}'::jsonb END"
                 for key, table in JSON_IDS.items() if self.offset(table, city)]
        return f"CASE WHEN jsonb_typeof({name}) = 'object' THEN {' || '.join([name, *moved])} ELSE {name} END"

    def _openid(self, city: CityCopy) -> str:
        """The demo's family openids name their row's id: the copy's name the copy's id."""
        moved = f"id + {self.offset('wechat_users', city)}"
        return (f"CASE WHEN openid = {demo_openid_sql('id')} "
                f"THEN {demo_openid_sql(moved)} ELSE openid || '-{city.number:02d}' END")

    def _figures_key(self, city: CityCopy) -> str:
        """The weekly figures' key: an assistant's staff id, or a city's, town's or village's region id."""
        return (f"CASE level WHEN 'assistant' THEN key + {self.offset('staff', city)} "
                f"ELSE key + {self.offset('regions', city)} END")

    def _first_city(self, table: Table) -> str:
        """SQL selecting the first city's rows of `table`: ids up to its span, or keys up to the span
        of the table the key points at (tables keyed by another's id), within the pages it filled."""
        pages = f"{table.name}.ctid < '({self.pages[table.name]},0)'::tid"
        if _has_id(table):
            return f"{pages} AND {table.name}.id <= {self.spans[table.name]}"
        for column in table.primary_key.columns:
            for key in column.foreign_keys:
                return f"{pages} AND {table.name}.{column.name} <= {self.spans[key.column.table.name]}"
        raise ValueError(f"{table.name}: no id and no key to another table; the province copy cannot place it")


def demo_openid_sql(id_sql: str) -> str:
    """SQL for the demo's openid of WeChat user `id_sql`: demo-family-000123 (six digits or more)."""
    # lpad alone would cut a seven-digit id to six: the ids of a province reach 2.4 million.
    return f"'demo-family-' || lpad(({id_sql})::text, greatest(6, length(({id_sql})::text)), '0')"


def _has_id(table: Table) -> bool:
    """True for a table with an integer `id` primary key."""
    return "id" in table.c and table.c.id.primary_key


def _first_renamed(column: str, city: CityCopy) -> str:
    """SQL: `column` with its first syllable changed as the copy changes place names."""
    return f"translate(left({column}, 1), '{city.syllables}', '{city.renamed}') || substr({column}, 2)"
