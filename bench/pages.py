"""Time the office dashboard pages in-process (server time, no network) against a real database.

    .venv/bin/python bench/pages.py --database-url postgresql://postgres@127.0.0.1/sz_city \
        [--redis-url redis://127.0.0.1:6379/14] [--runs 7] [--json out.json] \
        [--roles province_admin,admin,city_supervisor,town_officer,assistant]

The app is built by `create_app` as in development and driven by Flask's test client. For each
role (province_admin when the database has one, admin, city_supervisor, town_officer, assistant;
or those given by `--roles`) one member of staff is picked from the database (bench/page_choice.py), given a known password (bench data, committed; each sign-in also adds an audit row)
and signed in through the real form. Each page is fetched once to warm up, then `--runs` times;
the table shows median, p90 (nearest rank) and max in ms, `sql` (statements per request) and
`sql ms` (median time inside them, so the rest is Python and templates). `/healthz` is timed
alongside as the baseline for machine noise. The target is a median under 300 ms per page.

A measurement, not a test: a page answering with something other than 200 is reported and skipped,
and makes the exit code 1.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import resource
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/pages.py` from anywhere
    sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, event  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench import page_choice  # noqa: E402
from bot.app import create_app  # noqa: E402
from config.settings import load_settings  # noqa: E402
from models.db import make_engine  # noqa: E402
from models.enums import StaffRole  # noqa: E402
from services import accounts  # noqa: E402
from services.scope import scope_for  # noqa: E402

TARGET_MS = 300.0
PASSWORD = "bench-pages-password"
ROLES = (StaffRole.PROVINCE_ADMIN, StaffRole.ADMIN, StaffRole.CITY_SUPERVISOR, StaffRole.TOWN_OFFICER,
         StaffRole.ASSISTANT)
CSRF = re.compile(r'name="csrf_token"\s+value="([^"]+)"')


@dataclass
class SqlMeter:
    """Counts SQL statements and the time spent in them, between `reset()` calls."""

    statements: int = 0
    seconds: float = 0.0
    _started: list[float] = field(default_factory=list)

    def attach(self, engine: Engine) -> None:
        """Listen to every statement the engine runs."""
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def reset(self) -> None:
        """Start a new count."""
        self.statements, self.seconds = 0, 0.0

    def _before(self, *_args) -> None:
        self._started.append(time.perf_counter())

    def _after(self, *_args) -> None:
        self.seconds += time.perf_counter() - self._started.pop()
        self.statements += 1


@dataclass
class Subject:
    """One signed-in role and the pages timed for it."""

    role: str
    staff_no: str
    pages: list[str]


@dataclass
class Timing:
    """The timings of one page for one role, in milliseconds."""

    role: str
    page: str
    runs: list[float]
    statements: int
    sql_ms: float

    @property
    def median(self) -> float:
        """Median of the runs."""
        return statistics.median(self.runs)

    @property
    def p90(self) -> float:
        """90th percentile, nearest rank (with 7 runs: the 7th, i.e. the slowest)."""
        ordered = sorted(self.runs)
        return ordered[max(math.ceil(0.9 * len(ordered)) - 1, 0)]

    @property
    def worst(self) -> float:
        """The slowest run."""
        return max(self.runs)

    @property
    def meets_target(self) -> bool:
        """Median under the 300 ms target."""
        return self.median < TARGET_MS


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        description="Time the /office dashboard pages per role, in-process, against a database.")
    parser.add_argument("--database-url", required=True, help="e.g. postgresql://postgres@127.0.0.1/sz_city")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14",
                        help="Redis for the app (default: DB 14 on localhost; keys under the prefix 'bench')")
    parser.add_argument("--runs", type=int, default=7, help="timed requests per page after one warm-up (default 7)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--roles", type=_roles, default=None,
                        help="comma-separated roles to time, e.g. province_admin,admin,town_officer "
                             "(default: every role someone active has; the province administrator on a province)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def _roles(text: str) -> list[StaffRole]:
    """`--roles`: names from models/enums.py's StaffRole, in the order given."""
    try:
        return [StaffRole(name.strip()) for name in text.split(",") if name.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"roles are among {', '.join(r.value for r in StaffRole)}") from None


def pick_subjects(session: Session, now: datetime, roles: list[StaffRole] | None = None) -> list[Subject]:
    """One active member of staff per role, their pages, and a known password for each (committed).

    `roles` None: every role with someone active in it (so the province administrator only on a
    province); a role asked for by name must have someone. Who and which pages: bench/page_choice.py.
    """
    subjects = []
    for role in roles or ROLES:
        staff = page_choice.pick_staff(session, role)
        if staff is None:
            if roles is None:
                continue
            raise SystemExit(f"no active staff with role {role.value} in the database: seed the demo first")
        accounts.set_password(staff, PASSWORD, now)
        subjects.append(Subject(role.value, staff.staff_no, page_choice.pages_for(session, staff, scope_for(staff))))
    if not subjects:
        raise SystemExit("no active staff in the database: seed the demo first")
    session.commit()
    return subjects


def sign_in(client, staff_no: str) -> None:
    """Sign in through the real form: fetch it, read its CSRF token, post it."""
    form = client.get("/office/login")
    found = CSRF.search(form.get_data(as_text=True))
    if form.status_code != 200 or found is None:
        raise SystemExit(f"GET /office/login answered {form.status_code} without a csrf_token field")
    answer = client.post("/office/login", data={"staff_no": staff_no, "password": PASSWORD,
                                                 "csrf_token": found.group(1)})
    if answer.status_code != 302 or not answer.headers.get("Location", "").startswith("/office"):
        raise SystemExit(f"sign-in as {staff_no} failed: {answer.status_code}")


def time_page(client, meter: SqlMeter, role: str, path: str, runs: int) -> Timing:
    """One warm-up, then `runs` timed GETs; anything but 200 stops the benchmark."""
    _get(client, path)
    times, statements, sql_seconds = [], [], []
    for _ in range(runs):
        meter.reset()
        started = time.perf_counter()
        _get(client, path)
        times.append((time.perf_counter() - started) * 1000)
        statements.append(meter.statements)
        sql_seconds.append(meter.seconds)
    return Timing(role, path, times, max(statements), statistics.median(sql_seconds) * 1000)


class PageFailed(Exception):
    """A page answered with something other than 200."""


def _get(client, path: str) -> None:
    response = client.get(path)
    if response.status_code != 200:
        raise PageFailed(f"GET {path} answered {response.status_code}, expected 200")


def machine() -> dict:
    """What the numbers were measured on."""
    memory_kb = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal:")), 0) if Path("/proc/meminfo").exists() else 0
    return {
        "cpus": os.cpu_count(),
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        # Other work on the machine shows up in the timings; the 1-minute load says how much there was.
        "load_1min": round(os.getloadavg()[0], 2),
    }


def database_state(session: Session) -> dict:
    """PostgreSQL's version, autovacuum, and the tables never vacuumed (index-only scans then read the heap)."""
    if session.get_bind().dialect.name != "postgresql":
        return {"server": session.get_bind().dialect.name}
    sql = session.connection().exec_driver_sql
    return {
        "server": "PostgreSQL " + sql("SHOW server_version").scalar().split()[0],
        "autovacuum": sql("SHOW autovacuum").scalar(),
        "never_vacuumed": list(sql(
            "SELECT relname FROM pg_stat_user_tables WHERE n_live_tup > 10000"
            " AND last_vacuum IS NULL AND last_autovacuum IS NULL ORDER BY n_live_tup DESC").scalars()),
    }


def report(baseline: Timing, timings: list[Timing], peak_rss_mb: float, host: dict, database: dict) -> str:
    """The results as a plain-text table."""
    lines = [f"machine: {host['cpus']} CPUs, {host['memory_gb']} GB, Python {host['python']}, {host['date']}, "
             f"load (1 min) before the run {host['load_1min']}",
             " ".join(f"{key}={', '.join(value) if isinstance(value, list) else value}"
                      for key, value in database.items()),
             f"{'role':<16} {'page':<34} {'median':>8} {'p90':>8} {'max':>8} {'sql':>5} {'sql ms':>7}  <300ms"]
    for t in [baseline, *timings]:
        lines.append(f"{t.role:<16} {t.page:<34} {t.median:8.1f} {t.p90:8.1f} {t.worst:8.1f} {t.statements:5d} "
                     f"{t.sql_ms:7.1f}  {'yes' if t.meets_target else 'NO'}")
    slow = [t for t in timings if not t.meets_target]
    lines.append(f"pages over {TARGET_MS:.0f} ms (median): {len(slow)} of {len(timings)}")
    lines.append(f"peak RSS: {peak_rss_mb:.0f} MB")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Build the app, sign each role in, time the pages, print (and optionally save) the table."""
    args = parse_args(argv)
    host = machine()  # before the run, so the load is other work's
    settings = load_settings({
        "SANZHIDA_ENV": "development",
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "REDIS_KEY_PREFIX": "bench",
        "LOG_LEVEL": "WARNING",
    }, read_dotenv=False)
    engine = make_engine(settings.database_url)
    meter = SqlMeter()
    meter.attach(engine)
    app = create_app(settings, engine=engine)
    services = app.extensions["sanzhida"]
    with services.session_factory() as session:
        subjects = pick_subjects(session, services.clock(), args.roles)
        database = database_state(session)

    with app.test_client() as client:
        baseline = time_page(client, meter, "-", "/healthz", args.runs)
    timings, failed = [], []
    for subject in subjects:
        with app.test_client() as client:
            sign_in(client, subject.staff_no)
            for path in subject.pages:
                try:
                    timings.append(time_page(client, meter, subject.role, path, args.runs))
                except PageFailed as failure:
                    # The other pages are still worth timing; the exit code says something failed.
                    failed.append(f"{subject.role} {failure}")
                    print(f"  {subject.role} {failure}", file=sys.stderr, flush=True)
                    continue
                print(f"  {subject.role} {path}: {timings[-1].median:.1f} ms", file=sys.stderr, flush=True)
    engine.dispose()

    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    print(report(baseline, timings, peak_rss_mb, host, database))
    for failure in failed:
        print(f"FAILED {failure}")
    if args.json:
        args.json.write_text(json.dumps({
            "machine": host,
            "database": database,
            "runs": args.runs,
            "target_ms": TARGET_MS,
            "staff": [asdict(s) for s in subjects],
            "baseline": _as_dict(baseline),
            "pages": [_as_dict(t) for t in timings],
            "peak_rss_mb": round(peak_rss_mb, 1),
            "failed": failed,
        }, ensure_ascii=False, indent=2) + "\n")
    return 1 if failed else 0


def _as_dict(timing: Timing) -> dict:
    return {"role": timing.role, "page": timing.page, "runs_ms": [round(r, 2) for r in timing.runs],
            "median_ms": round(timing.median, 2), "p90_ms": round(timing.p90, 2), "max_ms": round(timing.worst, 2),
            "sql_statements": timing.statements, "sql_ms_median": round(timing.sql_ms, 2),
            "under_target": timing.meets_target}


if __name__ == "__main__":
    sys.exit(main())
