"""Engines and sessions: one engine per process, one session per request or job."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


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


def make_engine(url: str, *, sqlite_immediate: bool = True, **kwargs) -> Engine:
    """Create the engine for a database URL, with the settings each dialect needs.

    SQL parameters never appear in errors or logs: they hold ID numbers, phones and messages.
    `sqlite_immediate=False` is for read-mostly tools that must not block writers.
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
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 5)
        kwargs.setdefault("max_overflow", 10)
    return create_engine(url, **kwargs)


def make_session_factory(bind) -> sessionmaker[Session]:
    """A session factory; objects stay readable after commit so replies can use them."""
    return sessionmaker(bind=bind, expire_on_commit=False)


def insert_ignoring_conflicts(bind: Session | Connection, model):
    """An INSERT … ON CONFLICT DO NOTHING for the dialect of a session or connection (PostgreSQL or SQLite)."""
    dialect = bind.dialect if isinstance(bind, Connection) else bind.get_bind().dialect
    if dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(model).on_conflict_do_nothing()
