"""`sanzhida wechat`: commands that talk to the WeChat API (the custom menu)."""

from __future__ import annotations

import click

from cli.common import load
from config.settings import Settings


def wechat_client(settings: Settings):
    """A WeChat API client on the configured Redis (for the access token)."""
    from runtime.redis_client import make_redis
    from runtime.wechat import make_wechat_client

    redis = make_redis(settings.redis_url, allow_embedded=not settings.is_production)
    return make_wechat_client(settings, redis)


@click.group("wechat")
def wechat_group() -> None:
    """Commands that talk to the WeChat API."""


@wechat_group.group("menu")
def menu_group() -> None:
    """The official account's custom menu."""


@menu_group.command("push")
@click.option("--dry-run", is_flag=True, help="Print the menu instead of installing it.")
def menu_push(dry_run: bool) -> None:
    """Install the custom menu (找协理员 / 工作台 / 使用帮助) on the official account."""
    import json

    from wechatpy.exceptions import WeChatClientException

    from handlers.menu import MENU

    settings = load()
    if dry_run:
        click.echo(json.dumps(MENU, ensure_ascii=False, indent=2))
        return
    try:
        wechat_client(settings).menu.create(MENU)
    except WeChatClientException as exc:
        raise click.ClickException(f"WeChat refused the menu: {exc.errcode} {exc.errmsg}") from None
    click.echo(f"Menu installed ({len(MENU['button'])} buttons).")
