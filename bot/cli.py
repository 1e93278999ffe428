"""The `sanzhida` command line: database, development server, demo data, WeChat stand-in, scheduler."""

from __future__ import annotations

import logging
import sys

import click
from sqlalchemy.engine import make_url

from config.logging import setup_logging
from config.settings import ConfigError, Settings, load_settings, settings_variables

logger = logging.getLogger(__name__)


def _settings() -> Settings:
    try:
        settings = load_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    setup_logging(settings.log_level)
    return settings


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """三直达 Sanzhida: the civil-affairs service desk on WeChat."""


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target Alembic revision.")
def db_upgrade(revision: str) -> None:
    """Apply migrations to the configured database (SQLite or PostgreSQL)."""
    from models.migrate import upgrade

    settings = _settings()
    click.echo(f"Migrating {_safe_url(settings.database_url)} to {revision} …")
    upgrade(settings.database_url, revision)
    click.echo("Done.")


@db.command("current")
def db_current() -> None:
    """Show the database's migration revision and the newest one available."""
    from models.db import make_engine
    from models.migrate import current_revision, head_revision

    settings = _settings()
    engine = make_engine(settings.database_url)
    with engine.connect() as connection:
        current = current_revision(connection)
    engine.dispose()
    head = head_revision()
    click.echo(f"current: {current or 'none'}\nhead:    {head}")
    if current != head:
        click.echo("Run `sanzhida db upgrade` to bring the database to head.")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--debug/--no-debug", default=False, help="Flask debugger and reloader (never in production).")
def serve(host: str, port: int, debug: bool) -> None:
    """Run the development server (production runs gunicorn)."""
    from bot.app import create_app

    settings = _settings()
    if settings.is_production and debug:
        raise click.ClickException("--debug is refused when SANZHIDA_ENV=production")
    app = create_app(settings)
    base = f"http://{host}:{port}"
    click.echo(
        f"三直达 is running ({settings.env}).\n"
        f"  Health:   {base}/healthz\n"
        f"  Ready:    {base}/readyz\n"
        f"  WeChat:   {base}/wechat   (set this URL and WECHAT_TOKEN in the WeChat console)\n"
        "Press Ctrl-C to stop."
    )
    app.run(host=host, port=port, debug=debug, use_reloader=debug)


@main.command("fake-wechat")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8900, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
def fake_wechat(host: str, port: int) -> None:
    """Run the local stand-in for the WeChat API (point WECHAT_API_BASE_URL at it)."""
    from bot.fake_wechat import FakeWeChatServer

    server = FakeWeChatServer(host, port)
    click.echo(
        f"WeChat API stand-in on http://{host}:{server.port}\n"
        f"  WECHAT_API_BASE_URL={server.base_url}\n"
        f"  Recorded calls: http://{host}:{server.port}/_calls\n"
        "Press Ctrl-C to stop."
    )
    server.serve_forever()


@main.group()
def seed() -> None:
    """Load demonstration data."""


@seed.command("demo")
@click.option("--scale", type=click.Choice(["small"]), default="small", show_default=True, help="How much data.")
@click.option("--seed", "seed_value", default=1, show_default=True, type=int, help="Random seed; same seed, same data.")
@click.option("--if-empty", is_flag=True, help="Do nothing (and succeed) when the database already has data.")
def seed_demo(scale: str, seed_value: int, if_empty: bool) -> None:
    """Create a generated demo town with staff of every role and beneficiaries."""
    from bot.app import system_clock
    from handlers.services import demo
    from handlers.services.pii import PiiCipher
    from models.db import make_engine, make_session_factory

    settings = _settings()
    engine = make_engine(settings.database_url)
    with make_session_factory(engine)() as session:
        try:
            summary = demo.seed_small(session, PiiCipher(settings.pii_key), system_clock(), seed=seed_value)
        except demo.AlreadySeeded:
            if if_empty:
                click.echo("The database already has data; demo not loaded.")
                return
            raise click.ClickException("The database already has regions; use an empty database for the demo.")
        session.commit()
    engine.dispose()
    click.echo(
        f"Demo loaded ({scale}): {summary.regions} regions, {summary.staff} staff, "
        f"{summary.beneficiaries} beneficiaries."
    )


@main.group("config")
def config_group() -> None:
    """Settings commands."""


@config_group.command("check")
def config_check() -> None:
    """Validate the settings and show them, secrets hidden."""
    settings = _settings()
    click.echo(f"SANZHIDA_ENV={settings.env}")
    click.echo(f"DATABASE_URL={_safe_url(settings.database_url)}")
    click.echo(f"REDIS_URL={settings.redis_url or '(embedded stand-in)'}")
    click.echo(f"WECHAT_API_BASE_URL={settings.wechat_api_base_url}")
    click.echo(f"WeChat message mode: {'safe/compatible (AES)' if settings.safe_mode else 'plaintext'}")
    click.echo(f"SANZHIDA_TZ={settings.tz_name}")
    click.echo("Variables read: " + ", ".join(settings_variables()))
    click.echo("Settings are valid.")


@main.group("scheduler")
def scheduler_group() -> None:
    """The scheduler process (run exactly one per deployment)."""


@scheduler_group.command("run")
def scheduler_run() -> None:
    """Run the scheduler in the foreground until stopped."""
    from scheduler.runner import run_forever

    run_forever(_settings())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
