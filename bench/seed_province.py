"""Time `sanzhida seed demo --scale province` on a fresh PostgreSQL database; print counts and size.

It prints what was loaded and the database's size, then drops the database (unless --keep).

    .venv/bin/python bench/seed_province.py [--admin-url postgresql://postgres@127.0.0.1/test] [--name sz_province]
                                            [--keep]

The target is under ten minutes on a 2-core machine for 30 cities of 110,000 beneficiaries. The
database is created next to the admin URL's, migrated with `sanzhida db upgrade`, seeded through the
real command (its progress, a line per city, on stderr), counted and measured.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/seed_province.py` from anywhere
    sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.databases import admin_execute, drop_database  # noqa: E402

SANZHIDA = str(Path(sys.executable).parent / "sanzhida")
TARGET_SECONDS = 600

COUNTS = {
    "province": "SELECT count(*) FROM regions WHERE level = 'province'",
    "cities": "SELECT count(*) FROM regions WHERE level = 'city'",
    "towns": "SELECT count(*) FROM regions WHERE level = 'town'",
    "village-level units": "SELECT count(*) FROM regions WHERE level = 'village'",
    "distinct region codes": "SELECT count(DISTINCT code) FROM regions",
    "staff": "SELECT count(*) FROM staff",
    "province administrators": "SELECT count(*) FROM staff WHERE role = 'province_admin'",
    "beneficiaries": "SELECT count(*) FROM beneficiaries",
    "distinct ID number hashes": "SELECT count(DISTINCT id_number_hash) FROM beneficiaries",
    "active assignments": "SELECT count(*) FROM assignments WHERE ended_at IS NULL",
    "visits": "SELECT count(*) FROM visits",
    "checkins": "SELECT count(*) FROM checkins",
    "requests": "SELECT count(*) FROM service_requests",
    "open requests": "SELECT count(*) FROM service_requests WHERE status IN ('open', 'acknowledged')",
    "request events": "SELECT count(*) FROM request_events",
    "database size": "SELECT pg_size_pretty(pg_database_size(current_database()))",
}


def main() -> int:
    """Create, migrate, seed (timed), count, drop."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--name", default="sz_province", help="Database to create (it must not exist).")
    parser.add_argument("--seed", default="1")
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    args = parser.parse_args()

    target = make_url(args.admin_url).set(database=args.name).render_as_string(hide_password=False)
    admin_execute(args.admin_url, f'CREATE DATABASE "{args.name}"')
    elapsed = float("inf")
    try:
        env = {**os.environ, "DATABASE_URL": target}
        subprocess.run([SANZHIDA, "db", "upgrade"], env=env, check=True, cwd=ROOT, capture_output=True)
        started = time.monotonic()
        subprocess.run([SANZHIDA, "seed", "demo", "--scale", "province", "--seed", args.seed], env=env,
                       check=True, cwd=ROOT)
        elapsed = time.monotonic() - started
        print(f"\nseed demo --scale province: {elapsed:.1f} s (target < {TARGET_SECONDS} s)\n")
        engine = create_engine(target)
        with engine.connect() as connection:
            for label, sql in COUNTS.items():
                print(f"{label:>26}: {connection.scalar(text(sql))}")
        engine.dispose()
    finally:
        if not args.keep:
            drop_database(target)
    return 0 if elapsed < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
