"""`sanzhida config check`: validate the settings and show them, secrets hidden."""

from __future__ import annotations

import click

from cli.common import load, safe_url
from config.settings import settings_variables


@click.group("config")
def config_group() -> None:
    """Settings commands."""


@config_group.command("check")
def config_check() -> None:
    """Validate the settings and show them, secrets hidden."""
    settings = load()
    click.echo(f"SANZHIDA_ENV={settings.env}")
    click.echo(f"DATABASE_URL={safe_url(settings.database_url)}")
    replica = settings.database_replica_url
    click.echo(f"DATABASE_REPLICA_URL={safe_url(replica) if replica else '(unset: dashboards read the primary)'}")
    click.echo(f"REDIS_URL={safe_url(settings.redis_url) if settings.redis_url else '(embedded stand-in)'}")
    click.echo(f"WECHAT_API_BASE_URL={settings.wechat_api_base_url}")
    click.echo(f"WeChat message mode: {'safe/compatible (AES)' if settings.safe_mode else 'plaintext'}")
    click.echo(f"SANZHIDA_TZ={settings.tz_name}")
    if settings.sms_provider:
        templates = ", ".join(f"{kind}={code}" for kind, code in settings.sms_templates)
        # The AccessKey secret is never shown; the id says which key is in use.
        click.echo(f"SMS: {settings.sms_provider} at {settings.sms_endpoint}, key {settings.sms_access_key_id}"
                   f" (secret hidden), sign {settings.sms_sign_name}, templates {templates}")
    else:
        click.echo("SMS: off (SMS_PROVIDER unset)")
    click.echo("Variables read: " + ", ".join(settings_variables()))
    click.echo("Settings are valid.")
