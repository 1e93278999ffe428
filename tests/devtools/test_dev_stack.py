"""`make run`'s stack: what its help says, where its stand-ins listen, and that it stops everything
when the command that started it is stopped alone (a signal to make is not passed on)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
from click.testing import CliRunner

from cli import main
from devtools import devstack

ROOT = Path(__file__).resolve().parents[2]
SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_dev_run_help_names_every_process():
    """`dev run --help` lists what it starts, the workers and the three stand-ins included."""
    result = CliRunner().invoke(main, ["dev", "run", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for part in ("inbox worker", "media worker", "scheduler", "WeChat API", "FunASR", "Aliyun SMS",
                 "STANDIN_PORT", "ASR_PORT", "SMS_PORT"):
        assert part in text, part


def test_scheduler_help_agrees_with_the_readme():
    """Several scheduler processes may run and one leads: the help no longer says "exactly one"."""
    text = " ".join(CliRunner().invoke(main, ["scheduler", "--help"]).output.split())
    assert "exactly one" not in text and "leader" in text


def test_make_help_and_the_stand_in_ports():
    """`make help` prints no unexpanded variable; STANDIN_PORT and ASR_PORT reach `dev run`."""
    shown = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "make run" in shown and "$(" not in shown
    planned = subprocess.run(["make", "-n", "run", "STANDIN_PORT=8911", "ASR_PORT=10111"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
    assert "--standin-port 8911 --asr-port 10111" in planned


@pytest.mark.parametrize(("local", "expected"), [
    ("2026-12-01 10:30", "2026-12-01 10:30"),  # working hours: the real time
    ("2026-12-01 16:59", "2026-12-01 16:59"),
    ("2026-12-01 17:00", "2026-12-02 09:00"),  # evening: the next morning
    ("2026-12-01 23:40", "2026-12-02 09:00"),
    ("2026-12-02 03:15", "2026-12-02 09:00"),  # small hours: this morning
])
def test_a_fresh_demo_starts_in_working_hours(local, expected):
    """The walk needs working hours: a fresh demo's clock starts in them."""
    now = datetime.strptime(local, "%Y-%m-%d %H:%M").replace(tzinfo=SHANGHAI)
    assert f"{now + devstack.walk_clock_shift(now, SHANGHAI):%Y-%m-%d %H:%M}" == expected


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _children(pid: int) -> list[int]:
    """Every live process whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    """True while `pid` runs (a zombie nobody reaped has stopped)."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the process table from /proc")
def test_the_stack_stops_when_the_command_that_started_it_is_stopped_alone(tmp_path):
    """Like `kill -INT <make>`: make dies and forwards nothing; `dev run` notices and stops all seven."""
    port, standin, asr, sms = _free_port(), _free_port(), _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_URL", "REDIS_URL", "SANZHIDA_", "WECHAT_", "ASR_", "MEDIA_", "SMS_"))}
    env.update(SANZHIDA_ENV="development", PYTHONPATH=str(ROOT))
    command = (f'"{sys.executable}" -m cli dev run --port {port} --standin-port {standin} --asr-port {asr}'
               f" --sms-port {sms} --seed 2; :")
    log = open(tmp_path / "stack.log", "w")
    # A shell stands in for make: it waits for `dev run` and passes no signal on when it dies.
    launcher = subprocess.Popen(["sh", "-c", command], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    stack: list[int] = []
    try:
        deadline = time.monotonic() + 90
        while True:
            assert launcher.poll() is None and time.monotonic() < deadline, (tmp_path / "stack.log").read_text()[-3000:]
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.3)
        (dev_run,) = _children(launcher.pid)
        stack = [dev_run, *_children(dev_run)]
        assert len(stack) == 9, "dev run and its eight processes"
        # The SMS stand-in is up on the port asked for.
        assert "SendSms" in requests.get(f"http://127.0.0.1:{sms}/", timeout=5).json()["service"]
        os.kill(launcher.pid, signal.SIGKILL)
        launcher.wait()
        deadline = time.monotonic() + 20
        while any(_alive(pid) for pid in stack):
            assert time.monotonic() < deadline, [pid for pid in stack if _alive(pid)]
            time.sleep(0.2)
        assert "stopping" in (tmp_path / "stack.log").read_text().lower()
    finally:
        for pid in stack:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        if launcher.poll() is None:
            launcher.kill()
        log.close()
