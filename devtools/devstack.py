"""`make run`: the web service, the inbox and media workers, the outbox dispatcher, the scheduler,
and the stand-ins for WeChat's API, for a FunASR speech recogniser and for Aliyun SMS together, for
trying the whole 三直达 loop on one machine. Ctrl-C stops them all, and so does SIGTERM or SIGHUP, or
the end of the command that started it (`make run` stopped by a signal to make alone)."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess  # nosec B404  # starts our own commands, fixed arguments, no shell
import sys
import time
from datetime import datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

import requests

from config.sms import SMS_DEV_ACCESS_KEY_ID, SMS_DEV_ACCESS_KEY_SECRET
from devtools.demo import DEMO_PASSWORD
from devtools.sim_sms import DEV_SMS_TEMPLATES, template_variables
from runtime.clock import ShiftedClock

STARTUP_SECONDS = 30
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# The walk in the README needs working hours: a request unanswered for two service hours (08:00-20:00)
# escalates, and nothing but urgent pushes goes out at night.
WORKING_HOURS = (8, 17)
PR_SET_PDEATHSIG = 1
DEV_SMS_SIGN = "三直达"


def clock_file(instance: Path) -> Path:
    """The file holding the simulated time's offset, shared by every process of the stack."""
    return instance / "dev-clock-offset"


def walk_clock_shift(now: datetime, tz: ZoneInfo) -> timedelta:
    """How far a fresh demo's clock moves: not at all in working hours, else to the next 09:00."""
    local = now.astimezone(tz)
    if WORKING_HOURS[0] <= local.hour < WORKING_HOURS[1]:
        return timedelta(0)
    day = local.date() + timedelta(days=1 if local.hour >= WORKING_HOURS[1] else 0)
    return datetime.combine(day, clock_time(9), tz) - local


def start_walk_clock(clock: ShiftedClock, tz: ZoneInfo) -> datetime:
    """Set a fresh demo's simulated time (any older offset is dropped) and return it."""
    target = clock() - clock.offset()
    target += walk_clock_shift(target, tz)
    return clock.advance(target - clock())


def _die_with_us() -> None:
    # Runs in the child before it starts: Linux sends it SIGTERM when `dev run` dies, even by SIGKILL.
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _spawn(args: list[str], env: dict) -> subprocess.Popen:
    # Each child in its own process group, so Ctrl-C reaches them only through us, in order.
    return subprocess.Popen([sys.executable, "-m", "cli", *args], env=env, start_new_session=True,  # nosec B603
                            preexec_fn=_die_with_us)  # noqa: PLW1509  # dev run starts no threads


def _wait_for(url: str, procs: list[subprocess.Popen], stop_asked) -> bool:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if stop_asked() or any(p.poll() is not None for p in procs):
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


def sms_env(sms_port: int) -> dict[str, str]:
    """The SMS settings of the stack: Aliyun, at the local stand-in, the demo's sign name and templates,
    and the development AccessKey (a real one in the environment never reaches the stand-in)."""
    return {
        "SMS_PROVIDER": "aliyun",
        "SMS_ENDPOINT": f"http://127.0.0.1:{sms_port}/",
        "SMS_ACCESS_KEY_ID": SMS_DEV_ACCESS_KEY_ID,
        "SMS_ACCESS_KEY_SECRET": SMS_DEV_ACCESS_KEY_SECRET,
        "SMS_SIGN_NAME": DEV_SMS_SIGN,
        "SMS_TEMPLATES": ",".join(f"{kind}:{code}" for kind, code in DEV_SMS_TEMPLATES.items()),
    }


def fake_sms_args(sms_port: int) -> list[str]:
    """`fake-sms` with the demo's templates registered with the variables of their wording, as strictly
    as Aliyun holds a registered template."""
    args = ["fake-sms", "--host", "127.0.0.1", "--port", str(sms_port), "--sign", DEV_SMS_SIGN]
    for kind, code in DEV_SMS_TEMPLATES.items():
        args += ["--template", f"{code}:{','.join(template_variables(kind))}"]
    return args


def run_stack(host: str, port: int, standin_port: int, echo, *, asr_port: int = 10095, sms_port: int = 8902,
              tz: ZoneInfo | None = None) -> int:
    """Start the processes, print where to go, and stop them all on Ctrl-C, SIGTERM or SIGHUP, or
    when the command that started us (make) has gone: a signal to it alone reaches nobody else."""
    launcher = os.getppid()
    tz = tz or ZoneInfo("Asia/Shanghai")
    instance = Path.cwd() / "instance"
    instance.mkdir(exist_ok=True)
    standin = f"http://127.0.0.1:{standin_port}"
    # MEDIA_STORE_URL stays as it is: by default the media are kept in instance/media.
    env = {
        **os.environ,
        "WECHAT_API_BASE_URL": f"{standin}/cgi-bin/",
        "WECHAT_OAUTH_URL": f"{standin}/connect/oauth2/authorize",
        "ASR_URL": f"ws://127.0.0.1:{asr_port}/",
        "SANZHIDA_DEV_CLOCK_FILE": str(clock_file(instance)),
        **sms_env(sms_port),
    }
    stopping = False

    def on_signal(signum, _frame):
        nonlocal stopping
        stopping = True

    def stop_asked() -> bool:
        # make forwards no signal: when it is stopped alone, we are handed to another parent.
        return stopping or os.getppid() != launcher

    for signum in STOP_SIGNALS:
        signal.signal(signum, on_signal)
    procs = [
        _spawn(["fake-wechat", "--host", "127.0.0.1", "--port", str(standin_port)], env),
        _spawn(["fake-asr", "--host", "127.0.0.1", "--port", str(asr_port)], env),
        _spawn(fake_sms_args(sms_port), env),
        _spawn(["scheduler", "run"], env),
        _spawn(["inbox", "run"], env),
        # Pushes go out within a second, as deployed, rather than at the scheduler's 5-second sweep.
        _spawn(["outbox", "run"], env),
        _spawn(["media", "run"], env),
        _spawn(["serve", "--host", host, "--port", str(port)], env),
    ]
    base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}"  # nosec B104  # not a bind
    if not _wait_for(f"{base}/healthz", procs, stop_asked):
        stop_processes(procs)
        _say(echo, "Stopped." if stop_asked() else "The service did not start; see the messages above.")
        return 0 if stop_asked() else 1
    simulated = ShiftedClock(env["SANZHIDA_DEV_CLOCK_FILE"])().astimezone(tz)
    echo(
        "\n三直达 is running with the WeChat simulator:\n"
        f"  Simulator:   {base}/dev/simulator/\n"
        f"  Dashboard:   {base}/office/   (demo sign-in: S0001 / {DEMO_PASSWORD})\n"
        f"  Simulated time: {simulated:%Y-%m-%d %H:%M}   (the simulator's +20分钟 / +3小时 / +1天 move it on)\n"
        f"  Health:      {base}/healthz\n"
        f"  WeChat API stand-in: {standin}/_calls   (files: {standin}/_media)\n"
        f"  WeChat sign-in (OAuth): {env['WECHAT_OAUTH_URL']}\n"
        f"  Speech recognition stand-in: {env['ASR_URL']}   (heard: http://127.0.0.1:{asr_port}/_calls)\n"
        f"  SMS stand-in (Aliyun): {env['SMS_ENDPOINT']}   (sent: {env['SMS_ENDPOINT']}_calls)\n"
        "Press Ctrl-C to stop everything.\n"
    )
    while not stop_asked():
        if any(p.poll() is not None for p in procs):
            echo("A process stopped unexpectedly; stopping the others.")
            stop_processes(procs)
            return 1
        time.sleep(0.5)
    _say(echo, "Stopping …")
    stop_processes(procs)
    _say(echo, "Stopped.")
    return 0


def _say(echo, text: str) -> None:
    # After SIGHUP or with make gone, the terminal may be gone too: stopping matters more than saying so.
    try:
        echo(text)
    except OSError:
        pass
