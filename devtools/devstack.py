"""`make run`: the web service, the inbox and media workers, the scheduler, and the stand-ins for
WeChat's API and for a FunASR speech recogniser together, for trying the whole 三直达 loop on one
machine. Ctrl-C stops them all."""

from __future__ import annotations

import os
import signal
import subprocess  # nosec B404  # starts our own commands, fixed arguments, no shell
import sys
import time
from pathlib import Path

import requests

from devtools.demo import DEMO_PASSWORD

STARTUP_SECONDS = 30


def _spawn(args: list[str], env: dict) -> subprocess.Popen:
    # Each child in its own process group, so Ctrl-C reaches them only through us, in order.
    return subprocess.Popen([sys.executable, "-m", "cli", *args], env=env, start_new_session=True)  # nosec B603


def _wait_for(url: str, procs: list[subprocess.Popen]) -> bool:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            return False
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.3)
    return False


def stop_processes(procs: list[subprocess.Popen]) -> None:
    """SIGTERM each process still running, wait for them, and kill any that hang."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def run_stack(host: str, port: int, standin_port: int, echo, *, asr_port: int = 10095) -> int:
    """Start the processes, print where to go, and stop them all on Ctrl-C or SIGTERM."""
    instance = Path.cwd() / "instance"
    instance.mkdir(exist_ok=True)
    standin = f"http://127.0.0.1:{standin_port}"
    # MEDIA_STORE_URL stays as it is: by default the media are kept in instance/media.
    env = {
        **os.environ,
        "WECHAT_API_BASE_URL": f"{standin}/cgi-bin/",
        "WECHAT_OAUTH_URL": f"{standin}/connect/oauth2/authorize",
        "ASR_URL": f"ws://127.0.0.1:{asr_port}/",
        "SANZHIDA_DEV_CLOCK_FILE": str(instance / "dev-clock-offset"),
    }
    procs = [
        _spawn(["fake-wechat", "--host", "127.0.0.1", "--port", str(standin_port)], env),
        _spawn(["fake-asr", "--host", "127.0.0.1", "--port", str(asr_port)], env),
        _spawn(["scheduler", "run"], env),
        _spawn(["inbox", "run"], env),
        _spawn(["media", "run"], env),
        _spawn(["serve", "--host", host, "--port", str(port)], env),
    ]
    stopping = False

    def on_signal(signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}"  # nosec B104  # not a bind
    if not _wait_for(f"{base}/healthz", procs):
        echo("The service did not start; see the messages above.")
        stop_processes(procs)
        return 1
    echo(
        "\n三直达 is running with the WeChat simulator:\n"
        f"  Simulator:   {base}/dev/simulator/\n"
        f"  Dashboard:   {base}/office/   (demo sign-in: S0001 / {DEMO_PASSWORD})\n"
        f"  Health:      {base}/healthz\n"
        f"  WeChat API stand-in: {standin}/_calls   (files: {standin}/_media)\n"
        f"  WeChat sign-in (OAuth): {env['WECHAT_OAUTH_URL']}\n"
        f"  Speech recognition stand-in: {env['ASR_URL']}   (heard: http://127.0.0.1:{asr_port}/_calls)\n"
        "Press Ctrl-C to stop everything.\n"
    )
    while not stopping:
        if any(p.poll() is not None for p in procs):
            echo("A process stopped unexpectedly; stopping the others.")
            stop_processes(procs)
            return 1
        time.sleep(0.5)
    echo("Stopping …")
    stop_processes(procs)
    echo("Stopped.")
    return 0
