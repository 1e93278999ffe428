"""Load the WeChat webhook with wrk, side by side with two baselines, on the city demo database.

    .venv/bin/python bench/webhook.py [--database-url postgresql://postgres@127.0.0.1/sz_city] \
        [--redis-url redis://127.0.0.1:6379/13] [--connections 16] [--duration 20s] [--workers 5] \
        [--rounds 3] [--reply-mode queued|inline] [--inbox-workers 1] [--inbox-nice 19] \
        [--json out.json] [--py-spy /tmp/app.svg] [--smoke]

Needs `wrk` on PATH (Debian: `apt-get install wrk`); installs nothing itself.

What it does:
1. Starts the local WeChat API stand-in (`python -m cli fake-wechat`) so nothing leaves the
   machine, and three gunicorn servers with the same settings (`-w W`, sync workers):
   `app` — `bot.app:create_app()` in development mode on DATABASE_URL / REDIS_URL (prefix
   `benchwh`); `bare` — Flask + wechatpy echo (check, parse, reply); `durable` — the same plus
   Redis SETNX on the MsgId and one INSERT into `bench_echo` (see `bench/baselines.py`).
2. For each round and each server: generates distinct, correctly signed plaintext WeChat POSTs
   right before starting wrk (so every timestamp is inside the 300 s replay window) — mostly
   help-request text from users bound to a beneficiary (`family_links` → `wechat_users`), some
   commands (进度, 我的协理员, 帮助), some menu CLICK events, some unbound visitors — each with its own
   MsgId and nonce. They go to one data file per wrk thread; the generated Lua script loads them in
   `init` and hands each out once from `request()`; when they run out it stops the thread and
   reports `exhausted` instead of reusing one. A short warm-up run sizes the main run's message
   count (1.6 × the warm-up rate × duration).
3. Runs `wrk -t2 -cC -dD --latency`, reads requests/s, p50/p90/p99, non-2xx and socket errors,
   and checks "every message stored": rows added to `inbound_messages` (resp. `bench_echo`)
   during the run must be at least the 2xx responses wrk counted and at most the requests it sent
   (requests in flight when wrk stops are sent and stored but not counted). Messages whose handler
   failed (kept with an apology, `handling_error` set) count as errors.
4. In queued mode (the default, as deployed) it also starts `--inbox-workers` inbox worker
   processes (`sanzhida inbox run` under `nice -n --inbox-nice`) that run beside the web workers
   through every round, and after each app run waits until they have handled every message of
   the run: the seconds that took after wrk stopped, and the messages handled per second from
   wrk's start, are reported. A message still unhandled counts as not stored. With
   `--inbox-workers 0` the messages only queue: a measure of the webhook alone.
5. Prints a table (medians over rounds), the ratios app/bare and app/durable, and the targets:
   app ≥ 0.7 × durable echo, p99 < 100 ms, zero errors, every message stored. The first two are the
   webhook's own: with inbox workers beside it on the same cores they are listed, not judged.

The app run writes to the database (inbound messages, requests, outbox rows): point
--database-url at a copy of the demo (`CREATE DATABASE sz_city_benchwh TEMPLATE sz_city`) to keep
the shared one unchanged. Exit code: 0 when every target is met, 1 when one is missed, 2 on setup
errors.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from config.settings import DEV_DEFAULTS  # noqa: E402
from devtools.wechat_side import WeChatSide, event_inner, message_xml, text_inner  # noqa: E402

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1/sz_city"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
REDIS_PREFIX = "benchwh"
ACCOUNT = "gh_sanzhida"
TARGET_RATIO_DURABLE = 0.7
TARGET_P99_MS = 100.0
MAX_MSG_ID = 2**63 - 1

HELP_TEXTS = (
    "我爸腿疼走不了路，能不能请人来看看",
    "家里老人一个人在家，这两天不接电话，麻烦去看一下",
    "奶奶的药吃完了，想请协理员帮忙去镇上买",
    "家里水管坏了，老人自己修不了",
    "妈妈最近血压高，想预约一下村医",
    "天冷了，老人家里没有取暖的，能帮忙想想办法吗",
    "孩子放学没人接，能不能帮忙照看一下",
    "低保的材料要补什么？老人不会弄",
    "屋顶漏雨了，想申请修缮",
    "老人摔了一跤，现在在家躺着，请尽快联系",
    "想给爷爷申请助餐，怎么办理",
    "家里停电两天了，老人一个人不方便",
)
COMMANDS = ("进度", "我的协理员", "帮助")
CLICK_KEYS = ("PROGRESS", "MY_ASSISTANT", "HELP")
# Share of each kind in the mix (the rest is help-request text from bound users).
MIX = (("help", 0.70), ("command", 0.12), ("event", 0.08), ("visitor", 0.10))


# --------------------------------------------------------------------------------------------
# Messages


@dataclass(frozen=True)
class Message:
    """One signed POST: the path with its query string, the XML body, and what it is."""

    path: str
    body: str
    kind: str
    openid: str
    msg_id: int | None
    # The app's dedupe key for it (`msg:{MsgId}` or `evt:{openid}:{CreateTime}:{event}`).
    key: str = ""


def parse_mix(text: str) -> tuple[tuple[str, float], ...]:
    """`help=70,command=12,event=8,visitor=10` as (kind, weight) pairs; ValueError when malformed."""
    known = {kind for kind, _ in MIX}
    pairs = []
    for part in text.split(","):
        kind, sep, weight = part.partition("=")
        kind = kind.strip()
        if not sep or kind not in known:
            raise ValueError(f"expected kind=weight with kind one of {', '.join(sorted(known))}, got {part!r}")
        value = float(weight)
        if value < 0:
            raise ValueError(f"weight of {kind} is negative")
        pairs.append((kind, value))
    if not any(weight > 0 for _, weight in pairs):
        raise ValueError("every weight is zero")
    return tuple(pairs)


def first_msg_id() -> int:
    """A MsgId base no earlier run used: microseconds since the epoch × 1000, above 7e18."""
    return 7_000_000_000_000_000_000 + (time.time_ns() // 1000) * 1000


class MessageFactory:
    """Builds distinct, correctly signed plaintext messages; state carries over between batches so
    no MsgId, nonce or event key (openid + CreateTime + event) is ever produced twice."""

    def __init__(self, token: str, bound_openids: list[str], *, visitors: int = 500,
                 msg_id_start: int | None = None, seed: int | None = None, account: str = ACCOUNT,
                 mix: tuple[tuple[str, float], ...] = MIX):
        if not bound_openids:
            raise ValueError("no bound WeChat users: is the database seeded with family links?")
        self.side = WeChatSide(token=token, app_id="", account=account)
        self.bound = list(bound_openids)
        tag = secrets.token_hex(3)
        self.visitors = [f"o-benchwh-{tag}-{i}" for i in range(max(1, visitors))]
        self.next_msg_id = msg_id_start if msg_id_start is not None else first_msg_id()
        self.rng = random.Random(seed)
        self.nonces = itertools.count(1)
        self.nonce_tag = secrets.token_hex(3)
        self.events_used: set[tuple[str, int, str]] = set()
        self.event_turn = 0
        kinds, weights = zip(*mix)
        self.kinds, self.weights = list(kinds), list(weights)

    def generate(self, count: int, now: datetime) -> list[Message]:
        """`count` new messages signed with `now` as their timestamp."""
        ts = int(now.timestamp())
        return [self._one(self.rng.choices(self.kinds, self.weights)[0], ts, now) for _ in range(count)]

    def _take_msg_id(self) -> int:
        msg_id = self.next_msg_id
        if msg_id > MAX_MSG_ID:
            raise OverflowError("MsgId range exhausted")
        self.next_msg_id += 1
        return msg_id

    def _one(self, kind: str, ts: int, now: datetime) -> Message:
        msg_id = None
        if kind == "event":
            openid, created, click = self._event_slot(ts)
            xml = message_xml(openid, "event", created, event_inner("CLICK", click), account=self.side.account)
            key = f"evt:{openid}:{created}:click"
        else:
            if kind == "visitor":
                openid = self.rng.choice(self.visitors)
                content = self.rng.choice(HELP_TEXTS + ("你好", "怎么绑定"))
            else:
                openid = self.rng.choice(self.bound)
                content = self.rng.choice(COMMANDS) if kind == "command" else self.rng.choice(HELP_TEXTS)
            msg_id = self._take_msg_id()
            xml = message_xml(openid, "text", ts, text_inner(content), account=self.side.account, msg_id=msg_id)
            key = f"msg:{msg_id}"
        nonce = f"{self.nonce_tag}{next(self.nonces):x}"
        params, body = self.side.envelope(xml, now, mode="plain", nonce=nonce)
        return Message(path="/wechat?" + urlencode(params), body=body, kind=kind, openid=openid, msg_id=msg_id,
                       key=key)

    def _event_slot(self, ts: int) -> tuple[str, int, str]:
        # WeChat dedupes events by sender + CreateTime + event: walk the bound users in turn and
        # step CreateTime back one second per lap, skipping any slot already used.
        while True:
            turn = self.event_turn
            self.event_turn += 1
            openid = self.bound[turn % len(self.bound)]
            created = ts - turn // len(self.bound)
            if (openid, created, "click") not in self.events_used:
                self.events_used.add((openid, created, "click"))
                return openid, created, CLICK_KEYS[turn % len(CLICK_KEYS)]


def load_bound_openids(engine, limit: int = 5000, seed: int | None = None) -> list[str]:
    """Openids of WeChat users with an active family link (bound to a beneficiary), not staff."""
    from sqlalchemy import text

    sql = text(
        "SELECT DISTINCT wu.openid FROM family_links fl JOIN wechat_users wu ON wu.id = fl.wechat_user_id "
        "WHERE fl.active AND NOT EXISTS (SELECT 1 FROM staff s WHERE s.wechat_user_id = wu.id) "
        "ORDER BY wu.openid"
    )
    with engine.connect() as connection:
        openids = [row[0] for row in connection.execute(sql)]
    random.Random(seed).shuffle(openids)
    return openids[:limit]


# --------------------------------------------------------------------------------------------
# wrk script

LUA_TEMPLATE = r"""-- Generated by bench/webhook.py: each pre-signed message is sent at most once.
local data_dir = "%(data_dir)s"
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

local reqs = {}
local n = 0
local i = 0
sent = 0
exhausted = 0

function init(args)
  local headers = { ["Content-Type"] = "text/xml; charset=utf-8" }
  for line in io.lines(data_dir .. "/data_" .. id .. ".txt") do
    local tab = string.find(line, "\t", 1, true)
    n = n + 1
    reqs[n] = wrk.format("POST", string.sub(line, 1, tab - 1), headers, string.sub(line, tab + 1))
  end
end

function request()
  if i >= n then
    -- Out of messages: never reuse one. Stop this thread; the sentinel shows up as a 404.
    exhausted = 1
    wrk.thread:stop()
    return wrk.format("GET", "/__bench_exhausted__")
  end
  i = i + 1
  sent = i
  local r = reqs[i]
  reqs[i] = nil
  return r
end

function done(summary, latency, requests)
  local total, ex = 0, 0
  for _, t in ipairs(threads) do
    total = total + (t:get("sent") or 0)
    ex = ex + (t:get("exhausted") or 0)
  end
  local e = summary.errors
  io.write(string.format("BENCH sent=%%d exhausted=%%d requests=%%d duration_us=%%d connect=%%d read=%%d write=%%d status=%%d timeout=%%d\n",
    total, ex, summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout))
  io.write(string.format("BENCH p50=%%d p90=%%d p99=%%d max=%%d mean=%%d\n",
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
"""


def write_wrk_inputs(directory: Path, messages: list[Message], threads: int) -> Path:
    """One data file per wrk thread (disjoint slices) and the Lua script that walks them."""
    directory.mkdir(parents=True, exist_ok=True)
    for t in range(threads):
        with open(directory / f"data_{t + 1}.txt", "w", encoding="utf-8") as out:
            for m in messages[t::threads]:
                if "\n" in m.body or "\t" in m.path or "\n" in m.path:
                    raise ValueError("message bodies must be one line")
                out.write(f"{m.path}\t{m.body}\n")
    script = directory / "script.lua"
    script.write_text(LUA_TEMPLATE % {"data_dir": str(directory)}, encoding="utf-8")
    return script


@dataclass
class WrkResult:
    """What one wrk run measured (latencies in ms)."""

    requests: int = 0
    seconds: float = 0.0
    rps: float = 0.0
    p50_ms: float = 0.0
    p90_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    non_2xx: int = 0
    socket_errors: int = 0
    timeouts: int = 0
    sent: int = 0
    exhausted: bool = False
    generated: int = 0
    stored: int | None = None
    handler_failures: int | None = None
    store_ok: bool | None = None
    # Queued mode: seconds after wrk stopped until the inbox workers had handled every stored
    # message of the run, and messages still unhandled when the wait gave up.
    drain_s: float | None = None
    unhandled: int | None = None
    # Share of the machine's CPU (both cores = 100) per process group during the wrk run.
    cpu_percent: dict | None = None

    @property
    def handled_per_s(self) -> float | None:
        """Messages the inbox workers handled per second, from wrk's start to the last one."""
        if self.drain_s is None or not self.stored or self.unhandled:
            return None
        return self.stored / (self.seconds + self.drain_s)

    @property
    def ok_responses(self) -> int:
        return self.requests - self.non_2xx

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors + self.timeouts + (self.handler_failures or 0)


def parse_wrk(output: str) -> WrkResult:
    """Read wrk's own summary and the lines our `done()` prints."""
    fields: dict[str, int] = {}
    for line in output.splitlines():
        if line.startswith("BENCH "):
            for k, v in re.findall(r"(\w+)=(-?\d+)", line):
                fields[k] = int(v)
    if "requests" not in fields:
        raise RuntimeError(f"wrk output not understood:\n{output}")
    non_2xx = 0
    match = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", output)
    if match:
        non_2xx = int(match.group(1))
    seconds = fields["duration_us"] / 1e6
    return WrkResult(
        requests=fields["requests"], seconds=seconds, rps=fields["requests"] / seconds if seconds else 0.0,
        p50_ms=fields["p50"] / 1000, p90_ms=fields["p90"] / 1000, p99_ms=fields["p99"] / 1000,
        max_ms=fields["max"] / 1000, non_2xx=max(non_2xx, fields["status"]),
        socket_errors=fields["connect"] + fields["read"] + fields["write"], timeouts=fields["timeout"],
        sent=fields["sent"], exhausted=bool(fields["exhausted"]),
    )


def run_wrk(url: str, script: Path, *, connections: int, duration: str, threads: int) -> WrkResult:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}", "--latency", "-s", str(script), url]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=parse_seconds(duration) + 120)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse_wrk(done.stdout)


def parse_seconds(duration: str) -> float:
    """wrk-style durations: 20, 20s, 2m, 1h."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smh]?)", duration.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"not a duration: {duration!r}")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


# --------------------------------------------------------------------------------------------
# Servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


@dataclass
class Server:
    """A process we started (gunicorn or the WeChat stand-in) and the port it listens on."""

    name: str
    proc: subprocess.Popen
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> list[int]:
        return children_of(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def children_of(pid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                pids.append(int(entry.name))
    return sorted(pids)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds the processes have used so far (gone processes count 0)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / tick


def pids_named(name: str) -> list[int]:
    """Processes whose command name is `name` (e.g. every PostgreSQL backend)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


class CpuSplit:
    """Where the machine's CPU went during one wrk run: web workers, inbox workers, PostgreSQL,
    Redis and wrk itself (the children this script waited for)."""

    def __init__(self, web: list[int], inbox: list[int]):
        self.groups = {"web": web, "inbox": inbox, "postgres": pids_named("postgres"),
                       "redis": pids_named("redis-server")}
        self.start = {k: cpu_seconds(v) for k, v in self.groups.items()}
        self.children = os.times().children_user + os.times().children_system

    def done(self, seconds: float) -> dict[str, float]:
        """Each group's share of the machine's capacity (all cores) over `seconds`, in percent."""
        capacity = seconds * (os.cpu_count() or 1) / 100
        used = {k: cpu_seconds(v) - self.start[k] for k, v in self.groups.items()}
        used["wrk"] = os.times().children_user + os.times().children_system - self.children
        return {k: round(v / capacity, 1) for k, v in used.items()}


def peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def gunicorn_bin() -> str:
    local = Path(sys.executable).parent / "gunicorn"
    return str(local) if local.exists() else (shutil.which("gunicorn") or "gunicorn")


def start_gunicorn(name: str, spec: str, env: dict, workers: int, logdir: Path, timeout: float = 300.0) -> Server:
    port = free_port()
    log = logdir / f"{name}.log"
    proc = subprocess.Popen(
        # Production's settings (config/gunicorn.py) for all three servers, without an access log.
        [gunicorn_bin(), "-c", "python:config.gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}",
         "--log-level", "warning", "--graceful-timeout", "5", spec],
        cwd=ROOT, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    server = Server(name, proc, port, log)
    try:
        wait_http(server.base + "/healthz", proc, timeout)
    except Exception:
        server.stop()
        raise RuntimeError(f"{name} did not start; see {log}:\n{log.read_text()[-2000:]}")
    return server


def start_fake_wechat(logdir: Path) -> Server:
    port = free_port()
    log = logdir / "fake_wechat.log"
    proc = subprocess.Popen([sys.executable, "-m", "cli", "fake-wechat", "--port", str(port)], cwd=ROOT,
                            env=dict(os.environ), stdout=open(log, "w"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    server = Server("fake-wechat", proc, port, log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the WeChat stand-in exited; see {log}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return server
        time.sleep(0.1)
    server.stop()
    raise RuntimeError("the WeChat stand-in did not start")


def start_inbox_workers(count: int, env: dict, logdir: Path, niceness: int) -> list[Server]:
    """`sanzhida inbox run` processes at `nice -n niceness`; they run through every round,
    beside the web workers, as the deployment runs them."""
    workers = []
    for i in range(count):
        log = logdir / f"inbox-{i}.log"
        proc = subprocess.Popen(["nice", "-n", str(niceness), sys.executable, "-m", "cli", "inbox", "run"],
                                cwd=ROOT, env=env,
                                stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)
        workers.append(Server(f"inbox-{i}", proc, 0, log))
    time.sleep(1.0)
    for worker in workers:
        if worker.proc.poll() is not None:
            raise RuntimeError(f"an inbox worker exited; see {worker.log}:\n{worker.log.read_text()[-2000:]}")
    return workers


def server_env(database_url: str, redis_url: str, fake_base: str, reply_mode: str = "queued") -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "SANZHIDA_"))}
    env.update(
        SANZHIDA_ENV="development",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        REDIS_KEY_PREFIX=REDIS_PREFIX,
        WECHAT_TOKEN=DEV_DEFAULTS["WECHAT_TOKEN"],
        WECHAT_APP_ID=DEV_DEFAULTS["WECHAT_APP_ID"],
        WECHAT_APP_SECRET=DEV_DEFAULTS["WECHAT_APP_SECRET"],
        WECHAT_API_BASE_URL=fake_base,
        WECHAT_REPLY_MODE=reply_mode,
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    return env


# --------------------------------------------------------------------------------------------
# Store checks


class StoreCheck:
    """Counts what a run stored: its own rows of `inbound_messages` (by MsgId range and event keys)
    for the app, the rows of `bench_echo` (emptied before the run) for the durable echo."""

    def __init__(self, engine, kind: str, *, queued: bool = False, drain_timeout: float = 900.0):
        self.engine, self.kind, self.queued, self.drain_timeout = engine, kind, queued, drain_timeout

    def before(self) -> None:
        from sqlalchemy import text

        # Requests of the warm-up still in flight when wrk stopped finish first.
        time.sleep(1.5)
        if self.queued:
            # So is the warm-up's backlog: the main run starts with idle inbox workers.
            deadline = time.monotonic() + self.drain_timeout
            with self.engine.connect() as c:
                while c.execute(text("SELECT COUNT(*) FROM inbound_messages WHERE handled_at IS NULL")).scalar_one():
                    c.rollback()
                    if time.monotonic() > deadline:
                        raise RuntimeError("the inbox workers did not drain the warm-up's messages")
                    time.sleep(0.25)
        if self.kind == "durable":
            with self.engine.begin() as c:
                c.execute(text("TRUNCATE bench_echo"))

    def after(self, messages: list[Message], result: WrkResult) -> None:
        from sqlalchemy import bindparam, text

        stopped = time.monotonic()
        time.sleep(1.5)  # let the last in-flight requests finish
        with self.engine.connect() as c:
            if self.kind == "app":
                ids = [m.msg_id for m in messages if m.msg_id is not None]
                events = [m.key for m in messages if m.msg_id is None]
                where = "(msg_id BETWEEN :lo AND :hi OR dedupe_key IN :events)"
                q = lambda sql: text(sql).bindparams(bindparam("events", expanding=True))  # noqa: E731
                params = {"lo": min(ids, default=0), "hi": max(ids, default=-1), "events": events or ["-"]}
                stored = c.execute(q(f"SELECT COUNT(*) FROM inbound_messages WHERE {where}"), params).scalar_one()
                if self.queued:
                    # The inbox workers go on after wrk stops: wait until they have handled the run.
                    while True:
                        left = c.execute(q(f"SELECT COUNT(*) FROM inbound_messages WHERE {where} "
                                           "AND handled_at IS NULL"), params).scalar_one()
                        c.rollback()
                        if left == 0 or time.monotonic() - stopped > self.drain_timeout:
                            break
                        time.sleep(0.25)
                    result.unhandled = left
                    result.drain_s = time.monotonic() - stopped
                result.handler_failures = c.execute(
                    q(f"SELECT COUNT(*) FROM inbound_messages WHERE {where} AND handling_error IS NOT NULL"), params
                ).scalar_one()
            else:
                stored = c.execute(text("SELECT COUNT(*) FROM bench_echo")).scalar_one()
        result.stored = stored
        # Every 2xx answer was stored; nothing beyond what wrk sent (in-flight requests at the end
        # are sent and stored but not counted). The exhausted sentinel (a 404 GET) is no 2xx.
        result.store_ok = bool(result.ok_responses <= stored <= result.sent) and not result.unhandled


# --------------------------------------------------------------------------------------------
# The run


@dataclass
class TargetRun:
    name: str
    rounds: list[WrkResult] = field(default_factory=list)
    peak_worker_rss_mb: float | None = None
    inbox_peak_rss_mb: float | None = None

    def median(self, attr: str) -> float:
        return statistics.median(getattr(r, attr) for r in self.rounds)


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"cpus": os.cpu_count(), "cpu": cpu, "memory_gb": round(mem_gb, 1), "python": platform.python_version(),
            "platform": platform.platform()}


def build_parser() -> argparse.ArgumentParser:
    cores = os.cpu_count() or 1
    parser = argparse.ArgumentParser(
        description="wrk load on the WeChat webhook (gunicorn + PostgreSQL + Redis) beside a bare and a durable echo.",
        epilog="Targets: app >= 0.7x durable echo and p99 < 100 ms (the webhook alone: --inbox-workers 0), "
               "zero errors, every message stored.",
    )
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL, help="city demo database (default: %(default)s)")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL, help="Redis for app and durable echo (default: %(default)s)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default: %(default)s)")
    parser.add_argument("--duration", default="20s", help="wrk duration per run (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=min(2 * cores + 1, 9),
                        help="gunicorn sync workers for all three servers (default: 2*cores+1, at most 9: %(default)s)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of bare, durable, app (reversed every other round); medians reported (default: 1)")
    parser.add_argument("--warmup", default="3s", help="warm-up run per server and round, sizes the main run (default: %(default)s)")
    parser.add_argument("--warmup-rps", type=int, default=5000, help="messages per second generated for the warm-up (default: %(default)s)")
    parser.add_argument("--targets", default="bare,durable,app", help="which servers to load (default: %(default)s)")
    parser.add_argument("--users", type=int, default=5000, help="bound users to draw senders from (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=None, help="random seed for the message mix")
    parser.add_argument("--mix", default=",".join(f"{kind}={weight * 100:g}" for kind, weight in MIX),
                        help="message mix as kind=weight (default: %(default)s)")
    parser.add_argument("--reply-mode", choices=("queued", "inline"), default="queued",
                        help="the app's WECHAT_REPLY_MODE (default: %(default)s)")
    parser.add_argument("--inbox-workers", type=int, default=1,
                        help="inbox worker processes running beside the app in queued mode (default: %(default)s)")
    parser.add_argument("--inbox-nice", type=int, default=19,
                        help="niceness of the inbox workers, as docker-compose.yml runs them (default: %(default)s)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--py-spy", metavar="PATH", help="record one app worker with py-spy during the last app run "
                        "(.svg flame graph, .txt collapsed stacks, .json speedscope)")
    parser.add_argument("--py-spy-inbox", metavar="PATH", help="record the first inbox worker with py-spy during the "
                        "last app run and its drain (same formats as --py-spy)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (Lua, data, server logs)")
    parser.add_argument("--smoke", action="store_true", help="tiny quick run: 2 workers, 4 connections, 2 s, 1 s warm-up, "
                        "a backlog of 100 and 20 messages/s for 3 s")
    parser.add_argument("--backlog", type=int, default=2000,
                        help="messages one inbox worker drains after the rounds (bench/webhook_flow.py; default: %(default)s)")
    parser.add_argument("--flow-rate", type=float, default=50.0,
                        help="open-loop messages per second for the latency to WeChat (default: %(default)s)")
    parser.add_argument("--flow-seconds", type=float, default=30.0, help="how long that load runs (default: %(default)s)")
    parser.add_argument("--no-flow", action="store_true", help="skip the backlog and the latency to WeChat")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.smoke:
        args.workers, args.connections, args.duration, args.warmup, args.rounds = 2, 4, "2s", "1s", 1
        args.warmup_rps = 1000
        args.backlog, args.flow_rate, args.flow_seconds = 100, 20.0, 3.0
    if shutil.which("wrk") is None:
        print("wrk is not installed: this benchmark needs it on PATH (Debian/Ubuntu: apt-get install wrk).",
              file=sys.stderr)
        return 2
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    if not set(targets) <= {"bare", "durable", "app"}:
        print(f"--targets: unknown server in {args.targets!r}", file=sys.stderr)
        return 2
    duration_s = parse_seconds(args.duration)
    warmup_s = parse_seconds(args.warmup)
    try:
        mix = parse_mix(args.mix)
    except ValueError as exc:
        print(f"--mix: {exc}", file=sys.stderr)
        return 2

    from bench.baselines import create_echo_table
    from models.db import make_engine

    engine = make_engine(args.database_url)
    bound = load_bound_openids(engine, args.users, args.seed)
    if not bound:
        print(f"no bound WeChat users in {args.database_url}: seed the city demo first", file=sys.stderr)
        return 2
    create_echo_table(engine)
    factory = MessageFactory(DEV_DEFAULTS["WECHAT_TOKEN"], bound, seed=args.seed, mix=mix)

    workdir = Path(tempfile.mkdtemp(prefix="bench-webhook-"))
    servers: dict[str, Server] = {}
    runs = {name: TargetRun(name) for name in targets}
    flow = None
    started = datetime.now(UTC)
    print(f"bench/webhook: {len(bound)} bound users, workers={args.workers}, connections={args.connections}, "
          f"duration={args.duration}, rounds={args.rounds}, workdir={workdir}", flush=True)
    try:
        fake = start_fake_wechat(workdir)
        servers["fake-wechat"] = fake
        env = server_env(args.database_url, args.redis_url, fake.base + "/cgi-bin/", args.reply_mode)
        # With --inbox-workers 0 the stored messages wait (a measure of the webhook alone).
        queued = args.reply_mode == "queued" and "app" in targets and args.inbox_workers > 0
        if queued:
            for worker in start_inbox_workers(args.inbox_workers, env, workdir, args.inbox_nice):
                servers[worker.name] = worker
        specs = {"bare": "bench.baselines:bare_app()", "durable": "bench.baselines:durable_app()",
                 "app": "bot.app:create_app()"}
        for name in targets:
            servers[name] = start_gunicorn(name, specs[name], env, args.workers, workdir)
        for rnd in range(1, args.rounds + 1):
            # Every other round runs the servers in reverse order, so a machine that slows down or
            # speeds up during the run does not always favour the same server.
            for name in (targets if rnd % 2 else targets[::-1]):
                server = servers[name]
                url = server.base + "/wechat"
                # Warm-up: warms the workers and measures the rate that sizes the main run.
                warm_msgs = factory.generate(max(200, int(args.warmup_rps * warmup_s)), datetime.now(UTC))
                warm = run_wrk(url, write_wrk_inputs(workdir / f"{name}-{rnd}-warm", warm_msgs, args.threads),
                               connections=args.connections, duration=args.warmup, threads=args.threads)
                rate = warm.rps if not warm.exhausted else args.warmup_rps * 2
                # With inbox workers the warm-up competes with the previous backlog's handling and
                # can run at half the main run's rate: leave more room so wrk never runs out.
                margin = 3.0 if queued and name == "app" else 1.6
                count = max(1000, int(rate * duration_s * margin) + 500)
                check = (StoreCheck(engine, name, queued=queued and name == "app")
                         if name in ("app", "durable") else None)
                if check:
                    check.before()
                messages = factory.generate(count, datetime.now(UTC))
                script = write_wrk_inputs(workdir / f"{name}-{rnd}", messages, args.threads)
                spy = None
                if args.py_spy and name == "app" and rnd == args.rounds:
                    spy = start_py_spy(args.py_spy, server.worker_pids()[0], duration_s)
                inbox_spy = None
                if args.py_spy_inbox and queued and name == "app" and rnd == args.rounds:
                    inbox_spy = start_py_spy(args.py_spy_inbox, servers["inbox-0"].proc.pid, duration_s)
                inbox_pids = [s.proc.pid for n, s in servers.items() if n.startswith("inbox-")]
                split = CpuSplit(server.worker_pids(), inbox_pids if name == "app" else [])
                result = run_wrk(url, script, connections=args.connections, duration=args.duration,
                                 threads=args.threads)
                result.cpu_percent = split.done(result.seconds or duration_s)
                result.generated = count
                for recorder in (spy, inbox_spy):
                    if recorder is not None:
                        recorder.wait(timeout=duration_s + 60)
                if check:
                    check.after(messages, result)
                runs[name].rounds.append(result)
                print(f"  round {rnd} {name:8s} {result.rps:8.1f} req/s  p50 {result.p50_ms:6.1f}  "
                      f"p90 {result.p90_ms:6.1f}  p99 {result.p99_ms:6.1f} ms  non2xx {result.non_2xx}  "
                      f"sock {result.socket_errors}  sent {result.sent}/{count}"
                      + (f"  stored {result.stored} (failed {result.handler_failures})" if result.stored is not None else "")
                      + (f"  handled in +{result.drain_s:.1f} s ({result.handled_per_s or 0:.0f}/s)"
                         if result.drain_s is not None else "")
                      + ("  EXHAUSTED" if result.exhausted else "")
                      + "\n      cpu %: " + "  ".join(f"{k} {v}" for k, v in (result.cpu_percent or {}).items()),
                      flush=True)
            for name in targets:
                rss = [peak_rss_mb(pid) for pid in servers[name].worker_pids()]
                rss = [r for r in rss if r is not None]
                if rss:
                    runs[name].peak_worker_rss_mb = max(rss)
            inbox_rss = [peak_rss_mb(s.proc.pid) for n, s in servers.items() if n.startswith("inbox-")]
            inbox_rss = [r for r in inbox_rss if r is not None]
            if inbox_rss and "app" in runs:
                runs["app"].inbox_peak_rss_mb = max(inbox_rss)
        if queued and not args.no_flow:
            flow = run_flow_phases(args, engine, env, workdir, servers, runs, bound, fake)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"bench/webhook: {exc}", file=sys.stderr)
        return 2
    finally:
        for server in servers.values():
            server.stop()
        engine.dispose()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    report = summarize(runs, args, started)
    if flow is not None:
        from bench.webhook_flow import summary

        report["flow"] = summary(flow)
        report["targets"].update(report["flow"]["targets"])
        report["targets_met"] = all(report["targets"].values())
    print_report(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
        print(f"wrote {args.json}")
    return 0 if report["targets_met"] in (True, None) else 1


def run_flow_phases(args, engine, env: dict, workdir: Path, servers: dict, runs: dict, bound: list[str], fake: Server):
    """One inbox worker draining a backlog, then the latency to WeChat under a steady load
    (bench/webhook_flow.py), after the rounds' servers and workers have stopped."""
    from bench.webhook_flow import run_flow

    for name, server in list(servers.items()):
        if name != "fake-wechat":
            server.stop()
    durable = runs.get("durable")
    print(f"flow: backlog {args.backlog}, then {args.flow_rate:g} messages/s for {args.flow_seconds:g} s", flush=True)
    return run_flow(engine=engine, env=env, workdir=workdir, workers=args.workers, niceness=args.inbox_nice,
                    fake_root=fake.base, exclude=set(bound), backlog=args.backlog, rate=args.flow_rate,
                    seconds=args.flow_seconds, durable_rps=durable.median("rps") if durable and durable.rounds else None,
                    seed=args.seed, token=DEV_DEFAULTS["WECHAT_TOKEN"], account=ACCOUNT, texts=HELP_TEXTS,
                    servers=servers)


def start_py_spy(out: str, pid: int, duration_s: float) -> subprocess.Popen:
    binary = Path(sys.executable).parent / "py-spy"
    exe = str(binary) if binary.exists() else shutil.which("py-spy")
    if not exe:
        raise RuntimeError("--py-spy: py-spy is not installed (pip install py-spy)")
    fmt = {".txt": "raw", ".json": "speedscope"}.get(Path(out).suffix, "flamegraph")
    proc = subprocess.Popen([exe, "record", "-o", out, "-f", fmt, "-d", str(int(duration_s)), "-r", "200",
                             "--pid", str(pid)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    time.sleep(0.5)
    return proc


def summarize(runs: dict[str, TargetRun], args, started: datetime) -> dict:
    rows = {}
    for name, run in runs.items():
        rows[name] = {
            "rps": run.median("rps"), "p50_ms": run.median("p50_ms"), "p90_ms": run.median("p90_ms"),
            "p99_ms": run.median("p99_ms"), "errors": sum(r.errors for r in run.rounds),
            "non_2xx": sum(r.non_2xx for r in run.rounds), "socket_errors": sum(r.socket_errors for r in run.rounds),
            "timeouts": sum(r.timeouts for r in run.rounds),
            "handler_failures": sum(r.handler_failures or 0 for r in run.rounds),
            "exhausted": any(r.exhausted for r in run.rounds),
            "store_ok": all(r.store_ok is not False for r in run.rounds),
            "peak_worker_rss_mb": run.peak_worker_rss_mb,
            "drain_s": (statistics.median(r.drain_s for r in run.rounds)
                        if all(r.drain_s is not None for r in run.rounds) else None),
            "handled_per_s": (statistics.median(r.handled_per_s for r in run.rounds)
                              if all(r.handled_per_s is not None for r in run.rounds) else None),
            "inbox_peak_rss_mb": run.inbox_peak_rss_mb,
            "rounds": [asdict(r) | {"ok_responses": r.ok_responses, "handled_per_s": r.handled_per_s}
                       for r in run.rounds],
        }
    ratios, round_ratios = {}, {}
    app = rows.get("app")
    if app:
        for base in ("bare", "durable"):
            if base in rows and rows[base]["rps"]:
                ratios[f"app/{base}"] = app["rps"] / rows[base]["rps"]
                # Each round's servers ran back to back: their ratio shows how much of the spread is noise.
                round_ratios[f"app/{base}"] = [a.rps / b.rps for a, b in zip(runs["app"].rounds, runs[base].rounds)
                                               if b.rps]
    targets, elsewhere = {}, []
    if app:
        webhook_alone = {}
        if "app/durable" in ratios:
            webhook_alone["throughput >= 0.7x durable echo"] = ratios["app/durable"] >= TARGET_RATIO_DURABLE
        webhook_alone["p99 < 100 ms"] = app["p99_ms"] < TARGET_P99_MS
        if args.reply_mode == "queued" and args.inbox_workers > 0:
            # These are the webhook's own targets: with inbox workers sharing its cores they are not measured.
            elsewhere = list(webhook_alone)
        else:
            targets.update(webhook_alone)
        targets["zero errors"] = app["errors"] == 0 and not app["exhausted"]
        targets["every message stored"] = app["store_ok"]
    return {
        "benchmark": "webhook", "date": started.isoformat(timespec="seconds"), "machine": machine(),
        "settings": {"workers": args.workers, "connections": args.connections, "duration": args.duration,
                     "threads": args.threads, "rounds": args.rounds, "database_url": _hide_password(args.database_url),
                     "redis_url": _hide_password(args.redis_url), "smoke": args.smoke,
                     "reply_mode": args.reply_mode, "inbox_workers": args.inbox_workers,
                     "inbox_nice": args.inbox_nice, "mix": dict(parse_mix(args.mix))},
        "results": rows, "ratios": ratios, "round_ratios": round_ratios, "targets": targets,
        "targets_met": all(targets.values()) if targets else None,
        "targets_not_measured": elsewhere,
    }


def _hide_password(url: str) -> str:
    return re.sub(r"://([^:/@]+):[^@]+@", r"://\1:***@", url)


def print_report(report: dict) -> None:
    rows = report["results"]
    print()
    print(f"{'server':10s} {'req/s':>9s} {'p50 ms':>8s} {'p90 ms':>8s} {'p99 ms':>8s} {'errors':>7s} {'stored':>7s} {'rss MB':>7s}")
    for name, row in rows.items():
        stored = "-" if name == "bare" else ("ok" if row["store_ok"] else "MISSING")
        rss = f"{row['peak_worker_rss_mb']:.0f}" if row["peak_worker_rss_mb"] else "-"
        print(f"{name:10s} {row['rps']:9.1f} {row['p50_ms']:8.1f} {row['p90_ms']:8.1f} {row['p99_ms']:8.1f} "
              f"{row['errors']:7d} {stored:>7s} {rss:>7s}")
    for name, value in report["ratios"].items():
        per_round = report.get("round_ratios", {}).get(name) or []
        rounds = f"  (rounds: {', '.join(f'{r:.2f}' for r in per_round)})" if len(per_round) > 1 else ""
        print(f"{name}: {value:.2f}{rounds}")
    app = rows.get("app") or {}
    if app.get("drain_s") is not None:
        rate = app["handled_per_s"]
        print(f"inbox workers: every message handled {app['drain_s']:.1f} s after wrk stopped "
              f"({'%.0f' % rate if rate else '-'} handled/s over the run), "
              f"peak RSS {app['inbox_peak_rss_mb'] or 0:.0f} MB")
    if report.get("flow"):
        from bench.webhook_flow import print_summary

        print_summary(report["flow"])
    for name, met in report["targets"].items():
        print(f"  [{'met' if met else 'MISSED'}] {name}")
    for name in report.get("targets_not_measured", []):
        print(f"  [webhook alone: --inbox-workers 0] {name}")


if __name__ == "__main__":
    sys.exit(main())
