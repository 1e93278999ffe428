"""`sanzhida figures rebuild`: a range of days a month at a time with progress, then the trends' weeks;
a bad date or a backwards range stops with a clear message."""

from __future__ import annotations

from click.testing import CliRunner

from cli import main
from tests.cli.test_cli import cli_env


def run(args: list[str], env: dict):
    """Run a `sanzhida` command; its output and exit status."""
    return CliRunner().invoke(main, args, env=env)


def test_rebuild_a_range_of_the_small_demo(tmp_path):
    """Forty days: two chunks, each with its rows, then the weeks; one city keeps no province views."""
    env = cli_env(tmp_path)
    assert run(["db", "upgrade"], env).exit_code == 0
    assert run(["seed", "demo", "--scale", "small"], env).exit_code == 0
    result = run(["figures", "rebuild", "--from", "2026-10-01", "--to", "2026-11-09"], env)
    assert result.exit_code == 0, result.output
    lines = [line.strip() for line in result.output.splitlines()]
    assert lines[0].startswith("2026-10-01 – 2026-10-31: ") and lines[1].startswith("2026-11-01 – 2026-11-09: ")
    assert lines[2].startswith("Rebuilt 40 days (") and "province" not in result.output


def test_bad_dates_are_refused_plainly(tmp_path):
    env = cli_env(tmp_path)
    wrong = run(["figures", "rebuild", "--from", "2026-13-01"], env)
    assert wrong.exit_code == 2 and "not a date (YYYY-MM-DD): '2026-13-01'" in wrong.output
    backwards = run(["figures", "rebuild", "--from", "2026-11-09", "--to", "2026-11-01"], env)
    assert backwards.exit_code == 2 and "--to is before --from" in backwards.output
