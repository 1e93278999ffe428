"""`sanzhida wechat`: commands that talk to the WeChat API: the custom menu, and setting up and checking
the official account (`setup`, `check`; the checks are in cli/wechat_checks.py)."""

from __future__ import annotations

import click

from cli.common import app_services, load
from cli.wechat_accounts import accounts_group

# Which official account a command is about.
_ACCOUNT = click.option("--account", "slug", metavar="SLUG",
                        help="An account added with `wechat accounts add` (default: the settings' WECHAT_APP_ID).")


@click.group("wechat")
def wechat_group() -> None:
    """Commands that talk to the WeChat API, and the deployment's official accounts."""


wechat_group.add_command(accounts_group)


@wechat_group.group("menu")
def menu_group() -> None:
    """The official account's custom menu."""


@menu_group.command("push")
@click.option("--dry-run", is_flag=True, help="Print the menu instead of installing it.")
@_ACCOUNT
def menu_push(dry_run: bool, slug: str | None) -> None:
    """Install the custom menu (平安 / 找协理员 / 工作台) on the official account."""
    import json

    from wechatpy.exceptions import WeChatClientException

    from handlers.menu import MENU

    if dry_run:
        load()
        click.echo(json.dumps(MENU, ensure_ascii=False, indent=2))
        return
    try:
        with app_services() as svc:
            account = svc.accounts.by_slug(slug) if slug else svc.accounts.default
            if account is None:
                raise click.ClickException(f"No account {slug!r}: see `sanzhida wechat accounts list`")
            svc.accounts.client(account.id).menu.create(MENU)
    except WeChatClientException as exc:
        raise click.ClickException(f"WeChat refused the menu: {exc.errcode} {exc.errmsg}") from None
    click.echo(f"Menu installed ({len(MENU['button'])} buttons).")


def _target(svc, slug: str | None):
    """The account asked for (the settings' one without --account), its API client and a heading."""
    from cli import wechat_checks as checks
    from services.pii import PiiCipher
    from services.wechat_accounts import load_accounts

    settings = svc.settings
    if slug is None:
        return checks.default_target(settings), svc.wechat
    with svc.session_factory() as session:
        found = next((a for a in load_accounts(session, PiiCipher(settings.pii_key)) if a.slug == slug), None)
    if found is None:
        raise click.ClickException(f"No account {slug!r}: see `sanzhida wechat accounts list`")
    return checks.account_target(settings, found), svc.accounts.client(found.id)


@wechat_group.command("setup")
@_ACCOUNT
@click.option("--skip-menu", is_flag=True, help="Leave the custom menu as it is.")
@click.option("--outbound-ip", "outbound_ips", multiple=True, metavar="ADDRESS",
              help="This server's public outbound address, when you know it (repeat for several).")
@click.option("--ip-echo-url", metavar="URL",
              help="A service that answers with the caller's address (plain text), to learn the outbound address.")
def wechat_setup(slug: str | None, skip_menu: bool, outbound_ips: tuple[str, ...], ip_echo_url: str | None) -> None:
    """Set up an official account: install the custom menu, check the template ids and their keywords,
    and print what to paste into the WeChat console and the address for its IP whitelist."""
    from wechatpy.exceptions import WeChatClientException

    from cli import wechat_checks as checks
    from handlers.menu import MENU

    findings = checks.Findings()
    with app_services() as svc:
        settings = svc.settings
        target, client = _target(svc, slug)
        findings.heading(f"Official account {target.app_id} at {settings.wechat_api_base_url}")
        token_ok, refused = checks.fetch_token(client, settings, target, findings)
        if token_ok:
            if skip_menu:
                findings.note("custom menu left as it is (--skip-menu)")
            else:
                try:
                    client.menu.create(MENU)
                    findings.ok(f"custom menu installed ({len(MENU['button'])} buttons)")
                except WeChatClientException as exc:
                    findings.problem(f"WeChat refused the menu: errcode {exc.errcode} {exc.errmsg}")
            checks.check_templates(client, target, findings)
        checks.public_url_notes(settings, target, findings)
        checks.print_console(settings, target)
        checks.outbound_addresses(settings, outbound_ips, ip_echo_url, refused, findings)
    _conclude(findings)


@wechat_group.command("check")
@_ACCOUNT
@click.option("--no-server", is_flag=True,
              help="Do not ask our own webhook (PUBLIC_BASE_URL/wechat[/SLUG]) for WeChat's verification.")
def wechat_check(slug: str | None, no_server: bool) -> None:
    """Check an official account: fetch a token, WeChat's callback addresses, the menu users see and the
    template ids; ask our own webhook what WeChat asks. Exits non-zero when something is wrong."""
    from wechatpy.exceptions import WeChatClientException

    from cli import wechat_checks as checks

    findings = checks.Findings()
    with app_services() as svc:
        settings = svc.settings
        target, client = _target(svc, slug)
        findings.heading(f"Official account {target.app_id} at {settings.wechat_api_base_url}")
        checks.public_url_notes(settings, target, findings)
        token_ok, _ = checks.fetch_token(client, settings, target, findings)
        if token_ok:
            checks.callback_addresses(client, findings)
            try:
                checks.check_menu(client.menu.get_menu_info(), findings)
            except WeChatClientException as exc:
                findings.problem(f"the menu (get_current_selfmenu_info) failed: errcode {exc.errcode} {exc.errmsg}")
            checks.check_templates(client, target, findings)
        if not no_server:
            checks.verify_server(target, findings)
    _conclude(findings)


def _conclude(findings) -> None:
    """The last line, and a failing exit status when something must be fixed."""
    if findings.problems:
        raise click.ClickException(f"{findings.problems} problem(s) found; see PROBLEM above.")
    click.echo("\nNo problems found.")
