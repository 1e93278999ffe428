"""Alembic migrations: they build the schema from nothing, and the models agree with them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from models import metadata
from models.db import make_engine
from models.migrate import alembic_config, current_revision, head_revision

ROOT = Path(__file__).resolve().parents[2]


def test_models_match_the_migrations(engine):
    """After `upgrade head`, autogenerate finds nothing to change."""
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), metadata)
    assert diff == []


def test_alembic_upgrade_head_on_an_empty_database(databases):
    """Plain `alembic upgrade head` from the repository root builds every table on an empty database."""
    url = databases.new()
    env = {**os.environ, "DATABASE_URL": url}
    result = subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    engine = make_engine(url)
    try:
        tables = set(inspect(engine).get_table_names())
        with engine.connect() as connection:
            assert current_revision(connection) == head_revision()
    finally:
        engine.dispose()
    assert set(metadata.tables) <= tables


def test_downgrade_to_base_and_up_again(databases):
    """Every revision can be undone and re-applied."""
    from alembic import command

    url = databases.new()
    cfg = alembic_config(url)
    command.upgrade(cfg, "head")
    command.downgrade(cfg, "base")
    engine = make_engine(url)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    command.upgrade(cfg, "head")


def _quoted(sqltext: str) -> set[str]:
    """The string literals in a CHECK constraint's SQL: the allowed values."""
    import re

    return set(re.findall(r"'([^']*)'", sqltext))


def test_check_constraints_and_partial_indexes_match_the_models(engine):
    """Autogenerate does not compare CHECKs or index predicates: the allowed values and partial
    indexes in the database must still be exactly the models'."""
    from sqlalchemy import CheckConstraint

    inspector = inspect(engine)
    for table in metadata.sorted_tables:
        expected = {}
        for constraint in table.constraints:
            if isinstance(constraint, CheckConstraint):
                name = str(constraint.name)
                name = name if name.startswith("ck_") else f"ck_{table.name}_{name}"
                expected[name] = _quoted(str(constraint.sqltext))
        actual = {c["name"]: _quoted(c["sqltext"]) for c in inspector.get_check_constraints(table.name)}
        assert actual == expected, table.name
        partial = {i.name for i in table.indexes if i.dialect_options[engine.dialect.name].get("where") is not None}
        found = {
            i["name"]
            for i in inspector.get_indexes(table.name)
            if i.get("dialect_options", {}).get(f"{engine.dialect.name}_where") is not None
        }
        assert found == partial, table.name


def _report_rows(url: str, city_rows: int) -> dict[str, int | None]:
    """Build a database at 0018 with `city_rows` cities (a town under the first), keep a city report
    and a town report, migrate to head; each report's city_id by what it covered."""
    from alembic import command
    from sqlalchemy import text

    cfg = alembic_config(url)
    command.upgrade(cfg, "0018")
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            for n in range(1, city_rows + 1):
                connection.execute(text("INSERT INTO regions (id, code, name, level, is_community, created_at)"
                                        " VALUES (:id, :code, :name, 'city', false, '2026-11-01 00:00:00')"),
                                   {"id": n, "code": f"C{n}", "name": f"市{n}"})
            connection.execute(text("INSERT INTO regions (id, code, name, level, is_community, parent_id, created_at)"
                                    " VALUES (10, 'T1', '镇', 'town', false, 1, '2026-11-01 00:00:00')"))
            for report_id, town in ((1, None), (2, 10)):
                connection.execute(text(
                    "INSERT INTO monthly_reports (id, month, town_id, period_end, complete, made_at, made_by_label,"
                    " xlsx_size, pdf_size, xlsx, pdf) VALUES (:id, '2026-10-01', :town, '2026-10-31', true,"
                    " '2026-11-01 01:00:00', 'scheduler', 1, 1, :blob, :blob)"), {"id": report_id, "town": town,
                                                                                  "blob": b"x"})
        command.upgrade(cfg, "head")
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT id, city_id FROM monthly_reports ORDER BY id")).all()
    finally:
        engine.dispose()
    return {"city": rows[0][1], "town": rows[1][1]}


def test_monthly_reports_get_their_city(databases):
    """0019 fills in each kept report's city: a town's its own city's; the whole report the only city's,
    and, where there are several cities, none (the province's alone)."""
    assert _report_rows(databases.new(), 1) == {"city": 1, "town": 1}
    assert _report_rows(databases.new(), 2) == {"city": None, "town": 1}
