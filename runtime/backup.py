"""Backups and restores: the database, the media store and a manifest, in one folder.

A backup folder holds:
- `database.dump`: PostgreSQL in pg_dump's custom format, or `database.sqlite3`: a copy made with
  SQLite's online backup API (consistent while the service writes);
- `media/`: every file of the media store as it is kept, already encrypted with a key derived from
  PII_KEY (so a restore needs the same PII_KEY, and the backup holds nothing readable without it);
- `manifest.json`: when, the migration revision, the database kind and row counts, the media files.

pg_dump and pg_restore get the connection from DATABASE_URL as options and environment; the password
goes only in PGPASSWORD, never on a command line or in a log. A restore replaces the database's
tables in one transaction (`pg_restore --clean --if-exists --single-transaction`), creating the
database first when it is gone, and copies the media back.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess  # nosec B404  # runs pg_dump/pg_restore by absolute path, never through a shell
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import Engine, create_engine, func, inspect, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError

from models import metadata
from models.db import normalize_url
from models.migrate import current_revision

MANIFEST = "manifest.json"
PG_FILE = "database.dump"
SQLITE_FILE = "database.sqlite3"
MEDIA_DIR = "media"
FORMAT = 1
# Tables whose row counts the manifest records, to compare after a restore.
COUNTED = ("regions", "staff", "beneficiaries", "service_requests", "request_events", "inbound_messages",
           "outbox", "media_items", "audit_log")
# Query parameters of a PostgreSQL URL and the libpq variables that carry them.
PG_PARAMS = {"sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY",
             "connect_timeout": "PGCONNECT_TIMEOUT", "application_name": "PGAPPNAME", "options": "PGOPTIONS"}

Progress = Callable[[str], None]


class BackupError(Exception):
    """A backup or restore cannot go on; the message says why and what to do."""


@dataclass(frozen=True)
class PgCommand:
    """How pg_dump/pg_restore reach the database: options without secrets, and their environment."""

    options: list[str]
    env: dict[str, str]
    database: str


def database_kind(url: str) -> str:
    """`postgresql` or `sqlite`."""
    return make_url(normalize_url(url)).get_backend_name()


def pg_command(url: str) -> PgCommand:
    """pg_dump/pg_restore's connection for a DATABASE_URL: host, port and user as options, the password
    and TLS settings in the environment."""
    parsed: URL = make_url(normalize_url(url))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    options = []
    host = parsed.host or parsed.query.get("host")
    if host:
        options += ["--host", str(host)]
    if parsed.port:
        options += ["--port", str(parsed.port)]
    if parsed.username:
        options += ["--username", parsed.username]
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    for name, variable in PG_PARAMS.items():
        if parsed.query.get(name):
            env[variable] = str(parsed.query[name])
    if not parsed.database:
        raise BackupError("DATABASE_URL names no database")
    return PgCommand(options, env, parsed.database)


def _program(name: str) -> str:
    """The absolute path of pg_dump or pg_restore, or a clear error."""
    found = shutil.which(name)
    if not found:
        raise BackupError(f"{name} is not installed: install PostgreSQL's client programs (Debian: postgresql-client, "
                          "the same major version as the server); the image has them")
    return found


def _run(program: str, args: list[str], env: dict[str, str], progress: Progress) -> None:
    """Run pg_dump or pg_restore in verbose mode, passing its table lines to `progress`."""
    tail: list[str] = []
    process = subprocess.Popen(  # nosec B603  # absolute program path, arguments built here, no shell
        [_program(program), "--verbose", *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True)
    for line in process.stderr or ():
        line = line.rstrip()
        tail = (tail + [line])[-15:]
        if " table " in line and ("dumping contents" in line or "processing data" in line):
            progress(line.split(": ", 1)[-1])
    if process.wait() != 0:
        raise BackupError(f"{program} failed (exit {process.returncode}):\n" + "\n".join(tail))


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows in each counted table that exists."""
    present = set(inspect(engine).get_table_names())
    counts = {}
    with engine.connect() as connection:
        for name in COUNTED:
            if name in present:
                counts[name] = connection.execute(select(func.count()).select_from(metadata.tables[name])).scalar_one()
    return counts


def _revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return current_revision(connection)


def backup_database(url: str, engine: Engine, folder: Path, progress: Progress) -> str:
    """Copy the database into `folder`; the file's name."""
    if database_kind(url) == "postgresql":
        command = pg_command(url)
        _run("pg_dump", ["--format=custom", "--file", str(folder / PG_FILE), *command.options,
                         "--dbname", command.database], command.env, progress)
        return PG_FILE
    source = make_url(url).database
    if not source or not Path(source).is_file():
        raise BackupError(f"the SQLite database {source!r} does not exist")
    _sqlite_copy(Path(source), folder / SQLITE_FILE)
    progress(f"{(folder / SQLITE_FILE).stat().st_size // 1024} KiB copied")
    return SQLITE_FILE


def _sqlite_copy(source: Path, target: Path) -> None:
    """Copy one SQLite database into another with the online backup API (a consistent snapshot, in steps
    that let the service go on writing between them)."""
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst, pages=1024)


def copy_media_out(store, folder: Path, progress: Progress) -> tuple[int, int]:
    """Copy every file of the plain (still encrypted) media store into `folder`; (files, bytes)."""
    files = size = 0
    for key in store.keys():
        target = folder / key
        target.parent.mkdir(parents=True, exist_ok=True)
        data = store.get(key)
        target.write_bytes(data)
        files, size = files + 1, size + len(data)
        if files % 100 == 0:
            progress(f"{files} media files")
    return files, size


def copy_media_in(store, folder: Path, progress: Progress) -> int:
    """Put every file of a backup's media folder back into the plain media store; how many."""
    if not folder.is_dir():
        return 0
    files = 0
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        store.put(path.relative_to(folder).as_posix(), path.read_bytes(), "application/octet-stream")
        files += 1
        if files % 100 == 0:
            progress(f"{files} media files")
    return files


def create_backup(url: str, engine: Engine, media_store, output: Path, now: datetime, progress: Progress) -> Path:
    """Back up the database and the media store into a new folder under `output`; that folder."""
    folder = output / f"sanzhida-{now.astimezone(timezone.utc):%Y%m%d-%H%M%S}"
    if folder.exists():
        raise BackupError(f"{folder} already exists")
    folder.mkdir(parents=True)
    # The backup holds personal data (encrypted media, the database): only its owner may read it.
    folder.chmod(0o700)
    manifest = {"format": FORMAT, "created_at": now.astimezone(timezone.utc).isoformat(),
                "database": database_kind(url), "revision": _revision(engine), "counts": row_counts(engine)}
    progress("database …")
    manifest["database_file"] = backup_database(url, engine, folder, progress)
    progress("media …")
    files, size = copy_media_out(media_store, folder / MEDIA_DIR, progress)
    progress(f"{files} media file(s), {size // 1024} KiB")
    manifest["media"] = {"files": files, "bytes": size}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return folder


def read_manifest(folder: Path) -> dict:
    """A backup's manifest, checked."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError(f"{folder} is not a backup made by `sanzhida backup` ({MANIFEST}: {exc})") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{folder} has backup format {manifest.get('format')!r}; this release reads {FORMAT}")
    return manifest


def ensure_pg_database(url: str) -> bool:
    """Create the PostgreSQL database DATABASE_URL names when it is gone; True when it was created."""
    probe = create_engine(normalize_url(url))
    try:
        with probe.connect():
            return False
    except OperationalError as exc:
        if "does not exist" not in str(exc.orig):
            raise BackupError(f"cannot connect to the database: {exc.orig}") from None
    finally:
        probe.dispose()
    parsed = make_url(normalize_url(url))
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            name = connection.dialect.identifier_preparer.quote(parsed.database)
            connection.exec_driver_sql(f"CREATE DATABASE {name}")  # an identifier the dialect quoted
    finally:
        admin.dispose()
    return True


def restore_database(url: str, folder: Path, manifest: dict, progress: Progress) -> None:
    """Replace the configured database's contents with the backup's."""
    kind = database_kind(url)
    if manifest.get("database") != kind:
        raise BackupError(f"this backup is of a {manifest.get('database')} database; DATABASE_URL is {kind}")
    if kind == "postgresql":
        if ensure_pg_database(url):
            progress("created the empty database")
        command = pg_command(url)
        _run("pg_restore", ["--clean", "--if-exists", "--no-owner", "--single-transaction", "--exit-on-error",
                            *command.options, "--dbname", command.database, str(folder / PG_FILE)],
             command.env, progress)
        return
    target = Path(make_url(url).database or "")
    target.parent.mkdir(parents=True, exist_ok=True)
    _sqlite_copy(folder / SQLITE_FILE, target)
    progress("database file copied")
