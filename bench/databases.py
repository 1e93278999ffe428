"""The benchmarks' databases: copies of a seeded city made and dropped around a run, on PostgreSQL."""

from __future__ import annotations

import sys
import time

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from models.db import normalize_url


def admin_execute(url: str, sql: str) -> None:
    """Run one statement outside a transaction (CREATE/DROP DATABASE) on the server of `url`."""
    engine = create_engine(make_url(normalize_url(url)).set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(sql))
    finally:
        engine.dispose()


def copy_database(source_url: str, name: str, *, attempts: int = 6, wait: float = 3.0) -> str:
    """(Re)create database `name` as a copy of the source; the URL of the copy.

    PostgreSQL refuses a template someone is connected to; we wait and retry rather than
    disconnect anybody from the source.
    """
    source = make_url(normalize_url(source_url))
    admin_execute(source_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    for attempt in range(1, attempts + 1):
        try:
            # FILE_COPY copies the files as they are: for a province (some 20 GB) minutes faster than
            # PostgreSQL 15's default, which writes every block of the copy to the WAL.
            admin_execute(source_url, f'CREATE DATABASE "{name}" TEMPLATE "{source.database}" STRATEGY FILE_COPY')
            break
        except Exception as exc:  # noqa: BLE001 - psycopg's ObjectInUse, wrapped by SQLAlchemy
            if "being accessed by other users" not in str(exc) or attempt == attempts:
                raise
            print(f"  source database busy, retrying in {wait:.0f} s ({attempt}/{attempts})", file=sys.stderr)
            time.sleep(wait)
    return source.set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    """Drop the database of `url` (a copy or throwaway this script made)."""
    admin_execute(url, f'DROP DATABASE IF EXISTS "{make_url(normalize_url(url)).database}" WITH (FORCE)')
