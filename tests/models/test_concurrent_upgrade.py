"""Several processes upgrading one database at once, as web replicas do when they start together:
on PostgreSQL they take turns on an advisory lock, so each ends at head and none fails."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import create_engine

from models.db import normalize_url
from models.migrate import current_revision, head_revision
from tests.conftest import using_postgres

UPGRADE = "import sys; from models.migrate import upgrade; upgrade(sys.argv[1])"


@pytest.mark.skipif(not using_postgres(), reason="SQLite has one writer; the lock is PostgreSQL's")
def test_three_processes_upgrading_at_once_all_succeed(databases):
    """Started together on an empty database, three `db upgrade`s all exit 0 and the schema is at head."""
    url = databases.new()
    runs = [subprocess.Popen([sys.executable, "-c", UPGRADE, url], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            for _ in range(3)]
    outputs = [run.communicate(timeout=300)[0].decode(errors="replace") for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], "\n".join(o[-1500:] for o in outputs)
    engine = create_engine(normalize_url(url))
    with engine.connect() as connection:
        assert current_revision(connection) == head_revision()
    engine.dispose()
