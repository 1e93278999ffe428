"""`sanzhida wechat accounts add / list`: an account per city, its credentials from options, the
environment or a prompt, kept encrypted and never printed; bad input stops with a clear message."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import select

from cli import main
from models import Region, WeChatAccount
from models.db import make_engine, make_session_factory
from models.enums import RegionLevel
from tests.cli.test_cli import cli_env, standin_env

AES_KEY = "k" * 42 + "A"
SECRETS = {"WECHAT_ACCOUNT_TOKEN": "honghuToken1", "WECHAT_ACCOUNT_AES_KEY": AES_KEY,
           "WECHAT_ACCOUNT_SECRET": "honghu-app-secret"}


@pytest.fixture
def env(tmp_path) -> dict:
    """A migrated SQLite database holding one city (421000) and one of its towns (421001)."""
    env = cli_env(tmp_path, PII_KEY="cli-accounts-pii-key-000000000000000")
    assert CliRunner().invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    engine = make_engine(env["DATABASE_URL"])
    now = datetime(2026, 12, 1, tzinfo=timezone.utc)
    with make_session_factory(engine)() as session:
        city = Region(code="421000", name="红湖市", level=RegionLevel.CITY.value, created_at=now)
        session.add(city)
        session.flush()
        session.add(Region(code="421001", name="柳河镇", level=RegionLevel.TOWN.value, parent_id=city.id,
                           created_at=now))
        session.commit()
    engine.dispose()
    return env


def add(env: dict, *args: str, secrets: dict | None = None, stdin: str | None = None):
    """Run `wechat accounts add` with the AppID given and credentials from the environment."""
    return CliRunner().invoke(main, ["wechat", "accounts", "add", "--app-id", "wx-honghu", *args],
                              env={**env, **(SECRETS if secrets is None else secrets)}, input=stdin)


def stored(env: dict) -> list[WeChatAccount]:
    """The accounts in the database."""
    engine = make_engine(env["DATABASE_URL"])
    try:
        with make_session_factory(engine)() as session:
            return list(session.scalars(select(WeChatAccount)))
    finally:
        engine.dispose()


def test_add_then_list_never_shows_a_secret(env):
    result = add(env, "--slug", "honghu", "--city", "421000")
    assert result.exit_code == 0, result.output
    assert "/wechat/honghu" in result.output
    listed = CliRunner().invoke(main, ["wechat", "accounts", "list"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "honghu\t421000 红湖市\twx-honghu\t/wechat/honghu" in listed.output
    for value in SECRETS.values():
        assert value not in result.output and value not in listed.output
    [account] = stored(env)
    assert SECRETS["WECHAT_ACCOUNT_SECRET"] not in account.app_secret_encrypted


def test_credentials_can_come_from_a_prompt_on_stdin(env):
    result = add(env, "--slug", "honghu", "--city", "421000", secrets={},
                 stdin=f"honghuToken1\n{AES_KEY}\nhonghu-app-secret\n")
    assert result.exit_code == 0, result.output
    assert "honghu-app-secret" not in result.output and len(stored(env)) == 1


@pytest.mark.parametrize(("args", "secrets", "says"), [
    (["--slug", "honghu", "--city", "999999"], SECRETS, "no region with code '999999'"),
    (["--slug", "honghu", "--city", "421001"], SECRETS, "is a town, not a city"),
    (["--slug", "honghu", "--city", "421000"], {**SECRETS, "WECHAT_ACCOUNT_AES_KEY": "short"}, "43-character"),
    (["--slug", "honghu", "--city", "421000"], {**SECRETS, "WECHAT_ACCOUNT_AES_KEY": "!" * 43}, "43-character"),
    (["--slug", "Hong Hu", "--city", "421000"], SECRETS, "slug 'Hong Hu'"),
    (["--slug", "honghu", "--city", "421000"], {**SECRETS, "WECHAT_APP_ID": "wx-honghu"}, "default account's"),
])
def test_bad_input_is_refused_with_a_clear_message(env, args, secrets, says):
    result = add(env, *args, secrets=secrets)
    assert result.exit_code == 1
    assert says in result.output
    assert "Traceback" not in result.output and not stored(env)


def test_a_duplicate_slug_is_refused(env):
    assert add(env, "--slug", "honghu", "--city", "421000").exit_code == 0
    again = CliRunner().invoke(main, ["wechat", "accounts", "add", "--slug", "honghu", "--city", "421000",
                                      "--app-id", "wx-other"], env={**env, **SECRETS})
    assert again.exit_code == 1 and "slug 'honghu' already exists" in again.output
    assert len(stored(env)) == 1


def test_the_menu_goes_to_the_account_named(env, fake_wechat):
    env = {**env, **standin_env(fake_wechat)}
    requests.post(f"{fake_wechat.root_url}/_accounts", json={"app_id": "wx-honghu",
                                                             "app_secret": SECRETS["WECHAT_ACCOUNT_SECRET"]}, timeout=5)
    assert add(env, "--slug", "honghu", "--city", "421000").exit_code == 0
    pushed = CliRunner().invoke(main, ["wechat", "menu", "push", "--account", "honghu"], env=env)
    assert pushed.exit_code == 0, pushed.output
    created = [c["app_id"] for c in requests.get(f"{fake_wechat.root_url}/_calls", timeout=5).json()
               if c["path"] == "menu/create" and c["outcome"] == "delivered"]
    assert created == ["wx-honghu"]
    unknown = CliRunner().invoke(main, ["wechat", "menu", "push", "--account", "nowhere"], env=env)
    assert unknown.exit_code == 1 and "No account 'nowhere'" in unknown.output
