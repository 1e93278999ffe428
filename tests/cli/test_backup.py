"""`sanzhida backup` and `restore`: a database with cases and a media file is backed up, dropped and
restored, and the service answers with the same cases and reads the file back. On PostgreSQL through
pg_dump/pg_restore, on the embedded default through SQLite's backup API; media in a folder or S3."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, select
from sqlalchemy.engine import make_url

from bot.app import create_app
from cli import main
from models import ServiceRequest
from models.db import normalize_url
from models.migrate import head_revision, upgrade
from runtime import backup
from runtime.media_store import make_media_store
from tests.cli.test_cli import cli_env
from tests.conftest import using_postgres
from tests.support.s3 import start_s3_server
from tests.support.factories import make_beneficiary, make_town

AUTH = {"Authorization": "Bearer test-admin-token"}
PHOTO = b"\xff\xd8\xff\xe0 a photo of a certificate"


def drop_database(url: str) -> None:
    """Drop the database DATABASE_URL names (PostgreSQL), or delete its file (SQLite)."""
    if make_url(normalize_url(url)).get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(make_url(url).database + suffix).unlink(missing_ok=True)
        return
    parsed = make_url(normalize_url(url))
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE "{parsed.database}" WITH (FORCE)')
    admin.dispose()


def run(args: list[str], env: dict):
    """Run a `sanzhida` command."""
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 0, result.output
    return result


def backup_folder(output: str) -> Path:
    """The folder `sanzhida backup` says it wrote."""
    line = next(line for line in output.splitlines() if line.startswith("Backup written to "))
    return Path(line.removeprefix("Backup written to ").split(": revision", 1)[0])


def test_a_database_with_cases_and_media_survives_backup_drop_and_restore(databases, settings, redis_client, clock,
                                                                          sender, tmp_path):
    """Cases made through the webhook, a media file, a backup; the database dropped and the media folder
    deleted; a restore; the API answers each case as before and the file decrypts to the same bytes."""
    url = databases.new()
    upgrade(url)
    live = settings.with_overrides(database_url=url, media_store_url=(tmp_path / "media").as_uri())
    app = create_app(live, clock=clock, redis=redis_client)
    svc = app.extensions["sanzhida"]
    with svc.session_factory() as session:
        town = make_town(session, clock())
        elders = [make_beneficiary(session, town.village, clock(), assistant=town.assistant) for _ in range(2)]
        session.commit()
        codes = [elder.bind_code for elder in elders]
    client = app.test_client()
    for n, (code, words) in enumerate(zip(codes, ("家里没米了", "我摔倒了起不来"))):
        for text in (f"绑定 {code}", "1", words):
            assert sender.post(client, sender.text(f"o-family-{n}", text))[0].status_code == 200
            clock.advance(seconds=3)
    with svc.session_factory() as session:
        case_ids = session.scalars(select(ServiceRequest.id).order_by(ServiceRequest.id)).all()
    assert len(case_ids) == 2
    before = {n: client.get(f"/api/v1/requests/{n}", headers=AUTH).get_json() for n in case_ids}
    svc.media_store.put("2026/12/01/1.jpg", PHOTO, "image/jpeg")
    svc.engine.dispose()

    env = {**cli_env(tmp_path), "DATABASE_URL": url, "MEDIA_STORE_URL": live.media_store_url, "PII_KEY": live.pii_key}
    made = run(["backup", "--output", str(tmp_path / "backups")], env)
    folder = backup_folder(made.output)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["counts"]["service_requests"] == 2 and manifest["media"]["files"] == 1
    assert manifest["revision"] == head_revision()
    assert (folder / ("database.dump" if using_postgres() else "database.sqlite3")).is_file()
    assert b"certificate" not in (folder / "media" / "2026/12/01/1.jpg").read_bytes()  # kept encrypted
    assert live.pii_key not in made.output and "PGPASSWORD" not in made.output

    drop_database(url)
    shutil.rmtree(tmp_path / "media")
    restored = run(["restore", str(folder), "--yes"], env)
    assert "1 media file(s)" in restored.output
    if using_postgres():
        assert "created the empty database" in restored.output

    again = create_app(live, clock=clock, redis=redis_client)
    try:
        client = again.test_client()
        assert {n: client.get(f"/api/v1/requests/{n}", headers=AUTH).get_json() for n in case_ids} == before
        assert again.extensions["sanzhida"].media_store.get("2026/12/01/1.jpg") == PHOTO
    finally:
        again.extensions["sanzhida"].engine.dispose()


def test_restore_refuses_what_is_not_a_backup_and_asks_before_replacing(tmp_path):
    """A folder without a manifest is refused plainly; without --yes the command asks, and no means no."""
    env = cli_env(tmp_path, MEDIA_STORE_URL=(tmp_path / "media").as_uri())
    (tmp_path / "not-a-backup").mkdir()
    refused = CliRunner().invoke(main, ["restore", str(tmp_path / "not-a-backup"), "--yes"], env=env)
    assert refused.exit_code == 1 and "is not a backup made by `sanzhida backup`" in refused.output
    run(["db", "upgrade"], env)
    folder = backup_folder(run(["backup", "--output", str(tmp_path / "b")], env).output)
    asked = CliRunner().invoke(main, ["restore", str(folder)], env=env, input="n\n")
    assert asked.exit_code == 1 and "Replace every table in" in asked.output and "Aborted" in asked.output


def test_pg_dump_gets_the_password_only_in_its_environment():
    """The connection options name host, port and user; the password and TLS mode go in libpq's variables."""
    command = backup.pg_command("postgresql://sanzhida:s3cr%40t@db.internal:6543/sanzhida?sslmode=require")
    assert command.options == ["--host", "db.internal", "--port", "6543", "--username", "sanzhida"]
    assert command.database == "sanzhida"
    assert command.env["PGPASSWORD"] == "s3cr@t" and command.env["PGSSLMODE"] == "require"
    assert not any("s3cr" in option for option in command.options)


@pytest.fixture
def s3_server():
    """A local S3 server (moto) speaking S3's HTTP API."""
    url, server = start_s3_server()
    yield url
    server.stop()


def test_media_in_s3_are_copied_out_and_back(databases, tmp_path, s3_server):
    """An s3:// store: every object under the prefix goes into the backup and back into the bucket."""
    url = databases.new()
    upgrade(url)
    env = {**cli_env(tmp_path), "DATABASE_URL": url, "MEDIA_STORE_URL": "s3://office-media/honghu",
           "S3_ENDPOINT_URL": s3_server, "S3_ACCESS_KEY_ID": "k", "S3_SECRET_ACCESS_KEY": "s"}
    settings = live_settings(env)
    store = make_media_store(settings)
    store.inner.client.create_bucket(Bucket="office-media")
    store.put("2026/12/01/1.amr", b"#!AMR\n voice", "audio/amr")
    store.put("2026/12/02/2.jpg", PHOTO, "image/jpeg")
    store.inner.client.put_object(Bucket="office-media", Key="elsewhere/x", Body=b"not ours")
    folder = backup_folder(run(["backup", "--output", str(tmp_path / "b")], env).output)
    assert sorted(p.relative_to(folder / "media").as_posix() for p in (folder / "media").rglob("*") if p.is_file()) == [
        "2026/12/01/1.amr", "2026/12/02/2.jpg"]
    for key in ("2026/12/01/1.amr", "2026/12/02/2.jpg"):
        store.delete(key)
    run(["restore", str(folder), "--yes"], env)
    assert store.get("2026/12/01/1.amr") == b"#!AMR\n voice" and store.get("2026/12/02/2.jpg") == PHOTO


def live_settings(env: dict):
    """The settings a command run with `env` reads."""
    from config.settings import load_settings

    return load_settings(env, read_dotenv=False)
