"""`sanzhida wechat`: commands that talk to the WeChat API (the custom menu)."""

from __future__ import annotations

import click

from cli.common import app_services, load


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

    if dry_run:
        load()
        click.echo(json.dumps(MENU, ensure_ascii=False, indent=2))
        return
    try:
        with app_services() as svc:
            svc.wechat.menu.create(MENU)
    except WeChatClientException as exc:
        raise click.ClickException(f"WeChat refused the menu: {exc.errcode} {exc.errmsg}") from None
    click.echo(f"Menu installed ({len(MENU['button'])} buttons).")
