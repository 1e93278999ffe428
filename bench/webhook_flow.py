"""The rest of the way, for bench/webhook.py: one inbox worker's rate and the latency to WeChat.

After the wrk rounds, in the same run and on the same database copy, with a fresh app server, one
inbox worker (`sanzhida inbox run`) and one outbox dispatcher (`sanzhida outbox run`), both woken by
PostgreSQL's notifications:

(a) **Backlog.** With no worker running, `--backlog` help requests from distinct bound family
    members are posted to the webhook; then the worker starts (with the dispatcher beside it, as
    deployed) and drains them. Its rate is the messages handled per second between the first and
    the last `handled_at`, reported against the durable echo's requests/s (target ≥ 0.25×).
(b) **Steady load.** An open-loop sender posts `--flow-rate` messages a second for
    `--flow-seconds` (each at its own scheduled time on a pool of threads, whatever the answers
    take: not wrk's closed loop), each a help request from another family member. For each
    message: from the webhook's answer (accept) to the customer-service reply the WeChat stand-in
    received (its `/_calls` record the time of each call), and to the task push to the assistant
    (a template message, matched by its `client_msg_id`). Targets: reply p99 ≤ 1 s, push p99 ≤ 2 s.

The city demo's staff have not bound WeChat: the bench binds every active assistant in its own
database copy first (openid `o-benchwh-staff-<id>`). Pushes left pending by the wrk rounds (replies
the stand-in refused, for senders it never saw write) are set aside as dead letters, and every
sender of these phases is registered at the stand-in as having written, so that its replies go.
Outside working hours the processes of these phases share a development clock
(SANZHIDA_DEV_CLOCK_FILE) moved to 10:00 local time, so that task pushes are not held for the
night (quiet hours).
"""

from __future__ import annotations

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import requests

TARGET_WORKER_RATIO = 0.25
TARGET_REPLY_P99_S = 1.0
TARGET_PUSH_P99_S = 2.0
STAFF_OPENID = "o-benchwh-staff-"
# Seconds to wait for the last replies and pushes after the sender stops, and for a backlog drain.
SETTLE_SECONDS = 60.0
DRAIN_TIMEOUT = 900.0
SENDER_THREADS = 16


@dataclass
class FlowResult:
    """What the two phases measured."""

    backlog: int = 0
    handled: int = 0
    worker_rate: float | None = None
    worker_ratio: float | None = None
    rate: float = 0.0
    seconds: float = 0.0
    sent: int = 0
    accepted: int = 0
    send_lag_p99_ms: float | None = None
    replies: int = 0
    pushes: int = 0
    reply_s: dict = field(default_factory=dict)
    push_s: dict = field(default_factory=dict)
    wakeups: dict = field(default_factory=dict)


@dataclass
class Sent:
    """One message of the steady load: when it was due, went and was accepted."""

    openid: str
    msg_id: int
    due: float
    started: float = 0.0
    accepted: float | None = None
    status: int | None = None


def percentiles(values: list[float]) -> dict:
    """p50/p90/p99/max of `values` in seconds (empty when there are none)."""
    if not values:
        return {}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]

    return {"n": len(ordered), "p50": pick(0.50), "p90": pick(0.90), "p99": pick(0.99), "max": ordered[-1]}


def reply_latencies(sent: list[Sent], calls: list[dict]) -> list[float]:
    """Seconds from accept to the first customer-service message the stand-in delivered to each sender after it."""
    first: dict[str, list[float]] = {}
    for call in calls:
        if call["path"] == "message/custom/send" and call["outcome"] == "delivered":
            first.setdefault(call["body"]["touser"], []).append(call["at"])
    out = []
    for s in sent:
        times = [at for at in first.get(s.openid, []) if s.accepted is not None and at >= s.started]
        if times:
            out.append(max(0.0, min(times) - s.accepted))
    return out


def push_latencies(sent: list[Sent], push_ids: dict[int, str], calls: list[dict]) -> list[float]:
    """Seconds from accept to the template message the stand-in delivered for each message's push
    (`push_ids`: MsgId → the push's client_msg_id)."""
    delivered = {}
    for call in calls:
        if call["path"] == "message/template/send" and call["outcome"] == "delivered":
            delivered.setdefault(call["body"].get("client_msg_id"), call["at"])
    out = []
    for s in sent:
        at = delivered.get(push_ids.get(s.msg_id))
        if at is not None and s.accepted is not None:
            out.append(max(0.0, at - s.accepted))
    return out


def working_hours_offset(now: datetime, tz: ZoneInfo) -> float:
    """Seconds to move the clock so that it reads 10:00 local time, or 0 inside 08:00–17:00."""
    local = now.astimezone(tz)
    if 8 <= local.hour < 17:
        return 0.0
    target = local.replace(hour=10, minute=0, second=0, microsecond=0)
    if target <= local:
        target += timedelta(days=1)
    return (target - local).total_seconds()


def bind_assistants(engine, now: datetime) -> int:
    """Bind every active assistant without WeChat to a WeChat user of its own; how many were bound."""
    from sqlalchemy import text

    with engine.begin() as c:
        c.execute(text(
            "INSERT INTO wechat_users (openid, subscribed, subscribed_at, created_at) "
            "SELECT :prefix || s.id, true, :now, :now FROM staff s "
            "WHERE s.role = 'assistant' AND s.active AND s.wechat_user_id IS NULL "
            "ON CONFLICT (openid) DO NOTHING"), {"prefix": STAFF_OPENID, "now": now})
        return c.execute(text(
            "UPDATE staff s SET wechat_user_id = u.id FROM wechat_users u "
            "WHERE u.openid = :prefix || s.id AND s.wechat_user_id IS NULL"), {"prefix": STAFF_OPENID}).rowcount


def set_aside_pending(engine) -> int:
    """Dead-letter the pushes the wrk rounds left pending; how many."""
    from sqlalchemy import text

    with engine.begin() as c:
        return c.execute(text(
            "UPDATE outbox SET status = 'dead', claimed_until = NULL, "
            "last_error = 'bench: set aside before the flow phases' WHERE status IN ('pending', 'sending')")).rowcount


def register_writers(root_url: str, openids: list[str]) -> None:
    """Tell the stand-in each sender wrote (now, on its clock), which opens their reply window."""
    for start in range(0, len(openids), 2000):
        answer = requests.post(f"{root_url}/_interactions",
                               json=[{"openid": o, "msg_type": "text"} for o in openids[start:start + 2000]],
                               timeout=60)
        answer.raise_for_status()


class HelpMessages:
    """Signed help requests, one per sender, with MsgIds of their own."""

    def __init__(self, token: str, first_msg_id: int, texts: tuple[str, ...], account: str):
        from devtools.wechat_side import WeChatSide

        self.side = WeChatSide(token=token, app_id="", account=account)
        self.next_id, self.texts, self.turn = first_msg_id, texts, 0

    def make(self, openid: str, now: datetime) -> tuple[int, str, str]:
        """(MsgId, path with the signed query, XML body)."""
        from devtools.wechat_side import message_xml, text_inner

        msg_id, self.next_id = self.next_id, self.next_id + 1
        self.turn += 1
        xml = message_xml(openid, "text", int(now.timestamp()), text_inner(self.texts[self.turn % len(self.texts)]),
                          account=self.side.account, msg_id=msg_id)
        params, body = self.side.envelope(xml, now, mode="plain", nonce=f"flow{msg_id:x}")
        return msg_id, "/wechat?" + urlencode(params), body


def post_all(base: str, batch: list[tuple[int, str, str]], threads: int = 8) -> int:
    """Post every message (closed loop, to build a backlog); how many were answered 200."""
    local = threading.local()

    def one(item) -> bool:
        if not hasattr(local, "http"):
            local.http = requests.Session()
        _, path, body = item
        return local.http.post(base + path, data=body.encode(), headers={"Content-Type": "text/xml"},
                               timeout=30).status_code == 200

    with ThreadPoolExecutor(threads) as pool:
        return sum(pool.map(one, batch))


def open_loop(base: str, items: list[tuple[str, int, str, str]], rate: float) -> list[Sent]:
    """Post `items` (openid, MsgId, path, body) at `rate` a second, each at its scheduled time."""
    local = threading.local()
    start = time.time() + 0.2
    sent = [Sent(openid, msg_id, start + i / rate) for i, (openid, msg_id, _, _) in enumerate(items)]

    def one(index: int) -> None:
        if not hasattr(local, "http"):
            local.http = requests.Session()
        s, (_, _, path, body) = sent[index], items[index]
        s.started = time.time()
        try:
            response = local.http.post(base + path, data=body.encode(), headers={"Content-Type": "text/xml"},
                                       timeout=30)
            s.status, s.accepted = response.status_code, time.time()
        except requests.RequestException:
            s.status = None

    with ThreadPoolExecutor(SENDER_THREADS) as pool:
        for index, s in enumerate(sent):
            delay = s.due - time.time()
            if delay > 0:
                time.sleep(delay)
            pool.submit(one, index)
    return sent


def wait_handled(engine, lo: int, hi: int, count: int, timeout: float) -> int:
    """Wait until `count` messages with MsgId in [lo, hi] are handled; how many are."""
    from sqlalchemy import text

    deadline = time.monotonic() + timeout
    with engine.connect() as c:
        while True:
            done = c.execute(text("SELECT COUNT(*) FROM inbound_messages WHERE msg_id BETWEEN :lo AND :hi "
                                  "AND handled_at IS NOT NULL"), {"lo": lo, "hi": hi}).scalar_one()
            c.rollback()
            if done >= count or time.monotonic() > deadline:
                return done
            time.sleep(0.2)


def handled_rate(engine, lo: int, hi: int) -> float | None:
    """Messages handled per second between the first and the last `handled_at` of the MsgId range."""
    from sqlalchemy import text

    with engine.connect() as c:
        n, first, last = c.execute(text("SELECT COUNT(*), MIN(handled_at), MAX(handled_at) FROM inbound_messages "
                                        "WHERE msg_id BETWEEN :lo AND :hi AND handled_at IS NOT NULL"),
                                   {"lo": lo, "hi": hi}).one()
    if n < 2 or last <= first:
        return None
    return (n - 1) / (last - first).total_seconds()


def push_ids_of(engine, lo: int, hi: int) -> dict[int, str]:
    """MsgId → client_msg_id of the WeChat push to staff queued while that message was handled."""
    from sqlalchemy import text

    from services.policy.push import client_msg_id

    with engine.connect() as c:
        rows = c.execute(text(
            "SELECT i.msg_id, o.idempotency_key FROM inbound_messages i JOIN outbox o "
            "ON o.request_id = i.request_id AND o.created_at = i.handled_at "
            "WHERE i.msg_id BETWEEN :lo AND :hi AND o.recipient_staff_id IS NOT NULL "
            "AND o.recipient_openid IS NOT NULL ORDER BY o.id"), {"lo": lo, "hi": hi}).all()
    ids: dict[int, str] = {}
    for msg_id, key in rows:
        ids.setdefault(msg_id, client_msg_id(key))
    return ids


def wait_outbox_idle(engine, timeout: float) -> None:
    """Wait until no push is being sent or due (the dispatcher caught up with the backlog's)."""
    from sqlalchemy import text

    deadline = time.monotonic() + timeout
    with engine.connect() as c:
        while time.monotonic() < deadline:
            busy = c.execute(text("SELECT COUNT(*) FROM outbox WHERE status = 'sending' OR "
                                  "(status = 'pending' AND attempts = 0)")).scalar_one()
            c.rollback()
            if not busy:
                return
            time.sleep(0.2)


def wakeup_counts(logs: list[Path]) -> dict:
    """`woken_by_notify` and `reconnects` from the stopped processes' last lines."""
    counts = {}
    for log in logs:
        for line in log.read_text().splitlines():
            if "=stopped " in line and "woken_by_notify=" in line:
                name = line.split("=stopped", 1)[0].rsplit(" ", 1)[-1]
                counts[name] = int(line.split("woken_by_notify=")[1].split()[0])
    return counts


def summary(result: FlowResult) -> dict:
    """The result with its targets."""
    targets = {}
    if result.worker_ratio is not None:
        targets[f"inbox worker >= {TARGET_WORKER_RATIO}x durable echo"] = result.worker_ratio >= TARGET_WORKER_RATIO
    if result.reply_s:
        targets[f"reply p99 <= {TARGET_REPLY_P99_S:g} s"] = (result.reply_s["p99"] <= TARGET_REPLY_P99_S
                                                             and result.replies == result.accepted)
    if result.push_s:
        targets[f"task push p99 <= {TARGET_PUSH_P99_S:g} s"] = result.push_s["p99"] <= TARGET_PUSH_P99_S
    return {**asdict(result), "targets": targets}


def print_summary(flow: dict) -> None:
    """The two phases' lines of the report."""
    rate = flow["worker_rate"]
    ratio = f" = {flow['worker_ratio']:.2f}x durable echo" if flow["worker_ratio"] is not None else ""
    print(f"inbox worker draining {flow['backlog']} messages: {rate or 0:.1f} handled/s{ratio}")
    print(f"steady load {flow['rate']:g}/s for {flow['seconds']:g} s: {flow['accepted']}/{flow['sent']} accepted, "
          f"send lag p99 {flow['send_lag_p99_ms'] or 0:.0f} ms; woken by notifications: {flow['wakeups']}")
    for name, key, count in (("accept -> reply   ", "reply_s", "replies"), ("accept -> task push", "push_s", "pushes")):
        p = flow[key]
        if p:
            print(f"  {name} n={flow[count]}  p50 {p['p50'] * 1000:.0f}  p90 {p['p90'] * 1000:.0f}  "
                  f"p99 {p['p99'] * 1000:.0f}  max {p['max'] * 1000:.0f} ms")


def send_lag_p99_ms(sent: list[Sent]) -> float | None:
    """How late the open-loop sender started its posts (p99, ms): it should stay near zero."""
    lags = [max(0.0, s.started - s.due) * 1000 for s in sent if s.started]
    return statistics.quantiles(lags, n=100)[98] if len(lags) >= 2 else None


def now_utc() -> datetime:
    """The wall clock, aware."""
    return datetime.now(UTC)


def start_process(name: str, args: list[str], env: dict, logdir: Path, niceness: int, *, ready: bool):
    """`python -m cli ARGS` at `nice -n niceness` (a bench.webhook.Server); with `ready`, once it is idle."""
    import subprocess
    import sys

    from bench.webhook import ROOT, Server

    log = logdir / f"{name}.log"
    proc = subprocess.Popen(["nice", "-n", str(niceness), sys.executable, "-m", "cli", *args], cwd=ROOT, env=env,
                            stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(name, proc, 0, log)
    deadline = time.monotonic() + 60
    while ready and "ready listening=" not in log.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"{name} did not start; see {log}:\n{log.read_text()[-2000:]}")
        time.sleep(0.1)
    return server


def run_flow(*, engine, env: dict, workdir: Path, workers: int, niceness: int, fake_root: str, exclude: set[str],
             backlog: int, rate: float, seconds: float, durable_rps: float | None, seed: int | None, token: str,
             account: str, texts: tuple[str, ...], servers: dict) -> FlowResult:
    """Both phases; the processes started go into `servers` (the caller stops them)."""
    from bench.webhook import first_msg_id, load_bound_openids, start_gunicorn
    from config.settings import Settings

    result = FlowResult(backlog=backlog, rate=rate, seconds=seconds)
    steady = int(rate * seconds)
    bound = bind_assistants(engine, now_utc())
    aside = set_aside_pending(engine)
    senders = [o for o in load_bound_openids(engine, 10**7, seed) if o not in exclude]
    if len(senders) < backlog + steady:
        raise RuntimeError(f"{len(senders)} bound family members the rounds did not use: fewer than "
                           f"--backlog + --flow-rate x --flow-seconds ({backlog + steady})")
    register_writers(fake_root, senders[:backlog + steady])
    offset = working_hours_offset(now_utc(), Settings().tz)
    clock_file = workdir / "clock-offset"
    clock_file.write_text(f"{offset:.0f}", encoding="ascii")
    flow_env = {**env, "SANZHIDA_DEV_CLOCK_FILE": str(clock_file)}
    # The worker and the dispatcher log at INFO, as deployed: their last lines count the wake-ups.
    worker_env = {**flow_env, "LOG_LEVEL": "INFO"}
    print(f"flow: {bound} assistants bound, {aside} pending pushes set aside, clock moved {offset / 3600:.1f} h",
          flush=True)
    app = servers["flow-app"] = start_gunicorn("flow-app", "bot.app:create_app()", flow_env, workers, workdir)

    def shifted() -> datetime:
        return now_utc() + timedelta(seconds=offset)

    # (a) The backlog, stored with no worker running, then drained by one worker.
    messages = HelpMessages(token, first_msg_id(), texts, account)
    batch = [messages.make(o, shifted()) for o in senders[:backlog]]
    stored = post_all(app.base, batch)
    lo, hi = batch[0][0], batch[-1][0]
    servers["flow-outbox"] = start_process("flow-outbox", ["outbox", "run"], worker_env, workdir, niceness, ready=True)
    servers["flow-inbox"] = start_process("flow-inbox", ["inbox", "run"], worker_env, workdir, niceness, ready=False)
    result.handled = wait_handled(engine, lo, hi, stored, DRAIN_TIMEOUT)
    result.worker_rate = handled_rate(engine, lo, hi)
    if result.worker_rate and durable_rps:
        result.worker_ratio = result.worker_rate / durable_rps
    wait_outbox_idle(engine, DRAIN_TIMEOUT)
    requests.delete(f"{fake_root}/_calls", timeout=30)

    # (b) The steady open-loop load, with the worker and the dispatcher idle at its start.
    items = [(o, *messages.make(o, shifted())) for o in senders[backlog:backlog + steady]]
    sent = open_loop(app.base, items, rate)
    result.sent = len(sent)
    result.accepted = sum(1 for s in sent if s.status == 200)
    result.send_lag_p99_ms = send_lag_p99_ms(sent)
    lo, hi = items[0][1], items[-1][1]
    wait_handled(engine, lo, hi, result.accepted, SETTLE_SECONDS)
    wait_outbox_idle(engine, SETTLE_SECONDS)
    time.sleep(1.0)
    calls = requests.get(f"{fake_root}/_calls", timeout=60).json()
    replies = reply_latencies(sent, calls)
    pushes = push_latencies(sent, push_ids_of(engine, lo, hi), calls)
    result.replies, result.pushes = len(replies), len(pushes)
    result.reply_s, result.push_s = percentiles(replies), percentiles(pushes)
    for name in ("flow-inbox", "flow-outbox"):
        servers[name].stop()
    result.wakeups = wakeup_counts([servers["flow-inbox"].log, servers["flow-outbox"].log])
    return result
