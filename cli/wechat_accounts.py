"""`sanzhida wechat accounts`: the deployment's official accounts beyond the settings' default one.

Each serves one city, at its own webhook `/wechat/<slug>`. Its Token, EncodingAESKey and AppSecret
are taken from options, the environment or a hidden prompt (so they need not be on the command
line), stored encrypted with PII_KEY, and never printed.
"""

from __future__ import annotations

import click

from cli.common import app_services


@click.group("accounts")
def accounts_group() -> None:
    """Official accounts beyond the settings' WECHAT_* one (one per city, webhook /wechat/<slug>)."""


def _secret_option(flag: str, envvar: str, what: str):
    """An option for one credential: from the option, else the environment, else a hidden prompt."""
    return click.option(flag, envvar=envvar, prompt=what, hide_input=True, show_envvar=True,
                        help=f"The account's {what} (else ${envvar}, else asked for without echo).")


@accounts_group.command("add")
@click.option("--slug", required=True,
              help="The webhook's last part: /wechat/<slug> (lower-case letters, digits, '-').")
@click.option("--city", "city_code", required=True, metavar="CODE", help="The city it serves (行政区划代码 of a city).")
@click.option("--app-id", required=True, help="The account's AppID (开发者ID).")
@_secret_option("--token", "WECHAT_ACCOUNT_TOKEN", "Token")
@_secret_option("--aes-key", "WECHAT_ACCOUNT_AES_KEY", "EncodingAESKey")
@_secret_option("--secret", "WECHAT_ACCOUNT_SECRET", "AppSecret")
@click.option("--template-task", metavar="ID", help="Its id of 待办任务提醒 (default: WECHAT_TEMPLATE_TASK's).")
@click.option("--template-progress", metavar="ID", help="Its id of 办理进度通知 (default: WECHAT_TEMPLATE_PROGRESS's).")
def add(slug: str, city_code: str, app_id: str, token: str, aes_key: str, secret: str, template_task: str | None,
        template_progress: str | None) -> None:
    """Add an official account for a city; its messages come to /wechat/<slug> in safe mode (安全模式)."""
    from services.wechat_accounts import AccountRefused, add_account

    with app_services() as svc, svc.session_factory() as session:
        try:
            account = add_account(session, svc.pii, slug=slug.strip(), city_code=city_code.strip(),
                                  app_id=app_id.strip(), token=token.strip(), aes_key=aes_key.strip(),
                                  app_secret=secret.strip(), now=svc.clock(),
                                  default_app_id=svc.settings.wechat_app_id, template_task=template_task,
                                  template_progress=template_progress)
        except AccountRefused as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
        base = svc.settings.public_base_url.rstrip("/")
        click.echo(f"Added account {account.slug} ({account.app_id}).\n"
                   f"  In the WeChat console (基本配置 › 服务器配置) set the URL to {base}/wechat/{account.slug},\n"
                   "  the same Token and EncodingAESKey, and 安全模式. Running processes pick it up within a minute.")


@accounts_group.command("list")
def list_command() -> None:
    """List the added accounts: slug, city, AppID and webhook (never a secret)."""
    from services.wechat_accounts import list_accounts

    with app_services(read_only=True) as svc, svc.session_factory() as session:
        rows = list_accounts(session)
    click.echo(f"default\t(settings)\t{svc.settings.wechat_app_id}\t/wechat")
    for row in rows:
        click.echo(f"{row.slug}\t{row.city_code} {row.city_name}\t{row.app_id}\t/wechat/{row.slug}")
