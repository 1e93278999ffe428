"""Time the scheduler's jobs at city scale: escalation scan, 08:00 reminders, town digests, weekly summary,
the 10:00 check-in scan.

    .venv/bin/python bench/scheduler.py [--database-url postgresql://postgres@127.0.0.1/sz_city] [--runs 3]
    .venv/bin/python bench/scheduler.py --smoke          # tiny throwaway database, one run each, seconds

The source database is never written: the script makes a copy (`CREATE DATABASE sz_bench TEMPLATE
<source>`, retried while someone is connected to the source), prepares it (every staff member bound
to a WeChat user `bench-staff-{id}` so pushes are queued; `--due-cases` open cases with their next
escalation in the past, reopening old resolved cases when there are not enough open ones), and
drops it at the end (unless --keep). Between repeat runs everything a run wrote at the bench's
instants (outbox rows, request events, visit alerts, silences, job runs) is deleted and the cases'
escalation state restored, so every run starts from the same data. When the seed has fewer than
20,000 people on a daily 报平安 plan, the copy gets 22,000 (特困 and 留守老人 first, then others:
bench/checkins.py), and the report says how many it set.

The clock is fixed at the first Monday 08:00 (Asia/Shanghai) after the newest row of the seed:
escalation and reminders at 08:00, town digests at 08:30, the weekly summary at 09:00, the check-in
scan (family reminders for everyone on a daily plan not heard from since midnight) at 10:00.
Each job runs as the scheduler runs it: its service call in one session, committed.
During one run of each job every SQL statement is captured (before/after_cursor_execute); the
slowest few are then EXPLAIN (ANALYZE, BUFFERS)-ed on the restored data. Peak RSS is read with
resource.getrusage after each job. `--profile DIR` writes a pyinstrument profile of one run of
each job (pip install pyinstrument).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/scheduler.py` from anywhere
    sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, delete, event, func, select, text, update  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from bench import checkins as checkin_bench  # noqa: E402
from bench.databases import admin_execute, copy_database, drop_database  # noqa: E402
from models import (  # noqa: E402
    JobRun,
    OutboxMessage,
    RequestEvent,
    ServiceRequest,
    Silence,
    Staff,
    Visit,
    VisitAlert,
    WeChatUser,
)
from models.db import make_engine, make_session_factory, normalize_url  # noqa: E402
from models.enums import OPEN_STATUSES, RequestStatus, Urgency  # noqa: E402
from scheduler import jobs  # noqa: E402
from services import reminders  # noqa: E402
from services.notify import Templates  # noqa: E402
from services.requests import RequestEnv  # noqa: E402

DEFAULT_SOURCE = "postgresql://postgres@127.0.0.1:5432/sz_city"
DEFAULT_TZ = "Asia/Shanghai"
OPEN = tuple(s.value for s in OPEN_STATUSES)
TARGETS = {"escalation_scan": 1.0, "morning_visits": 30.0, "city_summaries": 10.0, "checkin_reminders": 5.0}


# --------------------------------------------------------------------------- the bench's world


def bench_env(tz: str = DEFAULT_TZ) -> RequestEnv:
    """Request settings as the scheduler gets them (template ids do not matter to the timing)."""
    return RequestEnv(tz=ZoneInfo(tz), templates=Templates(task="bench-task", progress="bench-progress"))


def seed_now(session: Session) -> datetime:
    """The newest instant the seed wrote (cases, visits, staff), in UTC."""
    candidates = [
        session.scalar(select(func.max(ServiceRequest.created_at))),
        session.scalar(select(func.max(ServiceRequest.updated_at))),
        session.scalar(select(func.max(Visit.visited_at))),
        session.scalar(select(func.max(Staff.created_at))),
    ]
    found = [c for c in candidates if c is not None]
    return max(found) if found else datetime(2026, 11, 30, tzinfo=timezone.utc)


def next_monday_8(after: datetime, tz: ZoneInfo) -> datetime:
    """The first Monday 08:00 local strictly after `after`."""
    local = after.astimezone(tz)
    day = local.date() + timedelta(days=1)
    while day.weekday() != 0:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, 8, 0, tzinfo=tz).astimezone(timezone.utc)


@dataclass
class Prepared:
    """What `prepare` did, and what `reset` needs to undo a run."""

    base: datetime  # every bench instant is at or after this; the seed is before it
    now: datetime  # Monday 08:00 local, in UTC
    staff_bound: int
    cases_due: int
    cases_reopened: int
    snapshot: list[dict] = field(default_factory=list)
    daily_plans: int = 0  # people on a daily 报平安 plan
    daily_plans_set: int = 0  # of which the bench put on one


def prepare(session_factory: sessionmaker[Session], env: RequestEnv, *, due_cases: int,
            now: datetime | None = None, scenario: str = "steady") -> Prepared:
    """Bind every staff member to a WeChat user, make `due_cases` open cases due, snapshot their state."""
    with session_factory() as session:
        now = now or next_monday_8(seed_now(session), env.tz)
        base = now - timedelta(hours=8)
        unbound = session.execute(select(Staff.id, Staff.created_at).where(Staff.wechat_user_id.is_(None))).all()
        if unbound:
            session.execute(
                WeChatUser.__table__.insert(),
                [{"openid": f"bench-staff-{sid}", "subscribed": True, "subscribed_at": created,
                  "created_at": created} for sid, created in unbound],
            )
            ids = dict(session.execute(
                select(WeChatUser.openid, WeChatUser.id).where(WeChatUser.openid.like("bench-staff-%"))
            ).all())
            session.execute(
                update(Staff),
                [{"id": sid, "wechat_user_id": ids[f"bench-staff-{sid}"]} for sid, _ in unbound],
            )
        # Open cases first, then old resolved/closed cases reopened (outside the summary's week).
        open_ids = list(session.scalars(
            select(ServiceRequest.id).where(ServiceRequest.status.in_(OPEN)).order_by(ServiceRequest.id)
        ))
        reopened: list[int] = []
        if len(open_ids) < due_cases:
            reopened = list(session.scalars(
                select(ServiceRequest.id)
                .where(ServiceRequest.status.in_((RequestStatus.RESOLVED.value, RequestStatus.CLOSED.value)),
                       ServiceRequest.urgency == Urgency.NORMAL.value,
                       ServiceRequest.created_at < now - timedelta(days=9))
                .order_by(ServiceRequest.id).limit(due_cases - len(open_ids))
            ))
            if reopened and scenario == "backlog":
                # Old cases never accepted: each climbs every rung at once, city supervisors included.
                session.execute(
                    update(ServiceRequest).where(ServiceRequest.id.in_(reopened)).values(
                        status=RequestStatus.OPEN.value, escalation_level=0, acknowledged_at=None,
                        resolved_at=None, closed_at=None,
                    )
                )
            elif reopened:
                # Steady state: accepted cases 50 h old, at rung 1, due for exactly one rung
                # (rung 2, "not resolved in 48 h", to the town officers).
                rows = []
                for i, rid in enumerate(reopened):
                    created = now - timedelta(hours=50, minutes=i % 600)
                    rows.append({"id": rid, "status": RequestStatus.ACKNOWLEDGED.value, "escalation_level": 1,
                                 "created_at": created, "acknowledged_at": created + timedelta(hours=1),
                                 "resolved_at": None, "closed_at": None, "rating": None})
                session.execute(update(ServiceRequest), rows)
        due = (open_ids + reopened)[:due_cases]
        if due:
            session.execute(
                update(ServiceRequest),
                [{"id": rid, "next_escalation_at": now - timedelta(minutes=1 + i % 600)} for i, rid in enumerate(due)],
            )
        daily, daily_set = checkin_bench.ensure_daily_plans(session)
        session.commit()
        snapshot = [dict(row._mapping) for row in session.execute(
            select(ServiceRequest.id, ServiceRequest.escalation_level, ServiceRequest.next_escalation_at,
                   ServiceRequest.updated_at).where(ServiceRequest.status.in_(OPEN))
        )]
    if session_factory.kw["bind"].dialect.name == "postgresql":
        with session_factory.kw["bind"].connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    return Prepared(base=base, now=now, staff_bound=len(unbound), cases_due=len(due),
                    cases_reopened=len(reopened), snapshot=snapshot, daily_plans=daily, daily_plans_set=daily_set)


def reset(session_factory: sessionmaker[Session], prepared: Prepared) -> dict[str, int]:
    """Undo what runs wrote: rows at the bench's instants deleted, cases' escalation state restored."""
    with session_factory() as session:
        counts = {
            "outbox": session.execute(delete(OutboxMessage).where(OutboxMessage.created_at >= prepared.base)).rowcount,
            "request_events": session.execute(
                delete(RequestEvent).where(RequestEvent.created_at >= prepared.base)).rowcount,
            "visit_alerts": session.execute(
                delete(VisitAlert).where(VisitAlert.alerted_at >= prepared.base)).rowcount,
            "job_runs": session.execute(delete(JobRun).where(JobRun.started_at >= prepared.base)).rowcount,
            "silences": session.execute(delete(Silence).where(Silence.created_at >= prepared.base)).rowcount,
        }
        if prepared.snapshot:
            session.execute(update(ServiceRequest), prepared.snapshot)
        session.commit()
    return counts


def count_writes(session_factory: sessionmaker[Session], prepared: Prepared) -> dict[str, int]:
    """Rows written at the bench's instants so far."""
    with session_factory() as session:
        return {
            "outbox": session.scalar(select(func.count()).select_from(OutboxMessage)
                                     .where(OutboxMessage.created_at >= prepared.base)),
            "request_events": session.scalar(select(func.count()).select_from(RequestEvent)
                                             .where(RequestEvent.created_at >= prepared.base)),
            "visit_alerts": session.scalar(select(func.count()).select_from(VisitAlert)
                                           .where(VisitAlert.alerted_at >= prepared.base)),
            "silences": session.scalar(select(func.count()).select_from(Silence)
                                       .where(Silence.created_at >= prepared.base)),
        }


# --------------------------------------------------------------------------- the jobs


def job_table(prepared: Prepared) -> list[tuple[str, datetime, Callable]]:
    """(name, instant, work(ctx, now) -> int) for each timed job, in the order of a Monday morning."""
    now = prepared.now
    return [
        ("escalation_scan", now, jobs.escalation_job),
        ("escalation_drain", now, drain_escalations),
        ("morning_visits", now, jobs.visit_reminders_job),
        ("town_digests", now + timedelta(minutes=30), _calendar(reminders.town_digests)),
        ("city_summaries", now + timedelta(hours=1), _calendar(reminders.city_summaries)),
        ("checkin_reminders", now + timedelta(hours=2), jobs.checkin_reminders_job),
    ]


def _calendar(work):
    def run(ctx: jobs.JobContext, now: datetime) -> int:
        return jobs.run_in_session(ctx, lambda s: work(s, ctx.env, now))
    run.__name__ = work.__name__
    return run


def drain_escalations(ctx: jobs.JobContext, now: datetime, limit: int = 1000) -> int:
    """Run the minute's scan until no case is due (each scan takes at most 500 cases); total steps."""
    steps = 0
    for _ in range(limit):
        steps += jobs.escalation_job(ctx, now)
        with ctx.session_factory() as session:
            left = session.scalar(select(func.count()).select_from(ServiceRequest).where(
                ServiceRequest.status.in_(OPEN), ServiceRequest.next_escalation_at <= now))
        if not left:
            break
    return steps


@dataclass
class Statement:
    """One distinct SQL text seen during a captured run."""

    sql: str
    calls: int = 0
    seconds: float = 0.0
    slowest: float = 0.0
    params: object = None
    executemany: bool = False


class SqlCapture:
    """Every statement an engine runs while active, with its count and time."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.statements: dict[str, Statement] = {}

    def __enter__(self) -> "SqlCapture":
        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        elapsed = time.perf_counter() - conn.info["bench_started"].pop()
        entry = self.statements.setdefault(statement, Statement(statement))
        entry.calls += 1
        entry.seconds += elapsed
        entry.executemany = entry.executemany or executemany
        if elapsed >= entry.slowest:
            entry.slowest, entry.params = elapsed, parameters

    def top(self, n: int) -> list[Statement]:
        """The `n` statements with the most total time."""
        return sorted(self.statements.values(), key=lambda s: s.seconds, reverse=True)[:n]

    @property
    def total_calls(self) -> int:
        return sum(s.calls for s in self.statements.values())


def explain(engine: Engine, statement: Statement) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of a captured statement with its slowest parameters, rolled back."""
    if engine.dialect.name != "postgresql":
        return "(EXPLAIN only on PostgreSQL)"
    if statement.executemany or not isinstance(statement.params, (dict, tuple, list)):
        return "(executemany: not explained)"
    with engine.connect() as conn:
        try:
            rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement.sql, statement.params).all()
            return "\n".join(r[0] for r in rows)
        except Exception as exc:  # noqa: BLE001 - report and go on
            return f"(EXPLAIN failed: {type(exc).__name__}: {str(exc).splitlines()[0]})"
        finally:
            conn.rollback()


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (ru_maxrss is KB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class JobResult:
    """The timings and side facts of one job."""

    name: str
    at: datetime
    seconds: list[float]
    result: int  # what the job returned in its last run (pushes queued or escalation steps)
    writes: dict[str, int]
    rss_mb: float
    statements: int = 0
    top: list[tuple[Statement, str]] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def as_dict(self) -> dict:
        return {
            "job": self.name, "at": self.at.isoformat(), "median_s": round(self.median, 3),
            "runs_s": [round(s, 3) for s in self.seconds], "result": self.result, "writes": self.writes,
            "peak_rss_mb": round(self.rss_mb, 1), "sql_statements": self.statements,
            "target_s": TARGETS.get(self.name),
        }


def time_job(ctx: jobs.JobContext, prepared: Prepared, name: str, at: datetime, work: Callable, *,
             runs: int = 3, explain_top: int = 0, profile_dir: Path | None = None) -> JobResult:
    """Run one job `runs` times from the prepared state (reset before each); capture SQL in the first."""
    engine = ctx.session_factory.kw["bind"]
    seconds: list[float] = []
    capture = SqlCapture(engine)
    result, writes = 0, {}
    for i in range(runs):
        reset(ctx.session_factory, prepared)
        with (capture if i == 0 else _nothing()), (_profiled(profile_dir, name) if i == 0 and profile_dir else _nothing()):
            started = time.perf_counter()
            result = work(ctx, at)
            seconds.append(time.perf_counter() - started)
        writes = count_writes(ctx.session_factory, prepared)
    reset(ctx.session_factory, prepared)
    top = [(s, explain(engine, s)) for s in capture.top(explain_top)] if explain_top else []
    return JobResult(name, at, seconds, result, writes, peak_rss_mb(), capture.total_calls, top)


@contextmanager
def _nothing():
    yield


@contextmanager
def _profiled(directory: Path, name: str):
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.002)
    profiler.start()
    try:
        yield
    finally:
        profiler.stop()
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"{name}.txt").write_text(profiler.output_text(unicode=True, color=False, show_all=False))
        (directory / f"{name}.html").write_text(profiler.output_html())


def run_all(session_factory: sessionmaker[Session], env: RequestEnv, *, due_cases: int, runs: int,
            explain_top: int, only: list[str] | None = None, profile_dir: Path | None = None,
            now: datetime | None = None, scenario: str = "steady") -> tuple[Prepared, list[JobResult]]:
    """Prepare the copy and time every job: the whole benchmark, callable from tests."""
    prepared = prepare(session_factory, env, due_cases=due_cases, now=now, scenario=scenario)
    ctx = jobs.JobContext(session_factory=session_factory, wechat=None, env=env)
    results = []
    for name, at, work in job_table(prepared):
        if only and name not in only:
            continue
        results.append(time_job(ctx, prepared, name, at, work, runs=runs, explain_top=explain_top,
                                profile_dir=profile_dir))
    return prepared, results


# --------------------------------------------------------------------------- reporting


def _short_sql(sql: str, width: int = 160) -> str:
    flat = re.sub(r"\s+", " ", sql).strip()
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def report(prepared: Prepared, results: list[JobResult], out=sys.stdout) -> None:
    """Print the figures, then the plans of the slowest statements."""
    print(f"bench instant: {prepared.now.isoformat()} (Monday 08:00 local); staff bound: {prepared.staff_bound}; "
          f"cases due: {prepared.cases_due} ({prepared.cases_reopened} reopened); daily check-in plans: "
          f"{prepared.daily_plans} ({prepared.daily_plans_set} set by the bench)", file=out)
    print(f"{'job':<18} {'median s':>9} {'runs s':<26} {'result':>7} {'target':>7} {'met':>4} "
          f"{'SQL':>7} {'RSS MB':>7}  writes", file=out)
    for r in results:
        target = TARGETS.get(r.name)
        met = "" if target is None else ("yes" if r.median < target else "NO")
        runs = ", ".join(f"{s:.2f}" for s in r.seconds)
        print(f"{r.name:<18} {r.median:9.3f} {runs:<26} {r.result:7d} {target or '':>7} {met:>4} "
              f"{r.statements:7d} {r.rss_mb:7.0f}  {r.writes}", file=out)
    for r in results:
        for statement, plan in r.top:
            print(f"\n--- {r.name}: {statement.calls} calls, {statement.seconds:.3f} s total, "
                  f"slowest {statement.slowest * 1000:.1f} ms\n{_short_sql(statement.sql, 400)}\n{plan}", file=out)


def smoke_database(admin_url: str) -> str:
    """A throwaway database with the small demo (one town, 60 beneficiaries, cases and visits)."""
    from devtools import demo
    from models.migrate import upgrade
    from services.pii import PiiCipher

    name = f"sz_bench_smoke_{os.getpid()}"
    admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin_execute(admin_url, f'CREATE DATABASE "{name}"')
    url = make_url(normalize_url(admin_url)).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        demo.seed_small(session, PiiCipher("bench-pii-key-000000000000000000000000"),
                        datetime(2026, 11, 25, 2, 0, tzinfo=timezone.utc), seed=1, env=bench_env())
        session.commit()
    engine.dispose()
    return url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--database-url", default=DEFAULT_SOURCE,
                        help="The seeded city database to copy (never written). Default: %(default)s")
    parser.add_argument("--bench-db", default="sz_bench", help="Name of the copy (dropped first). Default: %(default)s")
    parser.add_argument("--runs", type=int, default=5, help="Runs of each job; the median is reported.")
    parser.add_argument("--due-cases", type=int, default=3000, help="Open cases made due for the scan.")
    parser.add_argument("--scenario", choices=("steady", "backlog"), default="steady",
                        help="steady: cases due for one rung each (old cases reopened as 50 h old, accepted, at "
                             "rung 1); backlog: old cases reopened unaccepted, every rung at once. Default: %(default)s")
    parser.add_argument("--explain-top", type=int, default=4, help="Slowest statements of each job to EXPLAIN.")
    parser.add_argument("--only", action="append", help="Time only this job (repeatable).")
    parser.add_argument("--profile", type=Path, help="Write pyinstrument profiles of one run of each job here.")
    parser.add_argument("--json", type=Path, help="Also write the figures as JSON here.")
    parser.add_argument("--keep", action="store_true", help="Keep the copy afterwards.")
    parser.add_argument("--reuse", action="store_true",
                        help="Use the copy --bench-db kept by an earlier --keep run as it is, instead of copying "
                             "again (a province's copy takes minutes); runs restore what they wrote.")
    parser.add_argument("--smoke", action="store_true",
                        help="Tiny throwaway database (small demo) on the server of --database-url; one run each.")
    args = parser.parse_args(argv)

    if args.smoke:
        url = smoke_database(args.database_url)
        args.runs, args.due_cases, args.explain_top = 1, 20, min(args.explain_top, 1)
    elif args.reuse:
        url = make_url(normalize_url(args.database_url)).set(database=args.bench_db).render_as_string(hide_password=False)
    else:
        url = copy_database(args.database_url, args.bench_db)
    engine = make_engine(url)
    started = time.perf_counter()
    try:
        prepared, results = run_all(make_session_factory(engine), bench_env(), due_cases=args.due_cases,
                                    runs=args.runs, explain_top=args.explain_top, only=args.only,
                                    profile_dir=args.profile, scenario=args.scenario)
        print(f"machine: nproc={os.cpu_count()} date={datetime.now().isoformat(timespec='seconds')} "
              f"database={make_url(url).database} runs={args.runs} wall={time.perf_counter() - started:.0f}s")
        report(prepared, results)
        if args.json:
            args.json.write_text(json.dumps([r.as_dict() for r in results], ensure_ascii=False, indent=2))
    finally:
        engine.dispose()
        if args.smoke or not (args.keep or args.reuse):
            drop_database(url)
    missed = [r.name for r in results if r.name in TARGETS and r.median >= TARGETS[r.name]]
    return 1 if missed and not args.smoke else 0


if __name__ == "__main__":
    sys.exit(main())
