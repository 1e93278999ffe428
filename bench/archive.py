"""The hot tables before and after archiving, on a synthetic three-year history.

    .venv/bin/python bench/archive.py                       # PostgreSQL next to --admin-url
    .venv/bin/python bench/archive.py --sqlite              # the embedded default, in a temporary file
    .venv/bin/python bench/archive.py --smoke               # a few thousand rows, seconds

A throwaway database is migrated to head and filled, day by day over `--days` (1,095) up to NOW, with
`--messages` handled messages and `--pushes` sent pushes a day, and `--cases` cases a day of six
timeline entries each (the first naming one of the day's messages). Everything older than a month is
finished; 1 % of the cases stay open whatever their age; the last minutes hold waiting messages and
pending pushes, as a live queue does. Then, before and after `runtime.archive.archive_before` with
the job's cut-off (13 whole months), it reports each hot table's rows and size (PostgreSQL:
`pg_total_relation_size`) and the median of `--runs` timings of the hot queries:

- the inbox worker's `take_next` probe (handlers/inbox.py), rolled back;
- the dispatcher's claim of due pushes (`services.outbox.claim_due`, 50 rows), rolled back;
- the hourly message-retention job's span scan (`services.retention.id_span`, inbound messages);
- an old closed case's timeline (`services.history.timeline`), hot before, archived after.

The database is dropped afterwards (PostgreSQL) or deleted (SQLite) unless `--keep`.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.databases import admin_execute  # noqa: E402
from handlers.inbox import take_next  # noqa: E402
from models import InboundMessage, OutboxMessage, RequestEvent, ServiceRequest  # noqa: E402
from models.db import make_engine, make_session_factory, normalize_url  # noqa: E402
from models.enums import BeneficiaryCategory, RegionLevel, StaffRole  # noqa: E402
from models.migrate import upgrade  # noqa: E402
from runtime.archive import archive_before  # noqa: E402
from services import archive, history, outbox, retention, roster  # noqa: E402
from services.pii import PiiCipher  # noqa: E402

DEFAULT_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
NOW = datetime(2026, 11, 30, 2, 0, tzinfo=timezone.utc)  # 10:00 in Shanghai
TZ_NAME = "Asia/Shanghai"
TABLES = ("inbound_messages", "outbox", "request_events")
CHUNK = 20_000
EVENT_KINDS = ("created", "push", "escalated", "acknowledged", "comment", "resolved")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (`--help` describes it)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN, help="PostgreSQL server to create the database on")
    parser.add_argument("--sqlite", action="store_true", help="use an embedded SQLite file instead")
    parser.add_argument("--days", type=int, default=1095, help="days of history (default 1095, three years)")
    parser.add_argument("--messages", type=int, default=400, help="handled messages a day (default 400)")
    parser.add_argument("--pushes", type=int, default=400, help="sent pushes a day (default 400)")
    parser.add_argument("--cases", type=int, default=40, help="cases a day, six entries each (default 40)")
    parser.add_argument("--runs", type=int, default=21, help="timed runs of each query (default 21)")
    parser.add_argument("--smoke", action="store_true", help="500 days of 10 messages, 10 pushes and 2 cases a day; 3 runs")
    parser.add_argument("--keep", action="store_true", help="keep the database and print its URL")
    args = parser.parse_args(argv)
    if args.smoke:
        args.days, args.messages, args.pushes, args.cases, args.runs = 500, 10, 10, 2, 3
    return args


def _chunks(rows):
    """Lists of at most CHUNK rows from an iterator."""
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def _people(session) -> dict:
    """One city, town and village, an assistant and a beneficiary: what the cases hang on."""
    city = roster.create_region(session, code="B01", name="基准市", level=RegionLevel.CITY, parent=None, now=NOW,
                                office_phone="0716-0000000")
    town = roster.create_region(session, code="B0101", name="基准镇", level=RegionLevel.TOWN, parent=city, now=NOW,
                                office_phone="0716-0000000")
    village = roster.create_region(session, code="B010101", name="基准村", level=RegionLevel.VILLAGE, parent=town,
                                   now=NOW, office_phone="0716-0000000")
    staff = roster.create_staff(session, staff_no="B0001", name="协理员", phone="13800000000",
                                role=StaffRole.ASSISTANT, region=village, now=NOW)
    person = roster.create_beneficiary(session, PiiCipher("bench-pii-key-000000000000000000000000"), name="对象",
                                       village=village, categories=[BeneficiaryCategory.LIUSHOU_ELDERLY],
                                       phone="13900000000", now=NOW)
    session.flush()
    return {"beneficiary_id": person.id, "village_id": village.id, "town_id": town.id,
            "assignee_staff_id": staff.id}


def fill(session_factory, args) -> None:
    """The synthetic history, inserted in chunks of CHUNK rows."""
    with session_factory() as session:
        people = _people(session)
        session.commit()
    first_day = NOW - timedelta(days=args.days)
    recent = NOW - timedelta(days=30)

    def messages():
        """Handled messages through the days, then the live queue."""
        for day in range(args.days):
            for n in range(args.messages):
                at = first_day + timedelta(days=day, seconds=n * 86_400 // args.messages)
                i = day * args.messages + n + 1
                yield {"id": i, "dedupe_key": f"msg:{i}", "openid": f"o-{i % 5000}", "msg_type": "text",
                       "sent_at": at, "received_at": at, "content": None, "payload": {"purged": True},
                       "handled_at": at}
        for n in range(20):  # the live queue: a few messages still waiting
            i = args.days * args.messages + n + 1
            at = NOW - timedelta(seconds=20 - n)
            yield {"id": i, "dedupe_key": f"msg:{i}", "openid": f"o-wait-{n}", "msg_type": "text", "sent_at": at,
                   "received_at": at, "content": "在吗", "payload": {}, "handled_at": None}

    def pushes():
        """Sent (and some dead) pushes through the days, then the pending ones."""
        for day in range(args.days):
            for n in range(args.pushes):
                at = first_day + timedelta(days=day, seconds=n * 86_400 // args.pushes)
                i = day * args.pushes + n + 1
                yield {"id": i, "idempotency_key": f"bench:{i}", "recipient_openid": f"o-{i % 5000}",
                       "kind": "custom", "payload": {}, "status": "dead" if n % 97 == 0 else "sent", "attempts": 1,
                       "next_attempt_at": at, "created_at": at, "sent_at": at}
        for n in range(50):  # due now, and waiting for a quiet hour
            i = args.days * args.pushes + n + 1
            yield {"id": i, "idempotency_key": f"bench:{i}", "recipient_openid": f"o-{n}", "kind": "custom",
                   "payload": {"text": "x"}, "status": "pending", "attempts": 0, "created_at": NOW,
                   "next_attempt_at": NOW - timedelta(seconds=1) if n < 10 else NOW + timedelta(hours=8)}

    def cases():
        """Cases through the days: closed once a month old, but 1 in 100 still open."""
        for day in range(args.days):
            for n in range(args.cases):
                at = first_day + timedelta(days=day, seconds=n * 86_400 // args.cases)
                i = day * args.cases + n + 1
                done = at < recent and i % 100 != 0
                yield {"id": i, **people, "category": "其他", "urgency": "normal", "summary": "",
                       "status": "closed" if done else "acknowledged", "channel": "wechat", "source": "wechat",
                       "escalation_level": 0, "created_at": at, "updated_at": at + timedelta(hours=6),
                       "acknowledged_at": at + timedelta(hours=1), "resolved_at": at + timedelta(hours=5) if done else None,
                       "closed_at": at + timedelta(hours=6) if done else None}

    def events():
        """Six entries per case, the first naming one of the day's messages."""
        for day in range(args.days):
            for n in range(args.cases):
                at = first_day + timedelta(days=day, seconds=n * 86_400 // args.cases)
                case_id = day * args.cases + n + 1
                for k, kind in enumerate(EVENT_KINDS):
                    yield {"id": (case_id - 1) * len(EVENT_KINDS) + k + 1, "request_id": case_id, "kind": kind,
                           "actor_kind": "system", "created_at": at + timedelta(minutes=k * 50),
                           "inbound_message_id": day * args.messages + n + 1 if k == 0 and n < args.messages else None,
                           "data": {"level": 1} if kind == "escalated" else None, "body": None}

    for model, rows in ((InboundMessage, messages()), (OutboxMessage, pushes()), (ServiceRequest, cases()),
                        (RequestEvent, events())):
        written = 0
        for batch in _chunks(rows):
            with session_factory() as session:
                session.execute(insert(model), batch)
                session.commit()
            written += len(batch)
        print(f"  {model.__tablename__}: {written} rows", file=sys.stderr)


def _timed(session_factory, work, runs: int) -> float:
    """The median milliseconds of `work(session)`, each in its own rolled-back transaction."""
    spent = []
    for run in range(runs + 1):
        with session_factory() as session:
            session.connection()  # the connection and its transaction are not what is measured
            start = time.perf_counter()
            work(session)
            if run:  # the first run warms the statement cache
                spent.append((time.perf_counter() - start) * 1000)
            session.rollback()
    return statistics.median(spent)


def measure(engine, session_factory, runs: int, old_case: int) -> dict:
    """Rows and sizes of the hot tables, and the hot queries' median times."""
    result = {}
    if engine.dialect.name == "postgresql":
        # As autovacuum would after a big delete: the dead rows' space is reusable, the statistics fresh.
        with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as connection:
            connection.execute(text("VACUUM ANALYZE"))
    with engine.connect() as connection:
        for table in TABLES:
            rows = connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            size = (connection.execute(text(f"SELECT pg_total_relation_size('{table}')")).scalar_one()
                    if engine.dialect.name == "postgresql" else None)
            result[table] = (rows, size)
    purge = retention.PURGES[0]
    cutoff = retention.cutoff_for(NOW, 180)

    def timeline(session):
        """The old case's entries, as its page reads them."""
        return history.timeline(session.get(ServiceRequest, old_case), session)

    result["take_next"] = _timed(session_factory, take_next, runs)
    result["claim_due"] = _timed(session_factory, lambda s: outbox.claim_due(s, NOW, 50), runs)
    result["retention_span"] = _timed(session_factory, lambda s: retention.id_span(s, purge, cutoff), runs)
    result["timeline"] = _timed(session_factory, timeline, runs)
    return result


def _report(label: str, numbers: dict) -> None:
    """One block of the result."""
    print(f"{label}:")
    for table in TABLES:
        rows, size = numbers[table]
        shown = f", {size / 1_048_576:.1f} MB" if size is not None else ""
        print(f"  {table}: {rows} rows{shown}")
    for name in ("take_next", "claim_due", "retention_span", "timeline"):
        print(f"  {name}: {numbers[name]:.2f} ms")


def main(argv: list[str] | None = None) -> int:
    """Build, measure, archive, measure again, drop."""
    args = parse_args(argv)
    if args.sqlite:
        folder = tempfile.mkdtemp(prefix="bench-archive-")
        url = f"sqlite:///{folder}/bench.db"
    else:
        name = f"bench_archive_{uuid.uuid4().hex[:8]}"
        admin_execute(args.admin_url, f'CREATE DATABASE "{name}"')
        url = make_url(normalize_url(args.admin_url)).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    try:
        upgrade(url)
        session_factory = make_session_factory(engine)
        started = time.perf_counter()
        fill(session_factory, args)
        print(f"  filled in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        tz = ZoneInfo(TZ_NAME)
        cutoff = archive.cutoff_for(archive.cutoff_month(NOW.astimezone(tz).date(), 13), tz)
        with session_factory() as session:
            old_case = session.scalar(select(func.min(ServiceRequest.id)).where(ServiceRequest.status == "closed"))
        before = measure(engine, session_factory, args.runs, old_case)
        started = time.perf_counter()
        report = archive_before(session_factory, cutoff, NOW)
        moving = time.perf_counter() - started
        after = measure(engine, session_factory, args.runs, old_case)
        print(f"{engine.dialect.name}, {args.days} days, cut-off {cutoff.date()}, median of {args.runs} runs")
        _report("before", before)
        _report("after", after)
        print(f"archived {report.total} rows in {report.windows} windows, {moving:.1f} s "
              f"({', '.join(f'{k} {v}' for k, v in report.moved.items())})")
        if args.keep:
            print(f"kept: {url}")
    finally:
        engine.dispose()
        if not args.keep:
            if args.sqlite:
                shutil.rmtree(folder, ignore_errors=True)
            else:
                admin_execute(args.admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(main())
