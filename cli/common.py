"""What every command shares: the settings (a clear error when one is missing) and safe display of URLs."""

from __future__ import annotations

import click
from sqlalchemy.engine import make_url

from config.logging import setup_logging
from config.settings import ConfigError, Settings, load_settings


def load() -> Settings:
    """The settings from the environment, with logging set up; a bad setting stops the command."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    setup_logging(settings.log_level)
    return settings


def safe_url(url: str) -> str:
    """A database or Redis URL with its password hidden."""
    return make_url(url).render_as_string(hide_password=True)
