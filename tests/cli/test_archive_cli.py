"""`sanzhida archive run`: a dry run counts and changes nothing, a run moves with progress, a month too
recent is refused with the reason."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from cli import main
from config.settings import ConfigError, load_settings
from models import ArchivedInboundMessage, InboundMessage
from models.db import make_engine, make_session_factory
from tests.cli.test_cli import cli_env


def counts(url: str) -> tuple[int, int]:
    """(hot, archived) messages."""
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            return (session.scalar(select(func.count()).select_from(InboundMessage)),
                    session.scalar(select(func.count()).select_from(ArchivedInboundMessage)))
    finally:
        engine.dispose()


def test_archive_run_dry_run_then_run(tmp_path):
    """Five handled messages of three years ago and one of today: the dry run counts five and moves
    nothing; the run moves them with a progress line per window and no contents; a rerun moves none."""
    env = cli_env(tmp_path)
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    engine = make_engine(env["DATABASE_URL"])
    now = datetime.now(timezone.utc)
    with make_session_factory(engine)() as session:
        for n in range(6):
            at = now if n == 5 else now - timedelta(days=3 * 365)
            session.add(InboundMessage(dedupe_key=f"msg:{n}", openid="o-1", msg_type="text", sent_at=at,
                                       received_at=at, content="身份证号在这里", payload={}, handled_at=at))
        session.commit()
    engine.dispose()

    dry = runner.invoke(main, ["archive", "run", "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert "Would move 5 rows (request_events 0, inbound_messages 5, outbox 0)" in dry.output
    assert counts(env["DATABASE_URL"]) == (6, 0)

    before = (now - timedelta(days=2 * 365)).strftime("%Y-%m")
    done = runner.invoke(main, ["archive", "run", "--before", before], env=env)
    assert done.exit_code == 0, done.output
    assert "inbound_messages: ids up to" in done.output and "Moved 5 rows" in done.output
    assert "身份证号" not in done.output
    assert counts(env["DATABASE_URL"]) == (1, 5)
    assert "Moved 0 rows" in runner.invoke(main, ["archive", "run"], env=env).output


def test_archive_run_refuses_a_month_inside_the_retention(tmp_path):
    """This month is never archived: exit 2 naming ARCHIVE_AFTER_MONTHS; a bad month is refused too."""
    env = cli_env(tmp_path)
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    recent = runner.invoke(main, ["archive", "run", "--before", datetime.now(timezone.utc).strftime("%Y-%m")], env=env)
    assert recent.exit_code == 2 and "ARCHIVE_AFTER_MONTHS=13" in recent.output
    bad = runner.invoke(main, ["archive", "run", "--before", "2025-13"], env=env)
    assert bad.exit_code == 2 and "not a month" in bad.output


def test_archive_after_months_keeps_at_least_a_year_of_reports():
    """13 by default; 24 is taken; 12 would archive a month the reports still compare, and is refused."""
    assert load_settings({}, read_dotenv=False).archive_after_months == 13
    assert load_settings({"ARCHIVE_AFTER_MONTHS": "24"}, read_dotenv=False).archive_after_months == 24
    with pytest.raises(ConfigError, match="ARCHIVE_AFTER_MONTHS must be at least 13"):
        load_settings({"ARCHIVE_AFTER_MONTHS": "12"}, read_dotenv=False)
