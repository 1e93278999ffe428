"""The suite's own set-up: TEST_DATABASE_URL may name a database that does not exist yet."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from models.db import normalize_url
from tests.conftest import ThrowawayDatabases, using_postgres


@pytest.mark.skipif(not using_postgres(), reason="PostgreSQL only: SQLite files need no database created first")
def test_a_missing_test_database_is_created(tmp_path_factory):
    """Pointed at a database that is not there, the set-up creates it and still makes throwaway ones beside it."""
    base = make_url(normalize_url(os.environ["TEST_DATABASE_URL"]))
    missing = f"sanzhida_base_{uuid.uuid4().hex[:10]}"
    databases = ThrowawayDatabases(tmp_path_factory)
    databases.base = base.set(database=missing).render_as_string(hide_password=False)
    maintenance = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        url = databases.new()
        engine = create_engine(normalize_url(url))
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT 1")) == 1
        engine.dispose()
        with maintenance.connect() as connection:
            assert connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": missing}) == 1
    finally:
        databases.drop_all()
        with maintenance.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{missing}" WITH (FORCE)'))
        maintenance.dispose()
