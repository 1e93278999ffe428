"""`sanzhida backup` and `sanzhida restore`: the database, the media store and a manifest in one folder
(runtime/backup.py does the work; these show its progress)."""

from __future__ import annotations

from pathlib import Path

import click

from cli.common import load, safe_url


def _progress(step: str) -> None:
    """One line of progress."""
    click.echo(f"  {step}")


@click.command("backup")
@click.option("--output", type=click.Path(file_okay=False, path_type=Path), default=Path("backups"),
              show_default=True, help="Folder in which the new sanzhida-YYYYMMDD-HHMMSS backup folder is made.")
def backup_command(output: Path) -> None:
    """Back up the database (pg_dump, or SQLite's backup API) and the media store (its files as kept,
    encrypted), with a manifest. The service may keep running."""
    from datetime import datetime, timezone

    from models.db import make_engine
    from runtime import backup
    from runtime.media_store import make_media_store

    settings = load()
    click.echo(f"Backing up {safe_url(settings.database_url)} and {settings.media_store_url} into {output} …")
    engine = make_engine(settings.database_url, sqlite_immediate=False)
    try:
        folder = backup.create_backup(settings.database_url, engine, make_media_store(settings).inner, output,
                                      datetime.now(timezone.utc), _progress)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()
    manifest = backup.read_manifest(folder)
    click.echo(f"Backup written to {folder}: revision {manifest['revision']}, "
               + ", ".join(f"{n} {t}" for t, n in manifest["counts"].items())
               + f"; {manifest['media']['files']} media file(s).")
    click.echo("It holds personal data: keep it as safely as the database, and keep PII_KEY, without which "
               "its ID numbers and media cannot be read.")


@click.command("restore")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Replace without asking.")
def restore_command(folder: Path, yes: bool) -> None:
    """Replace the database's contents with a backup's and put its media files back. Stop web, the
    workers and the scheduler first; PII_KEY must be the one the backup was made with."""
    from models.db import make_engine
    from models.migrate import head_revision
    from runtime import backup
    from runtime.media_store import make_media_store

    settings = load()
    try:
        manifest = backup.read_manifest(folder)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Backup of {manifest['created_at']}: {manifest['database']} at revision {manifest['revision']}, "
               f"{manifest['media']['files']} media file(s).")
    if not yes:
        click.confirm(f"Replace every table in {safe_url(settings.database_url)} with this backup?", abort=True)
    click.echo("Restoring the database …")
    try:
        backup.restore_database(settings.database_url, folder, manifest, _progress)
        click.echo("Restoring the media …")
        files = backup.copy_media_in(make_media_store(settings).inner, folder / backup.MEDIA_DIR, _progress)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    engine = make_engine(settings.database_url, sqlite_immediate=False)
    try:
        counts = backup.row_counts(engine)
    finally:
        engine.dispose()
    click.echo(f"Restored: {files} media file(s); rows now (at backup time):")
    for table, count in counts.items():
        then = manifest["counts"].get(table)
        click.echo(f"  {table:<18} {count:>8} ({then if then is not None else '-'})")
    click.echo("Counts taken while the service ran may differ by the writes made during the backup.")
    if manifest["revision"] != head_revision():
        click.echo(f"The backup is at revision {manifest['revision']}, this release at {head_revision()}: "
                   "when this release is the newer, run `sanzhida db upgrade`.")
