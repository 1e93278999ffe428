"""Outbox dispatch throughput against the local WeChat stand-in: pushes per second.

    .venv/bin/python bench/outbox.py [--rows 5000] [--processes 1 --processes 2] [--runs 3]
    .venv/bin/python bench/outbox.py --smoke      # 100 rows, one run, seconds
    .venv/bin/python bench/outbox.py --latency 0.03   # every stand-in answer 30 ms late, like a WAN

A throwaway database is created next to --admin-url, migrated with `models.migrate.upgrade`, and
dropped afterwards. The stand-in runs as a subprocess (`python -m cli fake-wechat --port P`) so
its request handling does not share this process's GIL. For each run, N pending pushes are
inserted to N distinct openids: half to WeChat users who wrote within the last hour (the
dispatcher sends a customer-service message), half to users who never wrote (a template message).
Then `runtime.dispatch.drain_outbox` drains them exactly as the outbox job does (batches of 50
until a batch comes back short, each sent on the job's pool of sender threads), in one process,
or in several processes at once to show the claims' SKIP LOCKED sharing the work. Reported: pushes/s (rows sent / wall time), and the check
that every row was sent once and the stand-in recorded one delivery per row.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import delete, func, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from models import OutboxMessage, WeChatUser  # noqa: E402
from models.db import make_engine, make_session_factory, normalize_url  # noqa: E402
from models.enums import OutboxKind, OutboxStatus  # noqa: E402
from runtime import dispatch  # noqa: E402
from runtime.redis_client import make_redis  # noqa: E402
from services.kv import Keys  # noqa: E402
from services.policy.push import template_data  # noqa: E402

DEFAULT_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
TARGET_PER_SECOND = 300
NOW = datetime(2026, 11, 30, 0, 0, tzinfo=timezone.utc)  # Monday 08:00 Shanghai
# The app the bench's client speaks for, and that its stand-in gives tokens to.
BENCH_APP_ID, BENCH_APP_SECRET = "wx-bench", "bench-secret"


def insert_pending(session_factory: sessionmaker[Session], rows: int, now: datetime = NOW,
                   *, tag: str | None = None) -> str:
    """N pending pushes to N new WeChat users, every other one inside the customer-service window.

    Returns the tag in every openid and key, so a run's rows can be counted and removed.
    """
    tag = tag or uuid.uuid4().hex[:8]
    users, pushes = [], []
    for i in range(rows):
        openid = f"bench-{tag}-{i}"
        users.append({"openid": openid, "subscribed": True, "subscribed_at": now - timedelta(days=30),
                      "created_at": now - timedelta(days=30),
                      # Even rows wrote an hour ago: customer-service path; odd rows: template.
                      "last_message_at": now - timedelta(hours=1) if i % 2 == 0 else None})
        pushes.append({
            "idempotency_key": f"bench:{tag}:{i}",
            "recipient_openid": openid,
            "kind": OutboxKind.CUSTOM.value,
            "payload": {"text": f"基准测试消息 {i}",
                        "template": {"template_id": "bench-task", "data": template_data(
                            {"character_string1": i, "thing2": "基准测试", "thing3": "走访提醒",
                             "phrase4": "提醒", "time5": "2026-11-30 08:00"})}},
            "status": OutboxStatus.PENDING.value,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        })
    with session_factory() as session:
        for start in range(0, rows, 2000):
            session.execute(WeChatUser.__table__.insert(), users[start:start + 2000])
            session.execute(OutboxMessage.__table__.insert(), pushes[start:start + 2000])
        session.commit()
    return tag


def tell_standin_who_wrote(base_url: str, tag: str, rows: int) -> None:
    """Register at the stand-in the users `insert_pending` says wrote an hour ago, as WeChat would know them."""
    root = base_url.split("/cgi-bin/")[0]
    with urllib.request.urlopen(f"{root}/_clock", timeout=30) as answer:
        now = json.loads(answer.read())["now"]
    wrote = [{"openid": f"bench-{tag}-{i}", "at": now - 3600} for i in range(0, rows, 2)]
    request = urllib.request.Request(f"{root}/_interactions", data=json.dumps(wrote).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=60).read()


def drain(session_factory: sessionmaker[Session], client, now: datetime = NOW) -> dispatch.DispatchReport:
    """Dispatch until the queue is empty, exactly as the outbox job does; what was done in total."""
    return dispatch.drain_outbox(session_factory, client, lambda: now)


def outcome(session_factory: sessionmaker[Session], tag: str) -> dict[str, int]:
    """The run's rows by status and kind."""
    with session_factory() as session:
        rows = session.execute(
            select(OutboxMessage.status, OutboxMessage.kind, func.count())
            .where(OutboxMessage.idempotency_key.like(f"bench:{tag}:%"))
            .group_by(OutboxMessage.status, OutboxMessage.kind)
        ).all()
    return {f"{status}/{kind}": n for status, kind, n in rows}


def cleanup(session_factory: sessionmaker[Session], tag: str) -> None:
    """Remove a run's pushes and users."""
    with session_factory() as session:
        session.execute(delete(OutboxMessage).where(OutboxMessage.idempotency_key.like(f"bench:{tag}:%")))
        session.execute(delete(WeChatUser).where(WeChatUser.openid.like(f"bench-{tag}-%")))
        session.commit()


def make_client(base_url: str, redis_url: str | None, prefix: str,
                app: tuple[str, str] = (BENCH_APP_ID, BENCH_APP_SECRET)):
    """The app's WeChat client (token in Redis) pointed at the stand-in, as the app (id, secret)."""
    from runtime.wechat import SanzhidaWeChatClient

    redis = make_redis(redis_url, allow_embedded=True)
    return SanzhidaWeChatClient(*app, base_url=base_url, redis=redis, keys=Keys(prefix), timeout=5.0)


@dataclass
class DispatchTiming:
    """One timed drain."""

    processes: int
    rows: int
    seconds: float
    sent: int
    statuses: dict[str, int]

    @property
    def per_second(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


def _worker(db_url: str, base_url: str, redis_url: str | None, prefix: str, app: tuple[str, str], go,
            result) -> None:
    engine = make_engine(db_url)
    client = make_client(base_url, redis_url, prefix, app)
    client.access_token  # fetch/share the token before the clock starts  # noqa: B018
    go.wait()
    report = drain(make_session_factory(engine), client)
    result.put((report.sent, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
    engine.dispose()


def time_dispatch(db_url: str, base_url: str, rows: int, *, processes: int = 1, redis_url: str | None = None,
                  prefix: str | None = None, client=None,
                  app: tuple[str, str] = (BENCH_APP_ID, BENCH_APP_SECRET)) -> DispatchTiming:
    """Insert `rows` pushes and time their draining by `processes` dispatchers (1: in this process)."""
    prefix = prefix or f"bench-{uuid.uuid4().hex[:6]}"
    engine = make_engine(db_url)
    factory = make_session_factory(engine)
    tag = insert_pending(factory, rows)
    tell_standin_who_wrote(base_url, tag, rows)
    try:
        if processes == 1:
            client = client or make_client(base_url, redis_url, prefix, app)
            client.access_token  # noqa: B018
            started = time.perf_counter()
            sent = drain(factory, client).sent
            seconds = time.perf_counter() - started
        else:
            ctx = multiprocessing.get_context("spawn")
            go, result = ctx.Event(), ctx.Queue()
            workers = [ctx.Process(target=_worker, args=(db_url, base_url, redis_url, prefix, app, go, result))
                       for _ in range(processes)]
            for w in workers:
                w.start()
            time.sleep(3)  # let them import and fetch the token
            started = time.perf_counter()
            go.set()
            outcomes = [result.get(timeout=600) for _ in workers]
            seconds = time.perf_counter() - started
            for w in workers:
                w.join()
            sent = sum(n for n, _ in outcomes)
        statuses = outcome(factory, tag)
    finally:
        cleanup(factory, tag)
        engine.dispose()
    return DispatchTiming(processes, rows, seconds, sent, statuses)


class StandIn:
    """The WeChat stand-in as a subprocess on a free port."""

    def __init__(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cli", "fake-wechat", "--port", str(self.port)],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, "WECHAT_APP_ID": BENCH_APP_ID, "WECHAT_APP_SECRET": BENCH_APP_SECRET},
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/_calls", timeout=1).read()
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("the WeChat stand-in did not start")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/cgi-bin/"

    def calls(self) -> list[dict]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/_calls", timeout=30) as answer:
            return json.loads(answer.read())

    def clear(self) -> None:
        urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{self.port}/_calls", method="DELETE"))

    def delay_every_answer(self, seconds: float) -> None:
        """Answer every call `seconds` late (a delay-only fault on every path), as across a WAN."""
        fault = json.dumps({"path": "*", "delay": seconds, "times": 10**9}).encode()
        urllib.request.urlopen(urllib.request.Request(
            f"http://127.0.0.1:{self.port}/_faults", data=fault, method="POST",
            headers={"Content-Type": "application/json"}))

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def deliveries(calls: list[dict]) -> dict[str, int]:
    """The stand-in's recorded calls by path and outcome."""
    counts: dict[str, int] = {}
    for call in calls:
        key = f"{call['path']} {call['outcome']}"
        counts[key] = counts.get(key, 0) + 1
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--admin-url", "--database-url", dest="admin_url", default=DEFAULT_ADMIN,
                        help="Server on which a throwaway database is created. Default: %(default)s")
    parser.add_argument("--rows", type=int, default=5000, help="Pushes per run. Default: %(default)s")
    parser.add_argument("--runs", type=int, default=3, help="Runs per process count; medians reported.")
    parser.add_argument("--processes", type=int, action="append",
                        help="Dispatcher processes (repeatable; default 1 and 2).")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
                        help="Where the access token is kept (empty: in-process stand-in). Default: %(default)s")
    parser.add_argument("--profile", type=Path, help="Write a pyinstrument profile of one 1-process run here "
                        "(the dispatching thread only; `py-spy record` sees the sender threads too).")
    parser.add_argument("--json", type=Path, help="Also write the figures as JSON here.")
    parser.add_argument("--latency", type=float, default=0.0,
                        help="Seconds the stand-in waits before every answer (default 0: local speed).")
    parser.add_argument("--smoke", action="store_true", help="100 rows, one run, 1 process: seconds.")
    args = parser.parse_args(argv)
    if args.smoke:
        args.rows, args.runs, args.processes = 100, 1, [1]
    process_counts = args.processes or [1, 2]

    from bench.databases import admin_execute, drop_database
    from models.migrate import upgrade

    name = f"sz_bench_outbox_{os.getpid()}"
    admin_execute(args.admin_url, f'CREATE DATABASE "{name}"')
    url = make_url(normalize_url(args.admin_url)).set(database=name).render_as_string(hide_password=False)
    standin = None
    figures = []
    try:
        upgrade(url)
        standin = StandIn()
        if args.latency:
            standin.delay_every_answer(args.latency)
        redis_url = args.redis_url or None
        if args.profile:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.001)
            profiler.start()
            time_dispatch(url, standin.base_url, min(args.rows, 2000), redis_url=redis_url)
            profiler.stop()
            args.profile.mkdir(parents=True, exist_ok=True)
            (args.profile / "outbox.txt").write_text(profiler.output_text(unicode=True, color=False))
            (args.profile / "outbox.html").write_text(profiler.output_html())
            standin.clear()
        print(f"machine: nproc={os.cpu_count()} date={datetime.now().isoformat(timespec='seconds')} "
              f"rows={args.rows} runs={args.runs} latency={args.latency}s")
        print(f"{'processes':>9} {'median/s':>9}  runs (pushes/s)            check")
        for processes in process_counts:
            timings = []
            for _ in range(args.runs):
                standin.clear()
                timing = time_dispatch(url, standin.base_url, args.rows, processes=processes, redis_url=redis_url)
                delivered = deliveries(standin.calls())
                sends = sum(n for k, n in delivered.items() if k.startswith("message/") and k.endswith("delivered"))
                ok = timing.sent == args.rows == sends and timing.statuses.get("sent/custom", 0) == (args.rows + 1) // 2
                timings.append((timing, delivered, ok))
            median = statistics.median(t.per_second for t, _, _ in timings)
            runs = ", ".join(f"{t.per_second:.0f}" for t, _, _ in timings)
            checks = "ok" if all(ok for _, _, ok in timings) else f"MISMATCH {timings[-1][0].statuses} {timings[-1][1]}"
            print(f"{processes:>9} {median:9.0f}  {runs:<26} {checks}  (target >= {TARGET_PER_SECOND}/s; "
                  f"last: {timings[-1][0].statuses})")
            figures.append({"processes": processes, "median_per_s": round(median, 1),
                            "runs_per_s": [round(t.per_second, 1) for t, _, _ in timings],
                            "rows": args.rows, "checks_ok": all(ok for _, _, ok in timings),
                            "delivered": timings[-1][1]})
        print(f"peak RSS of the 1-process dispatcher: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
        if args.json:
            args.json.write_text(json.dumps(figures, ensure_ascii=False, indent=2))
    finally:
        if standin:
            standin.stop()
        drop_database(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
