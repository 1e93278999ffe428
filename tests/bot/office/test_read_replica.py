"""The read replica (DATABASE_REPLICA_URL): the dashboard's and reports' reads go to it, every write
(their audit entries included) to the primary, and pages that must show a write just made read the
primary.

On PostgreSQL the "replica" is the test database reached as a role of its own that may only read
(`default_transaction_read_only`, SELECT grants only): a page writing through its read session would
fail there, so pages that render and still leave their audit rows prove the split. Without
TEST_DATABASE_URL (SQLite) there is no replica: the read session is the request's own session.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from bot.deps import db_session, read_session
from config.settings import ConfigError, load_settings
from models import AuditEntry, MonthlyReport, ServiceRequest
from models.db import ReadOnlySessionError, normalize_url
from tests.bot.office.test_pages import csrf, sign_in, town  # noqa: F401  (the fixture)
from tests.conftest import using_postgres
from tests.support.factories import fresh

# The pages that read from the replica, and one that must not (it shows the action just taken).
REPLICATED_PAGES = ("/office/cases", "/office/map", "/office/visits", "/office/figures", "/office/trends")
needs_postgres = pytest.mark.skipif(not using_postgres(), reason="a read-only role needs PostgreSQL")


@pytest.fixture
def reader_url(database_url):
    """The test database's URL as a new login role that may only read, as a replica's user is."""
    role = f"sz_reader_{uuid.uuid4().hex[:10]}"
    admin = create_engine(normalize_url(database_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        connection.execute(text(f'GRANT USAGE ON SCHEMA public TO "{role}"'))
        connection.execute(text(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}"'))
        connection.execute(text(f'ALTER ROLE "{role}" SET default_transaction_read_only = on'))
    yield make_url(normalize_url(database_url)).set(username=role, password=None).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP OWNED BY "{role}"'))
        connection.execute(text(f'DROP ROLE "{role}"'))
    admin.dispose()


@pytest.fixture
def replica_app(make_app, reader_url):
    """The app with DATABASE_REPLICA_URL on the read-only role; its replica engine closed afterwards."""
    app = make_app(database_replica_url=reader_url)
    yield app
    app.extensions["sanzhida"].replica_engine.dispose()


def count_statements(engine) -> list[str]:
    """Every SQL statement run on `engine` from now on (their first words)."""
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute",
                 lambda _conn, _cursor, statement, *_rest: seen.append(statement.split(None, 1)[0].upper()))
    return seen


@needs_postgres
def test_dashboard_pages_read_the_replica_as_the_read_only_role(replica_app, town, reader_url):  # noqa: F811
    """Each replicated page renders from the replica; the sign-in check stays on the primary."""
    client = replica_app.test_client()
    sign_in(client, town.supervisor.staff_no)
    seen = count_statements(replica_app.extensions["sanzhida"].replica_engine)
    for path in REPLICATED_PAGES:
        seen.clear()
        assert client.get(path).status_code == 200, path
        assert "SELECT" in seen and not {"INSERT", "UPDATE", "DELETE"} & set(seen), (path, seen)
    with replica_app.test_request_context():
        assert read_session().scalar(text("SELECT current_user")) == make_url(reader_url).username
        assert db_session().scalar(text("SELECT current_user")) == "postgres"
        assert read_session() is not db_session()


@needs_postgres
def test_the_case_page_reads_the_primary_and_shows_the_action_just_taken(replica_app, town, session):  # noqa: F811
    """A comment posted from the case page is on the page at once: both go to the primary only."""
    number = session.scalars(select(ServiceRequest.id)).one()
    client = replica_app.test_client()
    sign_in(client, town.officer.staff_no)
    path = f"/office/cases/{number}"
    token = csrf(client, path)
    seen = count_statements(replica_app.extensions["sanzhida"].replica_engine)
    answer = client.post(f"{path}/comment", data={"text": "已电话联系家属", "csrf_token": token})
    assert answer.status_code == 302
    assert "已电话联系家属" in client.get(path).get_data(as_text=True)
    assert seen == [], "neither the action nor the case page touches the replica"
    fresh(session)
    assert session.scalars(select(AuditEntry.action).where(AuditEntry.target_id == number)).all() == ["case.comment"]


@needs_postgres
def test_an_export_reads_the_replica_and_audits_on_the_primary(replica_app, town, session):  # noqa: F811
    """The spreadsheet's rows come from the replica; its audit entry is written to the primary."""
    client = replica_app.test_client()
    sign_in(client, town.officer.staff_no)
    seen = count_statements(replica_app.extensions["sanzhida"].replica_engine)
    answer = client.get("/office/export/cases.xlsx")
    assert answer.status_code == 200 and answer.data.startswith(b"PK")
    assert "SELECT" in seen and not {"INSERT", "UPDATE", "DELETE"} & set(seen)
    fresh(session)
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "export.cases")).one()
    assert entry.actor_staff_id == town.officer.id and entry.detail["rows"] == 1


@needs_postgres
def test_making_a_monthly_report_reads_the_replica_and_keeps_it_on_the_primary(replica_app, town, session):  # noqa: F811
    """The figures are read from the replica; the report and its audit entry are kept on the primary."""
    client = replica_app.test_client()
    sign_in(client, town.supervisor.staff_no)
    token = csrf(client, "/office/reports")
    seen = count_statements(replica_app.extensions["sanzhida"].replica_engine)
    answer = client.post("/office/reports", data={"month": "2026-11", "town": "", "csrf_token": token})
    assert answer.status_code == 303
    assert "SELECT" in seen and not {"INSERT", "UPDATE", "DELETE"} & set(seen)
    fresh(session)
    report = session.scalars(select(MonthlyReport)).one()
    made = session.scalars(select(AuditEntry).where(AuditEntry.action == "report.make")).one()
    assert made.actor_staff_id == town.supervisor.id and made.target_id == report.id
    assert client.get("/office/reports").status_code == 200


@needs_postgres
def test_a_write_through_the_read_session_fails(replica_app, town):  # noqa: F811
    """Written through the read session, an entry is refused by the session, and SQL by the replica:
    so the replicated pages above could only have written their audit rows through the primary."""
    with replica_app.test_request_context():
        reads = read_session()
        reads.add(AuditEntry(at=town.person.created_at, actor_kind="system", action="probe"))
        with pytest.raises(ReadOnlySessionError):
            reads.flush()
        reads.rollback()
        with pytest.raises(DBAPIError, match="read-only transaction"):
            reads.execute(text("DELETE FROM audit_log"))


def test_without_a_replica_reads_share_the_primary_session(app, town, session):  # noqa: F811
    """DATABASE_REPLICA_URL unset: read_session() is the request's own session; pages and exports work."""
    assert app.extensions["sanzhida"].replica_engine is None
    with app.test_request_context():
        assert read_session() is db_session()
    client = app.test_client()
    sign_in(client, town.officer.staff_no)
    for path in REPLICATED_PAGES:
        assert client.get(path).status_code == 200, path
    assert client.get("/office/export/cases.xlsx").status_code == 200
    fresh(session)
    assert session.scalars(select(AuditEntry.action).where(AuditEntry.action == "export.cases")).all() == [
        "export.cases"]


def test_the_replica_setting_is_optional_and_postgresql_only():
    """Unset means the primary; a replica beside SQLite, or not PostgreSQL, is refused at start-up."""
    primary = {"DATABASE_URL": "postgresql://sanzhida@db/sanzhida"}
    assert load_settings(primary, read_dotenv=False).database_replica_url is None
    replica = "postgresql://reader@replica/sanzhida"
    assert load_settings({**primary, "DATABASE_REPLICA_URL": replica}, read_dotenv=False).database_replica_url == replica
    with pytest.raises(ConfigError, match="DATABASE_REPLICA_URL"):
        load_settings({"DATABASE_URL": "sqlite:////tmp/x.db", "DATABASE_REPLICA_URL": replica}, read_dotenv=False)
    with pytest.raises(ConfigError, match="DATABASE_REPLICA_URL"):
        load_settings({**primary, "DATABASE_REPLICA_URL": "sqlite:////tmp/copy.db"}, read_dotenv=False)


def test_config_check_shows_the_replica_without_its_password(tmp_path, monkeypatch):
    """`config check` says where the dashboards read, the replica's password hidden."""
    from click.testing import CliRunner

    from cli import main

    monkeypatch.chdir(tmp_path)
    env = {"SANZHIDA_ENV": "development", "DATABASE_URL": "postgresql://sanzhida:pw@db/sanzhida",
           "DATABASE_REPLICA_URL": "postgresql://reader:reader-secret@replica/sanzhida"}
    shown = CliRunner().invoke(main, ["config", "check"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "DATABASE_REPLICA_URL=postgresql://reader:***@replica/sanzhida" in shown.output
    assert "reader-secret" not in shown.output
    unset = CliRunner().invoke(main, ["config", "check"], env={**env, "DATABASE_REPLICA_URL": ""})
    assert "DATABASE_REPLICA_URL=(unset: dashboards read the primary)" in unset.output
