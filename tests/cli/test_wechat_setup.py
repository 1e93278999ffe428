"""`sanzhida wechat setup` and `check` against the WeChat stand-in: the menu, the template ids and their
keywords, what to paste into the console, the IP whitelist, the callback addresses and our own /wechat."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import requests
from click.testing import CliRunner
from werkzeug.serving import make_server

from bot.app import create_app
from cli import main
from devtools.serving import BackgroundServer
from handlers.menu import MENU
from models import Region
from models.db import make_engine, make_session_factory
from models.enums import RegionLevel
from tests.cli.test_cli import cli_env, standin_env
from tests.conftest import TEST_AES_KEY

PUBLIC = "https://minzheng.example.cn"


@pytest.fixture
def env(tmp_path, fake_wechat) -> dict:
    """A deployment's settings pointing at the stand-in, in safe mode, with the development template ids."""
    return cli_env(tmp_path, **standin_env(fake_wechat), PUBLIC_BASE_URL=PUBLIC, WECHAT_TOKEN="office-token-1",
                   WECHAT_ENCODING_AES_KEY=TEST_AES_KEY)


def run(args: list[str], env: dict):
    """Run a `sanzhida` command; its output and exit status."""
    return CliRunner().invoke(main, args, env=env)


def problems(output: str) -> list[str]:
    """The PROBLEM lines of a report."""
    return [line.split("PROBLEM", 1)[1].strip() for line in output.splitlines() if line.startswith("  PROBLEM ")]


def test_setup_installs_the_menu_checks_templates_and_prints_the_console_values(env, fake_wechat):
    """A clean account: the menu goes in, both templates have their keywords, and the console values
    (URL, Token, EncodingAESKey, 安全模式, the web-authorisation domain, the outbound address) are printed."""
    result = run(["wechat", "setup", "--outbound-ip", "203.0.113.7"], env)
    assert result.exit_code == 0, result.output
    assert problems(result.output) == []
    assert "custom menu installed (3 buttons)" in result.output
    assert "WECHAT_TEMPLATE_TASK=dev-template-task 「待办任务提醒」 has every keyword" in result.output
    assert "WECHAT_TEMPLATE_PROGRESS=dev-template-progress 「办理进度通知」 has every keyword" in result.output
    for value in (f"{PUBLIC}/wechat", "office-token-1", TEST_AES_KEY, "安全模式", "minzheng.example.cn",
                  "203.0.113.7   (given with --outbound-ip)"):
        assert value in result.output
    menu = requests.get(f"{fake_wechat.base_url}menu/get", timeout=5,
                        params={"access_token": fake_wechat_token(fake_wechat)}).json()
    assert [b["name"] for b in menu["menu"]["button"]] == [b["name"] for b in MENU["button"]]
    assert run(["wechat", "check", "--no-server"], env).exit_code == 0


def fake_wechat_token(fake_wechat) -> str:
    """A token from the stand-in, as a client would fetch it."""
    return requests.get(f"{fake_wechat.base_url}token", timeout=5, params={
        "grant_type": "client_credential", "appid": fake_wechat.state.app_id,
        "secret": fake_wechat.state.app_secret}).json()["access_token"]


def test_a_missing_template_id_is_reported_with_the_way_to_fix_it(env):
    """A template id the account does not have: a problem naming the variable, and the id the account
    has for that title; the console values are printed all the same."""
    result = run(["wechat", "setup"], {**env, "WECHAT_TEMPLATE_PROGRESS": "Xb7-deleted-template"})
    assert result.exit_code == 1
    (problem,) = problems(result.output)
    assert problem.startswith("WECHAT_TEMPLATE_PROGRESS=Xb7-deleted-template: no template with this id on the account")
    assert "set WECHAT_TEMPLATE_PROGRESS to that id" in problem and "dev-template-progress" in problem
    assert f"{PUBLIC}/wechat" in result.output
    assert "1 problem(s) found" in result.output


def test_a_template_missing_a_keyword_is_reported_by_name_and_type(env, fake_wechat):
    """The task template on the account lacks 事项 (thing3) and has a keyword we never fill."""
    requests.post(f"{fake_wechat.root_url}/_templates", timeout=5, json={
        "template_id": "dev-template-task", "title": "待办任务提醒",
        "content": "编号:{{character_string1.DATA}}\n对象:{{thing2.DATA}}\n紧急程度:{{phrase4.DATA}}\n"
                   "时间:{{time5.DATA}}\n备注:{{thing6.DATA}}"}).raise_for_status()
    requests.delete(f"{fake_wechat.root_url}/_templates/dev-template-progress", timeout=5).raise_for_status()
    result = run(["wechat", "check", "--no-server"], env)
    assert result.exit_code == 1
    found = problems(result.output)
    assert any(p.startswith("WECHAT_TEMPLATE_TASK=dev-template-task 「待办任务提醒」 lacks") and "thing3 (事项, thing)" in p
               for p in found), found
    assert any(p.startswith("WECHAT_TEMPLATE_PROGRESS=dev-template-progress: no template") and "办理进度通知" in p
               for p in found), found
    assert "thing6 are not filled by the product" in result.output


def test_the_ip_whitelist_refusal_names_this_servers_address(env, fake_wechat):
    """With a whitelist that leaves this machine out, the token is refused (40164): both commands say
    which address to add, and setup prints it for the whitelist."""
    requests.post(f"{fake_wechat.root_url}/_ip_whitelist", json={"ips": ["203.0.113.7"]}, timeout=5).raise_for_status()
    setup = run(["wechat", "setup"], env)
    assert setup.exit_code == 1
    assert problems(setup.output) == ["WeChat refused the token: this server's address 127.0.0.1 is not in the IP "
                                      "whitelist. Add it under 设置与开发 → 基本配置 → IP白名单."]
    assert "127.0.0.1   (as WeChat saw this server when it refused the token)" in setup.output
    check = run(["wechat", "check", "--no-server"], env)
    assert check.exit_code == 1 and "127.0.0.1 is not in the IP whitelist" in check.output
    requests.post(f"{fake_wechat.root_url}/_ip_whitelist", json={"ips": ["127.0.0.1"]}, timeout=5).raise_for_status()
    assert run(["wechat", "setup"], env).exit_code == 0


def test_check_reports_a_wrong_secret_and_a_missing_menu_plainly(env):
    """A wrong AppSecret stops at the token with the variable named; with the right one, an account
    without the menu is a problem, and the callback addresses are explained as WeChat's own."""
    wrong = run(["wechat", "check", "--no-server"], {**env, "WECHAT_APP_SECRET": "not-the-secret"})
    assert wrong.exit_code == 1
    assert problems(wrong.output) == ["WeChat refused the token (errcode 40125): WECHAT_APP_SECRET is wrong "
                                      "(AppSecret, 开发者密码); reset it in the console if unsure."]
    bare = run(["wechat", "check", "--no-server"], env)
    assert bare.exit_code == 1
    assert problems(bare.output) == ["no custom menu is open on the account: run `sanzhida wechat setup` "
                                     "(or `wechat menu push`)."]
    assert "getcallbackip: WeChat posts to /wechat from 1 address(es) of its own (127.0.0.1)" in bare.output
    assert "do not go into the IP whitelist" in bare.output


def test_check_asks_our_own_wechat_endpoint_what_wechat_asks(env, settings, db, redis_client):
    """The web service at PUBLIC_BASE_URL answers the verification with this token; with another
    token it refuses the signature, and check says so."""
    web = create_app(settings.with_overrides(wechat_token="office-token-1"), engine=db, redis=redis_client,
                     clock=lambda: datetime.now(timezone.utc))
    server = BackgroundServer(make_server("127.0.0.1", 0, web, threaded=True), "127.0.0.1").start()
    try:
        here = {**env, "PUBLIC_BASE_URL": f"http://127.0.0.1:{server.port}"}
        assert run(["wechat", "menu", "push"], here).exit_code == 0
        good = run(["wechat", "check"], here)
        assert good.exit_code == 0, good.output
        assert "/wechat answers WeChat's verification with this account's token" in good.output
        assert f"uses port {server.port}; WeChat's server URL and web authorisation work only on ports 80 and 443" \
            in good.output  # a note outside production
        bad = run(["wechat", "check"], {**here, "WECHAT_TOKEN": "another-token"})
        assert bad.exit_code == 1
        assert any("refused the signature" in p for p in problems(bad.output))
    finally:
        server.stop()


HONGHU_AES_KEY = "h" * 42 + "Q"


def add_honghu(env: dict, fake_wechat, secret: str) -> dict:
    """A migrated database with city 421000 and its account `honghu` (wx-honghu) added with `secret`,
    which the stand-in knows as honghu-app-secret; the environment to run commands with."""
    env = {**env, "PII_KEY": "cli-accounts-pii-key-000000000000000"}
    assert run(["db", "upgrade"], env).exit_code == 0
    engine = make_engine(env["DATABASE_URL"])
    with make_session_factory(engine)() as session:
        session.add(Region(code="421000", name="红湖市", level=RegionLevel.CITY.value,
                           created_at=datetime(2026, 12, 1, tzinfo=timezone.utc)))
        session.commit()
    engine.dispose()
    added = run(["wechat", "accounts", "add", "--slug", "honghu", "--city", "421000", "--app-id", "wx-honghu"],
                {**env, "WECHAT_ACCOUNT_TOKEN": "honghuToken1", "WECHAT_ACCOUNT_AES_KEY": HONGHU_AES_KEY,
                 "WECHAT_ACCOUNT_SECRET": secret})
    assert added.exit_code == 0, added.output
    requests.post(f"{fake_wechat.root_url}/_accounts", json={"app_id": "wx-honghu", "app_secret": "honghu-app-secret"},
                  timeout=5).raise_for_status()
    return env


def test_setup_and_check_an_added_account(env, fake_wechat):
    """`--account honghu`: its token is fetched and the menu installed with its own AppID and secret, the
    console values are its own (/wechat/honghu, its token and key), and the default account is left
    alone; an unknown slug stops with a clear message."""
    env = add_honghu(env, fake_wechat, "honghu-app-secret")
    result = run(["wechat", "setup", "--account", "honghu", "--outbound-ip", "203.0.113.7"], env)
    assert result.exit_code == 0, result.output
    assert "token fetched for wx-honghu" in result.output and "custom menu installed (3 buttons)" in result.output
    for value in (f"{PUBLIC}/wechat/honghu", "honghuToken1", HONGHU_AES_KEY, "console of wx-honghu"):
        assert value in result.output
    assert "office-token-1" not in result.output and TEST_AES_KEY not in result.output
    # Every call it made (the token, the menu, the templates) was as wx-honghu.
    assert {c["app_id"] for c in requests.get(f"{fake_wechat.root_url}/_calls", timeout=5).json()} == {"wx-honghu"}
    # The default account still has no menu: check says so; the added one's check finds none missing.
    assert problems(run(["wechat", "check", "--no-server"], env).output) == [
        "no custom menu is open on the account: run `sanzhida wechat setup` (or `wechat menu push`)."]
    checked = run(["wechat", "check", "--account", "honghu", "--no-server"], env)
    assert checked.exit_code == 0, checked.output
    unknown = run(["wechat", "check", "--account", "nowhere"], env)
    assert unknown.exit_code == 1 and "No account 'nowhere': see `sanzhida wechat accounts list`" in unknown.output


def test_an_added_account_s_wrong_secret_names_how_it_was_given(env, fake_wechat):
    """The stand-in knows another secret for the account: the refusal names the --secret of its
    `wechat accounts add`, not the settings' WECHAT_APP_SECRET."""
    env = add_honghu(env, fake_wechat, "not-the-secret")
    checked = run(["wechat", "check", "--account", "honghu", "--no-server"], env)
    assert checked.exit_code == 1
    (problem,) = problems(checked.output)
    assert "the --secret of `wechat accounts add --slug honghu` is wrong" in problem, problem
