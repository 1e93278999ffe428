"""What every command shares: the settings (a clear error when one is missing), the services built by
the composition root, and safe display of URLs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click
from sqlalchemy.engine import make_url

from config.logging import setup_logging
from config.settings import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from runtime.container import AppServices


def load() -> Settings:
    """The settings from the environment, with logging set up; a bad setting stops the command."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    setup_logging(settings.log_level, settings.log_format)
    return settings


def metrics_port_option(command):
    """Add `--metrics-port` to a long-running process's command."""
    return click.option(
        "--metrics-port", type=click.IntRange(0, 65535), default=None, metavar="PORT",
        help="Serve Prometheus metrics on METRICS_BIND:PORT (default: METRICS_PORT; 0: none).",
    )(command)


def load_for_process(metrics_port: int | None) -> Settings:
    """The settings, with `--metrics-port` (when given) in place of METRICS_PORT."""
    settings = load()
    return settings if metrics_port is None else settings.with_overrides(metrics_port=metrics_port)


def safe_url(url: str) -> str:
    """A database or Redis URL with its password hidden."""
    return make_url(url).render_as_string(hide_password=True)


@contextmanager
def app_services(*, read_only: bool = False) -> Iterator[AppServices]:
    """The settings and what the composition root builds from them, as every process gets them;
    the database connections are closed when the command ends."""
    # Imported here so `--help` and the settings check stay quick.
    from runtime.container import build_services

    svc = build_services(load(), read_only=read_only)
    try:
        yield svc
    finally:
        svc.engine.dispose()
