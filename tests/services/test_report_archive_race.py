"""Two web machines making the same month's report at the same moment keep one report, both audited."""

from __future__ import annotations

import threading
import time
from datetime import date
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text

from models import AuditEntry, MonthlyReport
from models.db import make_session_factory
from services import monthly_report, report_archive
from tests.conftest import using_postgres
from tests.support.factories import fresh, make_town

NOVEMBER = date(2026, 11, 1)
TZ = ZoneInfo("Asia/Shanghai")


def wait_until_blocked(session) -> None:
    """Return once another connection of this database waits on a lock (the second maker's insert)."""
    deadline = time.monotonic() + 60  # only so a broken race cannot hang the suite
    while not session.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                                  " AND wait_event_type = 'Lock'")):
        assert time.monotonic() < deadline, "the second maker never waited on the first one's row"
        time.sleep(0.05)
        session.rollback()


@pytest.mark.skipif(not using_postgres(), reason="SQLite runs one writer at a time: no two makers overlap")
def test_two_makers_at_once_keep_one_report(db, session, clock):
    """The first insert holds the month's unique key; the second waits for it, then replaces its files."""
    make_town(session, clock())
    factory = make_session_factory(db)
    first, second = factory(), factory()
    try:
        data = monthly_report.assemble(first, NOVEMBER, TZ, clock())
        report_archive.save(first, data, b"PK first", b"%PDF first", actor="scheduler", now=clock())
        outcome: dict[str, object] = {}

        def other_maker() -> None:
            try:
                report_archive.save(second, data, b"PK second", b"%PDF second", actor="cli", now=clock())
                second.commit()
                outcome["ok"] = True
            except Exception as exc:  # reported below with the assertion
                outcome["error"] = exc

        racing = threading.Thread(target=other_maker)
        racing.start()
        # The other maker's insert waits on the unique key the first one holds uncommitted.
        wait_until_blocked(session)
        first.commit()
        racing.join(timeout=30)
        assert outcome == {"ok": True}
    finally:
        first.close()
        second.close()
    fresh(session)
    (kept,) = session.scalars(select(MonthlyReport)).all()
    assert kept.xlsx == b"PK second" and kept.made_by_label == "cli"
    made = session.scalars(select(AuditEntry.target_id).where(AuditEntry.action == "report.make")).all()
    assert made == [kept.id, kept.id]
