"""Engines and sessions: one engine per process, one session per request or job.

Every PostgreSQL connection gives up connecting after CONNECT_TIMEOUT seconds and notices a server
that vanished mid-query through TCP keepalives. A statement timeout is chosen per process
(`make_engine(statement_timeout=…)`, through `runtime.container.build_services`): the web app
passes WEB_STATEMENT_TIMEOUT, the scheduler, workers and CLI none (their jobs may run long and no
person waits on them). SQLite has neither; there `busy_timeout` bounds the wait for a lock.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import (JSON, URL, Connection, CursorResult, Date, Engine, Table, create_engine, event, insert,
                        inspect, literal, text, update)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, make_transient_to_detached, sessionmaker
from sqlalchemy.orm.exc import StaleDataError


# Seconds to wait for PostgreSQL to accept a connection: in an outage a request fails in this
# time (readyz answers 503) instead of holding a worker until gunicorn kills it at 30 s.
CONNECT_TIMEOUT = 3
# A server gone mid-query (a cut network sends no reset) is noticed in about 11 s: idle 5 s, then
# 3 probes 2 s apart, and sent data unacknowledged for 10 s. A busy but living server answers the
# probes, so long statements are not cut by these.
TCP_KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 10_000,
}


def normalize_url(url: str) -> str:
    """Use psycopg 3 for plain `postgresql://` URLs (and Heroku-style `postgres://`)."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin, so that
    # SAVEPOINTs and BEGIN IMMEDIATE work as documented.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # Foreign keys are off by default in SQLite; WAL lets readers run beside one writer.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _sqlite_begin_immediate(connection) -> None:
    # IMMEDIATE takes the write lock up front. A deferred transaction that reads, then writes
    # after another process committed, fails at once with "database is locked" in WAL mode.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_begin_deferred(connection) -> None:
    connection.exec_driver_sql("BEGIN")


def _postgres_connect_args(url: URL, statement_timeout: float | None) -> dict:
    """The connect timeout, keepalives, statement timeout and JIT setting, where the URL does not set its own."""
    args: dict = {"connect_timeout": CONNECT_TIMEOUT, **TCP_KEEPALIVES}
    # Sent at connection start-up (libpq `options`), so they hold from the first statement on.
    given = url.query.get("options", "")
    given = " ".join(given) if isinstance(given, tuple) else given
    extra = []
    if statement_timeout:
        extra.append(f"-c statement_timeout={int(statement_timeout * 1000)}")
    if "jit" not in given:
        # JIT compilation added 0.4-1.2 s to the dashboard's aggregates over a province's daily
        # figures and paid off nowhere; a URL that sets `jit` itself keeps its choice.
        extra.append("-c jit=off")
    args["options"] = " ".join([given, *extra]).strip()
    return {k: v for k, v in args.items() if k == "options" or k not in url.query}


def make_engine(url: str, *, sqlite_immediate: bool = True, statement_timeout: float | None = None,
                **kwargs) -> Engine:
    """Create the engine for a database URL, with the settings each dialect needs.

    SQL parameters never appear in errors or logs: they hold ID numbers, phones and messages.
    `sqlite_immediate=False` is for read-mostly tools that must not block writers.
    `statement_timeout` (seconds, PostgreSQL only) cancels any longer statement; None: no limit.
    """
    url = normalize_url(url)
    parsed = make_url(url)
    kwargs.setdefault("hide_parameters", True)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate if sqlite_immediate else _sqlite_begin_deferred)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs["connect_args"] = {**_postgres_connect_args(parsed, statement_timeout), **kwargs.get("connect_args", {})}
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 5)
        kwargs.setdefault("max_overflow", 10)
    return create_engine(url, **kwargs)


def make_session_factory(bind) -> sessionmaker[Session]:
    """A session factory; objects stay readable after commit so replies can use them."""
    return sessionmaker(bind=bind, expire_on_commit=False)


class ReadOnlySessionError(RuntimeError):
    """Something was written through a read session: writes go through the primary's session."""


def _refuse_writes(session: Session, _context, _instances) -> None:
    """Fail a flush of a read session at once, before a replica (or a lagging copy) is even asked."""
    raise ReadOnlySessionError("a read session only reads; write through the request's own session (the primary)")


def make_read_session_factory(bind) -> sessionmaker[Session]:
    """Sessions that only read (on a read replica): any flush of a new, changed or deleted object fails."""
    factory = sessionmaker(bind=bind, expire_on_commit=False, autoflush=False)
    event.listen(factory, "before_flush", _refuse_writes)
    return factory


def dialect_insert(bind: Session | Connection, model):
    """An INSERT with the ON CONFLICT clauses of the dialect of a session or connection (PostgreSQL or SQLite)."""
    dialect = bind.dialect if isinstance(bind, Connection) else bind.get_bind().dialect
    if dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(model)


def insert_ignoring_conflicts(bind: Session | Connection, model):
    """An INSERT … ON CONFLICT DO NOTHING for the dialect of a session or connection (PostgreSQL or SQLite)."""
    return dialect_insert(bind, model).on_conflict_do_nothing()


def insert_json_rows(session: Session, table: Table, rows: Sequence[dict], *, skip_conflicts: bool = False,
                     returning: Sequence[str] = ()) -> CursorResult:
    """INSERT many rows on PostgreSQL as ONE parameter, a JSON array read by jsonb_to_recordset, in
    the order given (ids follow it); optionally ON CONFLICT DO NOTHING and RETURNING `returning`.

    From a few rows on this is several times cheaper than multi-row VALUES: the driver has no
    statement of placeholders to build nor parameters to process one by one, and the server none to
    parse. A column one row leaves out is NULL in it; datetimes must carry their zone.
    """
    names = list(dict.fromkeys(name for row in rows for name in row))
    columns = ", ".join(names)
    sql = (f"INSERT INTO {table.name} ({columns}) SELECT {columns} "
           f"FROM ROWS FROM (jsonb_to_recordset(CAST(:rows AS jsonb)) AS ({_json_types(session, table, names)})) "
           f"WITH ORDINALITY AS given({columns}, row_order) ORDER BY row_order")
    if skip_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    if returning:
        sql += " RETURNING " + ", ".join(returning)
    return session.execute(text(sql), {"rows": _json_rows(rows, names)})


def update_json_rows(session: Session, table: Table, rows: Sequence[dict], *, key: str = "id",
                     only_newer: str | None = None) -> CursorResult:
    """UPDATE many rows by `key` on PostgreSQL as ONE parameter, a JSON array of each row's key and new
    values (every row the same columns); `only_newer`: a column a row is only updated by when its
    stored value is NULL or earlier than the one given.

    The same saving as `insert_json_rows`: 32 rows' executemany cost 3 ms of CPU, this under 1 ms.
    """
    names = list(rows[0])
    if key not in names or any(len(row) != len(names) or not all(name in row for name in names) for row in rows):
        raise ValueError(f"every row needs {key!r} and the same columns to be updated this way")
    sets = ", ".join(f"{name} = given.{name}" for name in names if name != key)
    sql = (f"UPDATE {table.name} SET {sets} FROM jsonb_to_recordset(CAST(:rows AS jsonb)) "
           f"AS given({_json_types(session, table, names)}) WHERE {table.name}.{key} = given.{key}")
    if only_newer:
        sql += f" AND ({table.name}.{only_newer} IS NULL OR {table.name}.{only_newer} < given.{only_newer})"
    return session.execute(text(sql), {"rows": _json_rows(rows, names)})


def _json_types(session: Session, table: Table, names: Sequence[str]) -> str:
    """The record definition jsonb_to_recordset reads `names` of `table` with: each with its column's type."""
    dialect = session.get_bind().dialect
    return ", ".join(f"{name} {table.c[name].type.compile(dialect=dialect)}" for name in names)


def _json_rows(rows: Sequence[dict], names: Sequence[str]) -> str:
    """Rows as the JSON array of `insert_json_rows` and `update_json_rows` (a column left out: null)."""
    return json.dumps([{name: row.get(name) for name in names} for row in rows], ensure_ascii=False,
                      default=_json_value)


def take_changes(obj) -> dict[str, object]:
    """A persistent object's unflushed column changes, taken out of the unit of work; {} when there
    are none, or for a new object or one whose relationships changed too (left to the ORM's flush).

    The object keeps the new values in memory and the session no longer writes them: the caller
    writes them with other objects' in one statement (`update_by_key`).
    """
    state = inspect(obj)
    if not state.persistent or not state.modified:
        return {}
    columns = {column.key for column in state.mapper.column_attrs}
    if not set(state.committed_state) <= columns:
        return {}
    changes = {}
    for key in state.committed_state:
        added = state.attrs[key].history.added
        if added:
            changes[key] = added[0]
    # What a flush does once it has written the object: every value committed, the object clean.
    # Clean, it costs every later autoflush of the session nothing (setting values committed one by
    # one would leave it marked modified, for each autoflush to look over again).
    state._commit_all(state.dict, state.session.identity_map)
    return changes


@contextmanager
def walking_indexes(session: Session) -> Iterator[None]:
    """Plan the statements inside with plain index scans, neither bitmap nor sequential scans
    (PostgreSQL; the rest of the transaction is planned as before).

    For the queue tables' takes and claims: a row handled or sent leaves a dead entry in the index of
    waiting rows until VACUUM. A plain index scan marks such entries as it passes them, so the next
    take skips them; a bitmap scan never does, and every take read them all again: 7 ms a take after
    a busy ten minutes instead of under 0.1 ms (docs/bench-webhook.md). Nor would a sequential scan,
    which statistics from a quiet hour can make look cheaper.
    """
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        session.execute(_PLAIN_INDEX_SCANS, {"on": "off"})
    yield
    if postgres:
        session.execute(_PLAIN_INDEX_SCANS, {"on": "on"})


# Both settings in one round trip, for the current transaction only.
_PLAIN_INDEX_SCANS = text("SELECT set_config('enable_bitmapscan', :on, true), set_config('enable_seqscan', :on, true)")


def insert_loaded(session: Session, obj) -> None:
    """INSERT a new object's row with one Core statement and attach the object to `session` as if loaded.

    For a hot path's single new row whose id is needed at once (a new help request): the unit of
    work's flush of one object costs about as much again as running its INSERT. Every column is
    written, None where unset (a scalar default where the column has one), so nothing is left to
    load; a relationship must also be given by its foreign key column, which this does not fill in.
    The object gets its primary key from the INSERT.
    """
    mapper = inspect(obj).mapper
    table = mapper.local_table
    (key,) = table.primary_key.columns
    values = {}
    for prop in mapper.column_attrs:
        column = prop.columns[0]
        if column is key:
            continue
        value = getattr(obj, prop.key)
        if value is None and column.default is not None and column.default.is_scalar:
            value = column.default.arg
        if value is None and (column.server_default is not None or not column.nullable
                              or isinstance(column.type, JSON)):
            # A server default would not apply, and None in a JSON column would be stored as JSON null.
            raise ValueError(f"{table.name}.{column.key} needs a value to be inserted this way")
        setattr(obj, prop.key, value)
        values[column.key] = value
    setattr(obj, mapper.get_property_by_column(key).key, session.execute(_insert_returning(table), values).scalar_one())
    make_transient_to_detached(obj)
    session.add(obj)


_INSERTS: dict[Table, object] = {}


def _insert_returning(table: Table):
    """`INSERT INTO table … RETURNING key`, built once per table."""
    if table not in _INSERTS:
        _INSERTS[table] = insert(table).returning(*table.primary_key.columns)
    return _INSERTS[table]


def update_by_key(session: Session, model, rows: dict[int, dict[str, object]]) -> None:
    """Write {primary key: {attribute: value}} as one statement per set of attributes changed: on
    PostgreSQL from `JSON_FROM_ROWS` rows on one JSON parameter (`update_json_rows`), else an executemany."""
    by_columns: dict[tuple[str, ...], list[dict]] = {}
    for key, values in rows.items():
        by_columns.setdefault(tuple(sorted(values)), []).append({"id": key, **values})
    postgres = session.get_bind().dialect.name == "postgresql"
    mapper = inspect(model)
    for attributes, batch in by_columns.items():
        if not (postgres and len(batch) >= JSON_FROM_ROWS):
            session.execute(update(model), batch)
            continue
        (key,) = mapper.primary_key
        names = {name: mapper.attrs[name].columns[0].key for name in attributes}
        given = [{key.key: row["id"], **{names[name]: row[name] for name in attributes}} for row in batch]
        result = update_json_rows(session, mapper.local_table, given, key=key.key)
        if result.rowcount != len(batch):
            # As the ORM's executemany would: a row gone from under a loaded object is a bug, not a no-op.
            raise StaleDataError(f"UPDATE of {mapper.local_table.name} expected {len(batch)} rows; "
                                 f"{result.rowcount} were matched")


# From this many rows on, PostgreSQL gets a statement's rows as one JSON array (one parameter)
# rather than as multi-row VALUES or an executemany, which cost the driver more from a few rows on
# (rendering the statement, processing each row's parameters): 32 timeline entries took 3.4 ms of
# CPU as VALUES and 0.7-1.1 ms as JSON, 32 rows' UPDATE 3 ms as an executemany and under 1 ms as
# JSON. For the 10:00 check-in scan's 10,000 reminders it also spares a statement of tens of
# thousands of placeholders. One or two rows (a push, a reply) stay plain, as cheap either way.
JSON_FROM_ROWS = 3


def _json_value(value: object) -> str:
    """Datetimes as ISO 8601 with their offset (PostgreSQL reads them as timestamptz); dates as ISO."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware datetimes")
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class _LocalDate(FunctionElement):
    """The local calendar date of a UTC timestamp column (see `local_date`)."""

    type = Date()
    inherit_cache = True
    name = "local_date"


@compiles(_LocalDate, "postgresql")
def _local_date_postgresql(element, compiler, **kw) -> str:
    column, zone, _ = element.clauses
    return f"CAST(({compiler.process(column, **kw)} AT TIME ZONE {compiler.process(zone, **kw)}) AS DATE)"


@compiles(_LocalDate, "sqlite")
def _local_date_sqlite(element, compiler, **kw) -> str:
    column, _, shift = element.clauses
    return f"date({compiler.process(column, **kw)}, {compiler.process(shift, **kw)})"


def local_date(column, tz: ZoneInfo, at: datetime):
    """SQL for the date in `tz` of a timestamp column, so that millions of rows are not converted one
    by one in Python. PostgreSQL uses the zone's rules; SQLite, which has none, the zone's offset at
    `at` (exact for zones without daylight saving, such as Asia/Shanghai)."""
    offset = int(at.astimezone(tz).utcoffset().total_seconds())
    return _LocalDate(column, literal(tz.key), literal(f"{offset:+d} seconds"))
