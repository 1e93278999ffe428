"""The `sanzhida` command line: help everywhere, migrations, demo data, and a server that answers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import click
import pytest
import requests
from click.testing import CliRunner

from cli import main


def all_commands(group: click.Group, prefix=()):
    """Every command path under a click group, groups included."""
    for name, command in group.commands.items():
        path = (*prefix, name)
        yield path
        if isinstance(command, click.Group):
            yield from all_commands(command, path)


@pytest.mark.parametrize("path", [(), *all_commands(main)], ids=lambda p: " ".join(p) or "sanzhida")
def test_every_command_has_help(path):
    """`--help` works on every command and describes it."""
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    assert len(result.output.splitlines()) > 3


def cli_env(tmp_path, **extra) -> dict:
    """An environment with an embedded SQLite database in tmp_path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "SANZHIDA_"))}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}", **extra)
    return env


def standin_env(fake_wechat) -> dict:
    """Settings that point at the WeChat stand-in with the app it accepts."""
    return {"WECHAT_API_BASE_URL": fake_wechat.base_url, "WECHAT_APP_ID": fake_wechat.state.app_id,
            "WECHAT_APP_SECRET": fake_wechat.state.app_secret}


def test_db_upgrade_then_seed_demo(tmp_path):
    """`db upgrade` builds the schema; `seed demo` loads the small town once; `--if-empty` then skips."""
    runner = CliRunner()
    env = cli_env(tmp_path)
    assert runner.invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    current = runner.invoke(main, ["db", "current"], env=env)
    shown = dict(line.split(":", 1) for line in current.output.splitlines() if ":" in line)
    assert shown["current"].strip() == shown["head"].strip() != "None"
    seeded = runner.invoke(main, ["seed", "demo"], env=env)
    assert seeded.exit_code == 0, seeded.output
    assert "60 beneficiaries" in seeded.output
    again = runner.invoke(main, ["seed", "demo"], env=env)
    assert again.exit_code != 0 and "already" in again.output
    skipped = runner.invoke(main, ["seed", "demo", "--if-empty"], env=env)
    assert skipped.exit_code == 0 and "not loaded" in skipped.output


def test_production_without_a_secret_stops_with_its_name(tmp_path):
    """A missing production variable stops the command with a message naming it."""
    env = cli_env(tmp_path, SANZHIDA_ENV="production", REDIS_URL="redis://127.0.0.1:6379/0")
    result = CliRunner().invoke(main, ["config", "check"], env=env)
    assert result.exit_code == 1
    assert "WECHAT_TOKEN is required" in result.output


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_answers_healthz(tmp_path):
    """`sanzhida serve` starts the development server, which answers /healthz and /readyz."""
    env = cli_env(tmp_path)
    subprocess.run([sys.executable, "-m", "cli", "db", "upgrade"], env=env, check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except requests.ConnectionError:
                assert server.poll() is None, server.stdout.read()
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        assert health.status_code == 200
        assert requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_menu_push_installs_the_menu_through_the_api(tmp_path, fake_wechat):
    """`wechat menu push` posts the menu to WECHAT_API_BASE_URL."""
    from handlers.menu import MENU

    env = cli_env(tmp_path, **standin_env(fake_wechat))
    result = CliRunner().invoke(main, ["wechat", "menu", "push"], env=env)
    assert result.exit_code == 0, result.output
    calls = requests.get(f"http://{fake_wechat.host}:{fake_wechat.port}/_calls", timeout=5).json()
    menu_calls = [c for c in calls if c["path"] == "menu/create"]
    assert len(menu_calls) == 1 and menu_calls[0]["body"] == MENU


def test_menu_push_reports_a_refusal(tmp_path, fake_wechat):
    """A WeChat error is reported, not a stack trace."""
    requests.post(f"http://{fake_wechat.host}:{fake_wechat.port}/_faults",
                  json={"path": "menu/create", "errcode": 45009}, timeout=5)
    env = cli_env(tmp_path, **standin_env(fake_wechat))
    result = CliRunner().invoke(main, ["wechat", "menu", "push"], env=env)
    assert result.exit_code == 1
    assert "45009" in result.output


def test_outbox_dispatch_list_and_retry(tmp_path, fake_wechat):
    """Dispatch sends due pushes; a dead letter is listed and can be queued again."""
    from datetime import datetime, timezone

    from models import OutboxMessage
    from models.db import make_engine, make_session_factory

    env = cli_env(tmp_path, **standin_env(fake_wechat))
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    engine = make_engine(env["DATABASE_URL"])
    now = datetime.now(timezone.utc)
    with make_session_factory(engine)() as session:
        for key in ("k-dead", "k-ok"):  # the first claimed meets the fault
            session.add(OutboxMessage(
                idempotency_key=key, recipient_openid=f"o-{key}", kind="custom", status="pending", attempts=0,
                next_attempt_at=now, created_at=now,
                payload={"text": "hi", "template": {"template_id": "t", "data": {"thing2": {"value": "hi"}}}},
            ))
        session.commit()
    requests.post(f"http://{fake_wechat.host}:{fake_wechat.port}/_faults",
                  json={"path": "message/template/send", "errcode": 43004}, timeout=5)
    sent = runner.invoke(main, ["outbox", "dispatch"], env=env)
    assert sent.exit_code == 0 and "sent 1" in sent.output and "dead 1" in sent.output
    listed = runner.invoke(main, ["outbox", "list"], env=env)
    assert "k-dead" in listed.output and "43004" in listed.output and "k-ok" not in listed.output
    dead_id = listed.output.split("\t")[0]
    assert runner.invoke(main, ["outbox", "retry", dead_id], env=env).exit_code == 0
    again = runner.invoke(main, ["outbox", "retry", dead_id], env=env)
    assert again.exit_code == 1 and "not a dead letter" in again.output
    assert "sent 1" in runner.invoke(main, ["outbox", "dispatch"], env=env).output
    engine.dispose()


def test_inbound_failed_lists_messages_whose_handling_failed(tmp_path):
    """Failed messages are listed for follow-up, without their contents."""
    from datetime import datetime, timezone

    from models import InboundMessage
    from models.db import make_engine, make_session_factory

    env = cli_env(tmp_path)
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    engine = make_engine(env["DATABASE_URL"])
    now = datetime.now(timezone.utc)
    with make_session_factory(engine)() as session:
        for n, error in enumerate([None, "RuntimeError"]):
            session.add(InboundMessage(
                dedupe_key=f"msg:{n}", openid=f"o-{n}", msg_type="text", sent_at=now, received_at=now,
                content="私人内容13912345678", payload={}, handling_error=error,
            ))
        session.commit()
    engine.dispose()
    result = runner.invoke(main, ["inbound", "failed"], env=env)
    assert result.exit_code == 0
    assert "o-1\ttext\tRuntimeError" in result.output and "o-0" not in result.output
    assert "13912345678" not in result.output


def test_inbox_drain_handles_what_waits_and_answers_each_sender(tmp_path, fake_wechat):
    """`inbound waiting` counts stored messages; `inbox drain` handles them and sends the replies."""
    from datetime import datetime, timezone

    from models import InboundMessage
    from models.db import make_engine, make_session_factory

    env = cli_env(tmp_path, **standin_env(fake_wechat))
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    engine = make_engine(env["DATABASE_URL"])
    now = datetime.now(timezone.utc)
    with make_session_factory(engine)() as session:
        for n in (1, 2):
            payload = {"ToUserName": "gh_sanzhida", "FromUserName": f"o-cli-{n}", "MsgType": "text",
                       "CreateTime": str(int(now.timestamp())), "Content": "帮助", "MsgId": str(n)}
            session.add(InboundMessage(dedupe_key=f"msg:{n}", openid=f"o-cli-{n}", msg_type="text", msg_id=n,
                                       sent_at=now, received_at=now, content="帮助", payload=payload))
            # WeChat delivered them, so it lets the account answer each sender.
            requests.post(f"{fake_wechat.root_url}/_interactions", json={"openid": f"o-cli-{n}"},
                          timeout=5).raise_for_status()
        session.commit()
    engine.dispose()
    assert "2 message(s) waiting." in runner.invoke(main, ["inbound", "waiting"], env=env).output
    drained = runner.invoke(main, ["inbox", "drain"], env=env)
    assert drained.exit_code == 0, drained.output
    assert "2 message(s) handled." in drained.output
    assert "0 message(s) waiting." in runner.invoke(main, ["inbound", "waiting"], env=env).output
    calls = requests.get(f"{fake_wechat.base_url.split('/cgi-bin')[0]}/_calls", timeout=5).json()
    answered = sorted(c["body"]["touser"] for c in calls if c["path"] == "message/custom/send")
    assert answered == ["o-cli-1", "o-cli-2"]


def test_staff_set_password_lets_them_sign_in(tmp_path):
    """`staff set-password` stores a hash that the dashboard's sign-in accepts; short ones are refused."""
    from models.db import make_engine, make_session_factory
    from services import accounts

    env = cli_env(tmp_path)
    runner = CliRunner()
    runner.invoke(main, ["db", "upgrade"], env=env)
    runner.invoke(main, ["seed", "demo"], env=env)
    short = runner.invoke(main, ["staff", "set-password", "T0003", "--password", "short"], env=env)
    assert short.exit_code == 1 and "至少8位" in short.output
    done = runner.invoke(main, ["staff", "set-password", "t0003", "--password", "a-long-password"], env=env)
    assert done.exit_code == 0, done.output
    engine = make_engine(env["DATABASE_URL"])
    from datetime import datetime, timezone

    with make_session_factory(engine)() as session:
        assert accounts.authenticate(session, "T0003", "a-long-password", datetime.now(timezone.utc)).staff_no == "T0003"
    engine.dispose()
