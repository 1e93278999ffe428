"""Time `sanzhida seed demo --scale city` on a fresh PostgreSQL database, print what it loaded, drop it.

    .venv/bin/python bench/seed_city.py [--admin-url postgresql://postgres@127.0.0.1/test] [--keep]

The target is under two minutes on a 2-core machine. The database is created next to the admin
URL's, migrated with `sanzhida db upgrade`, seeded through the real command, counted, and dropped
(unless --keep).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
SANZHIDA = str(Path(sys.executable).parent / "sanzhida")

COUNTS = {
    "towns": "SELECT count(*) FROM regions WHERE level = 'town'",
    "villages": "SELECT count(*) FROM regions WHERE level = 'village' AND NOT is_community",
    "communities": "SELECT count(*) FROM regions WHERE level = 'village' AND is_community",
    "assistants": "SELECT count(*) FROM staff WHERE role = 'assistant'",
    "min assistants per village": "SELECT min(n) FROM (SELECT count(*) AS n FROM staff"
                                  " WHERE role = 'assistant' GROUP BY region_id) AS per_village",
    "town officers": "SELECT count(*) FROM staff WHERE role = 'town_officer'",
    "city supervisors": "SELECT count(*) FROM staff WHERE role = 'city_supervisor'",
    "admins": "SELECT count(*) FROM staff WHERE role = 'admin'",
    "beneficiaries": "SELECT count(*) FROM beneficiaries",
    "active assignments": "SELECT count(*) FROM assignments WHERE ended_at IS NULL",
    "family links": "SELECT count(*) FROM family_links",
    "visits": "SELECT count(*) FROM visits",
    "requests": "SELECT count(*) FROM service_requests",
    "request events": "SELECT count(*) FROM request_events",
    "daily figure rows": "SELECT count(*) FROM daily_visit_figures",
    "daily check-in figure rows": "SELECT count(*) FROM daily_checkin_figures",
    "checkins": "SELECT count(*) FROM checkins",
    "assistants no longer active": "SELECT count(*) FROM staff WHERE role = 'assistant' AND NOT active",
    "people without an active assistant": "SELECT count(*) FROM beneficiaries b JOIN assignments a"
                                          " ON a.beneficiary_id = b.id AND a.ended_at IS NULL"
                                          " JOIN staff s ON s.id = a.staff_id WHERE NOT s.active",
    "assistants over 150 people": "SELECT count(*) FROM (SELECT staff_id FROM assignments WHERE ended_at IS NULL"
                                  " GROUP BY staff_id HAVING count(*) > 150) AS heavy",
    "share of resolved rated": "SELECT round(avg(CASE WHEN rating IS NULL THEN 0 ELSE 1 END), 3)"
                               " FROM service_requests WHERE resolved_at IS NOT NULL",
    "mean rating": "SELECT round(avg(rating), 2) FROM service_requests",
    "overdue today": "SELECT count(*) FROM beneficiaries WHERE coalesce(last_visited_at, created_at)"
                     " < date_trunc('day', now() AT TIME ZONE 'Asia/Shanghai') AT TIME ZONE 'Asia/Shanghai'"
                     " - make_interval(days => visit_every_days)",
}
GROUPED = {
    "categories": "SELECT category, count(*) FROM beneficiary_categories GROUP BY 1 ORDER BY 2 DESC",
    "requests by status": "SELECT status, count(*) FROM service_requests GROUP BY 1 ORDER BY 2 DESC",
    "requests by source": "SELECT source, count(*) FROM service_requests GROUP BY 1 ORDER BY 2 DESC",
    "requests by urgency": "SELECT urgency, count(*) FROM service_requests GROUP BY 1 ORDER BY 2 DESC",
    "requests by escalation level": "SELECT escalation_level, count(*) FROM service_requests GROUP BY 1 ORDER BY 1",
    "open requests by level": "SELECT escalation_level, count(*) FROM service_requests"
                              " WHERE status IN ('open', 'acknowledged') GROUP BY 1 ORDER BY 1",
    "requests per week, 26 weeks": "SELECT min(n) || '..' || max(n) FROM (SELECT count(*) AS n FROM service_requests"
                                   " WHERE created_at >= now() - interval '26 weeks'"
                                   " GROUP BY floor(extract(epoch FROM now() - created_at) / 604800)) AS weekly",
    "events by kind": "SELECT kind, count(*) FROM request_events GROUP BY 1 ORDER BY 2 DESC",
}


def admin(url: str, sql: str) -> None:
    """Run one statement outside a transaction (CREATE/DROP DATABASE)."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(sql))
    engine.dispose()


def main() -> int:
    """Create, migrate, seed (timed), count, drop."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--name", default="sz_city")
    parser.add_argument("--seed", default="1")
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    args = parser.parse_args()

    target = make_url(args.admin_url).set(database=args.name)
    env = {**os.environ, "DATABASE_URL": target.render_as_string(hide_password=False)}
    admin(args.admin_url, f'CREATE DATABASE "{args.name}"')
    try:
        subprocess.run([SANZHIDA, "db", "upgrade"], env=env, check=True, cwd=ROOT, capture_output=True)
        started = time.monotonic()
        subprocess.run([SANZHIDA, "seed", "demo", "--scale", "city", "--seed", args.seed], env=env, check=True,
                       cwd=ROOT)
        elapsed = time.monotonic() - started
        print(f"\nseed demo --scale city: {elapsed:.1f} s (target < 120 s)\n")
        engine = create_engine(target)
        with engine.connect() as connection:
            for label, sql in COUNTS.items():
                print(f"{label:>34}: {connection.scalar(text(sql))}")
            for label, sql in GROUPED.items():
                result = connection.execute(text(sql))
                rows = ", ".join(" ".join(str(v) for v in row) for row in result)
                print(f"{label:>34}: {rows}")
        engine.dispose()
    finally:
        if not args.keep:
            admin(args.admin_url, f'DROP DATABASE IF EXISTS "{args.name}" WITH (FORCE)')
    return 0 if elapsed < 120 else 1


if __name__ == "__main__":
    sys.exit(main())
