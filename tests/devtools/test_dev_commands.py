"""The development commands refuse production: no demo accounts with a published password, no dev stack."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from cli import main
from models import Region, Staff
from models.db import make_engine, make_session_factory


def production_env(tmp_path) -> dict:
    """A complete production environment over an SQLite database in tmp_path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "SANZHIDA_"))}
    env.update(
        SANZHIDA_ENV="production",
        DATABASE_URL=f"sqlite:///{tmp_path / 'prod.db'}",
        REDIS_URL="redis://127.0.0.1:6379/15",
        WECHAT_TOKEN="tok",
        WECHAT_APP_ID="wx1",
        WECHAT_APP_SECRET="sec",
        SECRET_KEY="s" * 40,
        ADMIN_API_TOKEN="a" * 40,
        PII_KEY="p" * 40,
        WECHAT_TEMPLATE_TASK="tpl-task",
        WECHAT_TEMPLATE_PROGRESS="tpl-progress",
        PUBLIC_BASE_URL="https://mz.example.cn/",
        WECHAT_ENCODING_AES_KEY="abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    )
    return env


@pytest.mark.parametrize("args", [
    ["seed", "demo"], ["seed", "demo", "--if-empty"], ["seed", "demo", "--scale", "city"],
])
def test_seed_demo_is_refused_in_production_and_writes_nothing(tmp_path, args):
    """`seed demo` in production stops with a clear error and leaves the database empty."""
    runner = CliRunner()
    env = production_env(tmp_path)
    assert runner.invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    result = runner.invoke(main, args, env=env)
    assert result.exit_code != 0
    assert "production" in result.output and "nothing was written" in result.output
    assert "sanzhida-demo" not in result.output
    engine = make_engine(env["DATABASE_URL"])
    with make_session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(Staff)) == 0
        assert session.scalar(select(func.count()).select_from(Region)) == 0
    engine.dispose()


def test_dev_run_and_debug_serve_are_refused_in_production(tmp_path):
    """`dev run` (which would seed the demo) and the debugger are refused in production."""
    runner = CliRunner()
    env = production_env(tmp_path)
    stack = runner.invoke(main, ["dev", "run"], env=env)
    assert stack.exit_code != 0 and "production" in stack.output
    debug = runner.invoke(main, ["serve", "--debug"], env=env)
    assert debug.exit_code != 0 and "--debug is refused" in debug.output
    assert not (tmp_path / "prod.db").exists()  # refused before migrating or touching the database
