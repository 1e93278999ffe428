"""`sanzhida db`: bring the database schema to a revision and show where it stands."""

from __future__ import annotations

import click

from cli.common import app_services, load, safe_url


@click.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target Alembic revision.")
def db_upgrade(revision: str) -> None:
    """Apply migrations to the configured database (SQLite or PostgreSQL)."""
    from models.migrate import upgrade

    settings = load()
    click.echo(f"Migrating {safe_url(settings.database_url)} to {revision} …")
    upgrade(settings.database_url, revision)
    click.echo("Done.")


@db.command("current")
def db_current() -> None:
    """Show the database's migration revision and the newest one available."""
    from models.migrate import current_revision, head_revision

    with app_services(read_only=True) as svc, svc.engine.connect() as connection:
        current = current_revision(connection)
    head = head_revision()
    click.echo(f"current: {current or 'none'}\nhead:    {head}")
    if current != head:
        click.echo("Run `sanzhida db upgrade` to bring the database to head.")
