"""Time the scheduler's figures job as it runs: the hourly full refresh, then the runs in between.

    .venv/bin/python bench/figures_job.py --database-url postgresql://postgres@127.0.0.1/sz_province
    .venv/bin/python bench/figures_job.py --smoke --database-url postgresql://postgres@127.0.0.1/postgres

Each run is `scheduler.jobs.figures_job` in one process, as the scheduler's pool runs it: at the
seed's newest instant (a full refresh, the job's note of the last one cleared first), ten and twenty
minutes later (what changed since), and an hour later (full again). Before the 20-minute run one
visit is recorded for six days back, as an assistant entering last week's visit would, so that run
recomputes six more days. Reported per run: wall and CPU seconds, rows written, the process's peak
RSS so far. It writes only what the job writes (the daily and weekly figures, a province's standard
views, the note) and the one visit, removed again at the end.

`--smoke`: a throwaway database with the small demo next to `--database-url`, dropped afterwards.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/figures_job.py` from anywhere
    sys.path.insert(0, str(ROOT))

from sqlalchemy import delete, select  # noqa: E402

from bench.databases import drop_database  # noqa: E402
from bench.scheduler import bench_env, seed_now, smoke_database  # noqa: E402
from models import ViewSnapshot, Visit  # noqa: E402
from models.db import make_engine, make_session_factory  # noqa: E402
from scheduler import jobs  # noqa: E402
from services import figures_refresh  # noqa: E402

DEFAULT_DATABASE = "postgresql://postgres@127.0.0.1/sz_province"
# Minutes after the first run: (offset, what the job should do).
RUNS = ((0, "full"), (10, "what changed"), (20, "what changed, a visit recorded for 6 days ago"), (60, "full"))


def measure(url: str, out=sys.stdout) -> list[dict]:
    """Run the job at each offset; one dict of figures per run."""
    engine = make_engine(url)
    factory = make_session_factory(engine)
    ctx = jobs.JobContext(session_factory=factory, wechat=None, env=bench_env())
    with factory() as session:
        start = seed_now(session)
        session.execute(delete(ViewSnapshot).where(ViewSnapshot.key == figures_refresh.MARKER))
        session.commit()
    added = None
    results = []
    try:
        for minutes, what in RUNS:
            now = start + timedelta(minutes=minutes)
            if minutes == 20:
                added = _record_visit(factory, now)
            wall, cpu = time.perf_counter(), time.process_time()
            rows = jobs.figures_job(ctx, now)
            result = {"minutes": minutes, "what": what, "rows": rows, "seconds": time.perf_counter() - wall,
                      "cpu_seconds": time.process_time() - cpu,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
            results.append(result)
            print(f"+{minutes:3d} min  {what:48s} {rows:9,d} rows  {result['seconds']:7.1f} s  "
                  f"cpu {result['cpu_seconds']:6.1f} s  peak RSS {result['peak_rss_mb']:5.0f} MB", file=out, flush=True)
    finally:
        if added is not None:
            with factory() as session:
                session.execute(delete(Visit).where(Visit.id == added))
                session.commit()
        engine.dispose()
    return results


def _record_visit(factory, now: datetime) -> int:
    """A visit entered now for six days ago, by the assistant of the newest visit's beneficiary."""
    with factory() as session:
        last = session.scalars(select(Visit).order_by(Visit.id.desc()).limit(1)).one()
        visit = Visit(beneficiary_id=last.beneficiary_id, staff_id=last.staff_id, visited_at=now - timedelta(days=6),
                      created_at=now)
        session.add(visit)
        session.commit()
        return visit.id


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE,
                        help="the seeded database (with --smoke: a server to make a throwaway one on); "
                             "default: %(default)s")
    parser.add_argument("--smoke", action="store_true", help="the small demo in a throwaway database, seconds")
    args = parser.parse_args(argv)
    url = smoke_database(args.database_url) if args.smoke else args.database_url
    try:
        results = measure(url)
    finally:
        if args.smoke:
            drop_database(url)
    full, between = results[0]["seconds"], max(r["seconds"] for r in results[1:3])
    print(f"a run between full refreshes: {between / full:.2f}x the full one")
    return 0


if __name__ == "__main__":
    sys.exit(main())
