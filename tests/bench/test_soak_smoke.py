"""Smoke version of bench/soak.py: the whole stack on its own PostgreSQL cluster and Redis, a short
load with web workers killed and Redis restarted, and nothing lost.

It needs PostgreSQL's server binaries and redis-server (CI has them) and runs once, in the
PostgreSQL pass of the suite (TEST_DATABASE_URL set), on free ports so that it never meets the
shared servers or a soak already running.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import soak, soak_stack
from bench.webhook import free_port

ROOT = Path(__file__).resolve().parents[2]

needs_servers = pytest.mark.skipif(
    not soak_stack.pg_available() or not os.environ.get("TEST_DATABASE_URL"),
    reason="needs PostgreSQL's server binaries and redis-server; runs in the PostgreSQL pass",
)


def test_help_lists_the_flags():
    """--help names every flag the soak is run with."""
    text = soak.build_parser().format_help()
    for flag in ("--minutes", "--rate", "--kill-every", "--web", "--inbox", "--dispatchers", "--schedulers",
                 "--smoke"):
        assert flag in text


@needs_servers
def test_smoke_run_loses_nothing(tmp_path):
    """A smoke soak exits 0: every accepted message stored, handled and answered once."""
    out = tmp_path / "soak.json"
    done = subprocess.run(
        [sys.executable, "bench/soak.py", "--smoke", "--pg-port", str(free_port()), "--redis-port",
         str(free_port()), "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=170,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["lost"] == 0
    assert report["outside_window"] == 0
    rows = {name: value for name, value, _ in report["rows"]}
    assert rows["  … answered 200"] > 100
    assert rows["answered 200 but not stored"] == 0
    assert rows["stored but never handled"] == 0
