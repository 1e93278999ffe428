"""Soak: the whole service under steady load while its processes are killed, then check that no
message, reply or escalation was lost or doubled.

    .venv/bin/python bench/soak.py [--minutes 10] [--rate 30] [--kill-every 20] \
        [--web 3] [--inbox 3] [--dispatchers 2] [--schedulers 2] [--json out.json] [--smoke]

Needs PostgreSQL's server binaries (/usr/lib/postgresql/15/bin, or SOAK_PG_BIN) and redis-server;
it starts its own cluster (port 5433) and Redis (6380) in a temporary folder and never touches
the shared ones.

1. initdb a cluster, start Redis, `sanzhida db upgrade`, `sanzhida seed demo --scale small`; give
   every member of staff a WeChat account so their pushes go out; reopen a few closed cases as
   urgent ones nobody accepted, raised so that their escalation rungs fall due during the run.
2. Start the WeChat API stand-in with 50 ms latency and 1 % failures (errcode -1, HTTP 5xx,
   timeouts, late answers: devtools/fake_wechat_chaos.py), gunicorn with `--web` workers, and
   the inbox workers, dispatchers and schedulers.
3. Send `--rate` distinct, correctly signed messages a second from the bound family members (new
   help requests, follow-ups, commands), each told to the stand-in first (it opens the user's
   customer-service window), and, as WeChat does, send a message again when no answer came
   within 5 s, up to 3 times. Every `--kill-every` seconds SIGKILL a random process (a web
   worker, an inbox worker, a dispatcher or a scheduler) and start it again; restart PostgreSQL
   once (`pg_ctl restart -m fast`, a third of the way in) and Redis once (SHUTDOWN NOSAVE and
   start, two thirds in).
4. Wait until every message is handled and every due push sent (or --settle seconds), then
   check (bench/soak_checks.py) and print a table. Exit 1 on a loss or a duplicate outside the
   at-least-once window (docs/benchmarks.md, "Soak"), 2 on a setup error.

`--smoke` is the CI-sized run (about a minute): 20 s at 8 messages a second, kills of web workers
only, the Redis restart, no PostgreSQL restart and no escalations (a killed sender's claim takes
60 s to lapse, and the escalation scan runs once a minute; both need the full run).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import requests

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import soak_checks as checks  # noqa: E402
from bench import soak_stack as stack  # noqa: E402
from bench.webhook import HELP_TEXTS, first_msg_id  # noqa: E402
from config.settings import DEV_DEFAULTS  # noqa: E402
from devtools.wechat_side import WeChatSide, message_xml, text_inner  # noqa: E402

FOLLOW_UPS = ("谢谢，麻烦快一点", "人什么时候能到？", "老人现在好一些了", "补充一下：下午家里有人", "还在等，辛苦了")
COMMANDS = ("进度", "我的协理员", "帮助")
MIX = (("help", 0.5), ("follow_up", 0.25), ("command", 0.25))
# WeChat waits 5 s for an answer and tries again, three times at most.
ANSWER_SECONDS = 5.0
RETRIES = 3


@dataclass
class Outgoing:
    """One message as WeChat would deliver it, and what happened to it."""

    key: str
    openid: str
    kind: str
    text: str
    # Set when it is signed, at its first delivery.
    path: str = ""
    body: str = ""
    xml: str = ""
    attempts: int = 0
    ok: bool = False
    # The last answer: an HTTP status, or the exception's name.
    last: str = ""
    # Whether the stand-in heard that the user wrote (it opens the customer-service window).
    told: bool = False


class Sender:
    """Builds distinct signed messages and delivers them as WeChat does, retries included."""

    def __init__(self, web_url: str, wechat_root: str, openids: list[str], seed: int):
        self.web_url, self.wechat_root = web_url, wechat_root
        self.side = WeChatSide(token=DEV_DEFAULTS["WECHAT_TOKEN"], app_id="")
        self.openids = openids
        self.rng = random.Random(seed)  # nosec B311  # load mix, not a secret
        self.next_id = first_msg_id()
        self.sent: list[Outgoing] = []
        self.local = threading.local()
        self.lock = threading.Lock()

    def make(self) -> Outgoing:
        """The next message: a new MsgId, a bound sender, text by the mix."""
        kinds, weights = zip(*MIX)
        kind = self.rng.choices(kinds, weights)[0]
        text = self.rng.choice({"help": HELP_TEXTS, "follow_up": FOLLOW_UPS, "command": COMMANDS}[kind])
        openid = self.rng.choice(self.openids)
        msg_id, self.next_id = self.next_id, self.next_id + 1
        return Outgoing(f"msg:{msg_id}", openid, kind, text=text)

    def sign(self, message: Outgoing) -> None:
        """Build and sign the message as WeChat sends it, now (retries carry the same envelope)."""
        now = datetime.now(UTC)
        msg_id = int(message.key.split(":")[1])
        message.xml = message_xml(message.openid, "text", int(now.timestamp()), text_inner(message.text),
                                  account=self.side.account, msg_id=msg_id)
        params, message.body = self.side.envelope(message.xml, now, mode="plain", nonce=f"soak{msg_id:x}")
        message.path = "/wechat?" + urlencode(params)
        with self.lock:
            self.sent.append(message)

    def http(self) -> requests.Session:
        """This thread's connection pool."""
        if not hasattr(self.local, "http"):
            self.local.http = requests.Session()
        return self.local.http

    def deliver(self, message: Outgoing) -> None:
        """Tell the stand-in the user wrote, then post until a 200 or WeChat's retries run out."""
        self.sign(message)
        action = {"openid": message.openid, "msg_type": "text"}
        for _ in range(5):
            # WeChat always knows the user wrote: without this the stand-in would refuse the reply.
            try:
                self.http().post(f"{self.wechat_root}/_interactions", json=action, timeout=10).raise_for_status()
                message.told = True
                break
            except requests.RequestException:
                self.local.http = requests.Session()
        for _ in range(1 + RETRIES):
            started = time.monotonic()
            message.attempts += 1
            try:
                answer = self.http().post(self.web_url + message.path, data=message.body.encode(),
                                          headers={"Content-Type": "text/xml"}, timeout=ANSWER_SECONDS)
                message.last = str(answer.status_code)
                if answer.status_code == 200:
                    message.ok = True
                    return
            except requests.RequestException as exc:
                message.last = type(exc).__name__
                self.local.http = requests.Session()
            time.sleep(max(0.0, ANSWER_SECONDS - (time.monotonic() - started)))


@dataclass
class Plan:
    """What this run does, from the command line."""

    seconds: float
    rate: float
    kill_every: float
    kill_roles: set[str]
    restart_pg: bool
    restart_redis: bool
    cases: int
    settle: float
    leader_ttl: int


def plan_of(args) -> Plan:
    """The run's plan; --smoke overrides the sizes."""
    if args.smoke:
        return Plan(20, 8, 7, {"web"}, False, True, 0, 30, 6)
    return Plan(args.minutes * 60, args.rate, args.kill_every, {"web", "inbox", "dispatcher", "scheduler"},
                True, True, args.cases, args.settle, 30)


def chaos(st: stack.Stack, plan: Plan, started: float, stop: threading.Event,
          disruptions: list[checks.Disruption], rng: random.Random) -> None:
    """Kill a random process every kill_every seconds; restart PostgreSQL and Redis once each."""
    next_kill = started + plan.kill_every
    pg_at = started + plan.seconds / 3 if plan.restart_pg else None
    redis_at = started + 2 * plan.seconds / 3 if plan.restart_redis else None
    while not stop.wait(0.2):
        now = time.monotonic()
        for name in st.revive():
            disruptions.append(checks.Disruption(time.time(), name, "exited"))
        if pg_at is not None and now >= pg_at:
            pg_at = None
            began = time.time()
            st.pg.restart()
            disruptions.append(checks.Disruption(began, "postgres", "postgres", time.time()))
        if redis_at is not None and now >= redis_at:
            redis_at = None
            began = time.time()
            st.redis.restart()
            disruptions.append(checks.Disruption(began, "redis", "redis", time.time()))
        if now >= next_kill:
            next_kill += plan.kill_every
            victims = st.victims(plan.kill_roles)
            if victims:
                name, role, pid = rng.choice(victims)
                disruptions.append(checks.Disruption(time.time(), name, role))
                st.kill(name, pid)


def load(sender: Sender, plan: Plan) -> None:
    """Send plan.rate messages a second for plan.seconds; wait for the last deliveries."""
    interval = 1.0 / plan.rate
    threads = max(16, int(plan.rate * ANSWER_SECONDS * 2))
    # As WeChat, never more messages in flight than connections: when the service answers slowly
    # the offered rate drops (reported as the achieved rate) instead of a queue of stale messages.
    slots = threading.BoundedSemaphore(threads)

    def one(message: Outgoing) -> None:
        try:
            sender.deliver(message)
        finally:
            slots.release()

    with ThreadPoolExecutor(max_workers=threads) as pool:
        start = time.monotonic()
        n = 0
        while time.monotonic() - start < plan.seconds:
            slots.acquire()
            pool.submit(one, sender.make())
            n += 1
            time.sleep(max(0.0, start + n * interval - time.monotonic()))


def settled(engine, cases: list[int], expected_until: datetime, tz, began: datetime) -> str | None:
    """None when every message is handled, no due push waits and every due rung is taken; else what waits."""
    from sqlalchemy import text

    with engine.connect() as c:
        waiting = c.execute(text("SELECT count(*) FROM inbound_messages WHERE handled_at IS NULL")).scalar_one()
        pushes = c.execute(text(
            "SELECT count(*) FROM outbox WHERE status = 'sending' OR (status = 'pending' AND "
            "(next_attempt_at <= now() OR attempts > 0))")).scalar_one()
    if waiting or pushes:
        return f"{waiting} messages, {pushes} pushes"
    if cases:
        expected = checks.expected_rungs(engine, cases, expected_until, tz)
        taken = set(checks.escalation_events(engine, cases, began))
        left = sum(1 for rid, rungs in expected.items() for level, rep in rungs if (rid, level, rep) not in taken)
        if left:
            return f"{left} escalation rungs"
    return None


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="Exit 0: nothing lost or doubled outside the window; 1: a loss or "
                                       "such a duplicate; 2: setup failed.")
    p.add_argument("--minutes", type=float, default=10, help="Length of the load (default 10).")
    p.add_argument("--rate", type=float, default=30, help="Messages per second (default 30).")
    p.add_argument("--kill-every", type=float, default=20, help="Seconds between SIGKILLs (default 20).")
    p.add_argument("--web", type=int, default=3, help="gunicorn workers (default 3).")
    p.add_argument("--inbox", type=int, default=3, help="Inbox workers (default 3).")
    p.add_argument("--dispatchers", type=int, default=2, help="Outbox dispatchers (default 2).")
    p.add_argument("--schedulers", type=int, default=2, help="Scheduler processes (default 2).")
    p.add_argument("--family", type=int, default=600, help="Family members bound and writing (default 600).")
    p.add_argument("--cases", type=int, default=12, help="Cases reopened to escalate during the run (default 12).")
    p.add_argument("--latency-ms", type=float, default=50, help="WeChat API latency (default 50).")
    p.add_argument("--error-rate", type=float, default=0.01, help="Share of WeChat API calls failing (default 0.01).")
    p.add_argument("--settle", type=float, default=300,
                   help="Seconds to wait for the backlog afterwards (default 300).")
    p.add_argument("--pg-port", type=int, default=5433)
    p.add_argument("--redis-port", type=int, default=6380)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", help="Write the findings here as JSON.")
    p.add_argument("--keep", action="store_true", help="Keep the run's folder (logs, database files).")
    p.add_argument("--smoke", action="store_true", help="CI-sized run, about a minute.")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the soak; the exit code says whether anything was lost or doubled outside the window."""
    args = build_parser().parse_args(argv)
    if not stack.pg_available():
        print("soak: PostgreSQL server binaries or redis-server not found", file=sys.stderr)
        return 2
    plan = plan_of(args)
    folder = Path(tempfile.mkdtemp(prefix="sanzhida-soak-"))
    st = stack.Stack(folder, stack.Postgres(folder, args.pg_port), stack.Redis(folder, args.redis_port))
    try:
        return run(st, plan, args)
    except (RuntimeError, OSError) as exc:
        print(f"soak: setup failed: {exc}\nlogs in {folder}", file=sys.stderr)
        return 2
    finally:
        st.stop()
        if args.keep:
            print(f"run folder kept: {folder}")
        else:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)


def run(st: stack.Stack, plan: Plan, args) -> int:
    """Set up, load, disrupt, settle and check."""
    from sqlalchemy import create_engine

    from config.settings import Settings

    began = datetime.now(UTC)
    st.pg.start()
    st.redis.start()
    st.start_wechat(args.latency_ms, args.error_rate, args.seed)
    env = st.env(plan.leader_ttl)
    stack.seed(env)
    engine = create_engine(st.pg.url, pool_pre_ping=True)
    bound = stack.bind_staff(engine)
    stack.bind_family(engine, args.family)
    load_start = datetime.now(UTC) + timedelta(seconds=8)
    load_end = load_start + timedelta(seconds=plan.seconds)
    cases = stack.age_cases(engine, plan.cases, load_start + timedelta(seconds=15),
                            load_end - timedelta(seconds=75), args.seed) if plan.cases else []
    openids = stack.family_openids(engine)
    st.start_processes(env, args.web, args.inbox, args.dispatchers, args.schedulers)
    print(f"soak: {len(openids)} family members, {bound} staff bound, {len(cases)} cases to escalate; "
          f"{plan.seconds:.0f} s at {plan.rate}/s; logs in {st.folder}", flush=True)
    wechat_root = f"http://127.0.0.1:{st.wechat_port}"
    sender = Sender(f"http://127.0.0.1:{st.web_port}", wechat_root, openids, args.seed)
    disruptions: list[checks.Disruption] = []
    stop = threading.Event()
    time.sleep(max(0.0, (load_start - datetime.now(UTC)).total_seconds()))
    monkey = threading.Thread(target=chaos, args=(st, plan, time.monotonic(), stop, disruptions,
                                                  random.Random(args.seed)), daemon=True)
    monkey.start()
    load(sender, plan)
    stop.set()
    monkey.join()
    loaded = datetime.now(UTC)
    tz = Settings().tz
    deadline = time.monotonic() + plan.settle
    left = settled(engine, cases, load_end, tz, began)
    while left and time.monotonic() < deadline:
        st.revive()
        time.sleep(2)
        left = settled(engine, cases, load_end, tz, began)
    settle_s = (datetime.now(UTC) - loaded).total_seconds()
    calls = json.loads(urllib.request.urlopen(f"{wechat_root}/_calls", timeout=60).read())
    st.stop_processes()
    (st.folder / "calls.json").write_text(json.dumps(calls), encoding="utf-8")
    (st.folder / "disruptions.json").write_text(json.dumps([vars(d) for d in disruptions]), encoding="utf-8")
    findings = check(engine, sender, cases, load_end, tz, calls, disruptions, began)
    report = summary(plan, args, sender, disruptions, calls, findings, settle_s, left, began)
    print_table(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    engine.dispose()
    if not any(m.ok for m in sender.sent):
        print("soak: no message was accepted: the stack is not working (see the logs)", file=sys.stderr)
        return 1
    return 1 if findings.lost or findings.outside else 0


def check(engine, sender: Sender, cases, until, tz, calls, disruptions, began) -> checks.Findings:
    """Run every check of bench/soak_checks.py."""
    sent = [{"key": m.key, "ok": m.ok, "attempts": m.attempts, "last": m.last,
             "told": m.told} for m in sender.sent]
    db, outbox = checks.load_db(engine, [m.key for m in sender.sent], began)
    findings = checks.Findings()
    checks.check_messages(sent, db, findings)
    checks.check_pushes(outbox, calls, disruptions, findings)
    if cases:
        checks.check_escalations(checks.expected_rungs(engine, cases, until, tz),
                                 checks.escalation_events(engine, cases, began), outbox, findings)
    return findings


def summary(plan, args, sender, disruptions, calls, findings, settle_s, left, began) -> dict:
    """Everything worth keeping from the run."""
    kinds: dict[str, int] = {}
    for d in disruptions:
        kinds[d.role] = kinds.get(d.role, 0) + 1
    return {
        "date": began.isoformat(timespec="seconds"), "command": " ".join(sys.argv),
        "plan": {"seconds": plan.seconds, "rate": plan.rate, "kill_every": plan.kill_every, "web": args.web,
                 "inbox": args.inbox, "dispatchers": args.dispatchers, "schedulers": args.schedulers,
                 "latency_ms": args.latency_ms, "error_rate": args.error_rate},
        "disruptions": kinds, "settle_seconds": round(settle_s, 1), "still_waiting": left,
        "wechat_calls": checks.call_outcomes(calls),
        "rows": findings.rows, "notes": findings.notes, "lost": findings.lost, "outside_window": findings.outside,
        "messages": len(sender.sent), "achieved_rate": round(len(sender.sent) / plan.seconds, 1),
    }


def print_table(report: dict) -> None:
    """The findings as a Markdown table, with the disruptions and the stand-in's answers."""
    print(f"\nSoak {report['date']}: {report['messages']} messages ({report['achieved_rate']}/s); "
          f"disruptions {report['disruptions']}; settled in {report['settle_seconds']} s"
          + (f" (still waiting: {report['still_waiting']})" if report["still_waiting"] else ""))
    print("\n| check | count | verdict |\n|---|---:|---|")
    for name, value, verdict in report["rows"]:
        print(f"| {name} | {value} | {verdict} |")
    print("\nWeChat stand-in answers: " + ", ".join(f"{k}: {v}" for k, v in report["wechat_calls"].items()))
    for note in report["notes"]:
        print("note:", note)
    print(f"\nlost: {report['lost']}, duplicates outside the window: {report['outside_window']}")


if __name__ == "__main__":
    sys.exit(main())
