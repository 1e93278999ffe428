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

from bot.cli import main


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


def test_db_upgrade_then_seed_demo(tmp_path):
    """`db upgrade` builds the schema; `seed demo` loads the small town once; `--if-empty` then skips."""
    runner = CliRunner()
    env = cli_env(tmp_path)
    assert runner.invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    current = runner.invoke(main, ["db", "current"], env=env)
    assert "current: 0001" in current.output
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
    subprocess.run([sys.executable, "-m", "bot.cli", "db", "upgrade"], env=env, check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--port", str(port)],
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
