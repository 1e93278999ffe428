"""What handling one new help request costs the inbox worker: SQL statements and CPU per message.

    .venv/bin/python bench/inbox_cost.py                       # 2,000 messages on a throwaway SQLite file
    .venv/bin/python bench/inbox_cost.py --admin-url postgresql://postgres@127.0.0.1:5432/postgres
    .venv/bin/python bench/inbox_cost.py --messages 200 --unbound-staff   # no staff on WeChat: the whole alert chain

A throwaway database (a SQLite file in a temporary folder, or with --admin-url a PostgreSQL database
created next to it) is migrated to head and seeded with one city, one town and its villages, an
assistant per village (bound to WeChat and following, unless --unbound-staff), a town officer and a
city supervisor, and one beneficiary per message, each with one bound family member. Each family
member then writes one help text, stored as the webhook stores it, so every message opens a new
case. `InboxWorker.handle_group` handles them all in groups exactly as `sanzhida inbox run` does;
sending the replies is left out (it is the outbox's cost, measured by bench/outbox.py).

Reported: messages/s (wall), ms of CPU per message (this process: handling and the driver; on
PostgreSQL the server's own work is not in it), SQL statements per message (engine event), the
statements of one group by kind, and the wall time spent inside statements, by statement.
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import event  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from wechatpy import parse_message  # noqa: E402

from bench.databases import admin_execute, drop_database  # noqa: E402
from config.settings import Settings  # noqa: E402
from models import FamilyLink, WeChatUser  # noqa: E402
from models.db import normalize_url  # noqa: E402
from models.enums import BeneficiaryCategory, RegionLevel, StaffRole  # noqa: E402
from models.migrate import upgrade  # noqa: E402
from runtime.container import build_services  # noqa: E402
from services import roster  # noqa: E402
from services.inbound import dedupe_key, insert_inbound  # noqa: E402
from services.pii import PiiCipher  # noqa: E402
from workers.inbox import InboxWorker  # noqa: E402

# Tuesday 2026-12-01 10:00 Shanghai: office hours, so no rota and no quiet-hours delay.
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)
PII_KEY = "bench-pii-key-00000000000000000000000"
HELP_TEXTS = ("家里没米了，能帮忙买点吗", "老人的药吃完了", "屋顶漏雨了", "想问一下低保怎么申请", "水管冻裂了")


def seed(session_factory, messages: int, villages: int, bound_staff: bool) -> list[str]:
    """The city, its staff and one bound family member per message; their openids."""
    pii = PiiCipher(PII_KEY)
    with session_factory() as session:
        city = roster.create_region(session, code="C01", name="示范市", level=RegionLevel.CITY, parent=None, now=NOW)
        town = roster.create_region(session, code="T01", name="柳河镇", level=RegionLevel.TOWN, parent=city, now=NOW,
                                    office_phone="0716-1234101")

        def staff(role, region, n):
            person = roster.create_staff(session, staff_no=f"{role.value[:1].upper()}{n:04d}", name=f"员工{n}",
                                         phone=f"1380000{n:04d}", role=role, region=region, now=NOW)
            if bound_staff:
                person.wechat_user = WeChatUser(openid=f"o-staff-{n}", subscribed=True, subscribed_at=NOW,
                                                created_at=NOW)
            return person

        staff(StaffRole.TOWN_OFFICER, town, 1)
        staff(StaffRole.CITY_SUPERVISOR, city, 2)
        places = []
        for v in range(villages):
            village = roster.create_region(session, code=f"V{v:03d}", name=f"村{v}", level=RegionLevel.VILLAGE,
                                           parent=town, now=NOW)
            places.append((village, staff(StaffRole.ASSISTANT, village, 100 + v)))
        session.flush()
        openids = []
        for i in range(messages):
            village, assistant = places[i % villages]
            person = roster.create_beneficiary(session, pii, name=f"对象{i}", village=village, now=NOW,
                                               categories=[BeneficiaryCategory.LIUSHOU_ELDERLY])
            session.flush()
            roster.assign_assistant(session, person, assistant, NOW)
            user = WeChatUser(openid=f"o-family-{i}", subscribed=True, subscribed_at=NOW, created_at=NOW)
            session.add(FamilyLink(beneficiary=person, wechat_user=user, relation="子女", active=True,
                                   created_at=NOW))
            openids.append(user.openid)
        session.commit()
    return openids


def store_messages(engine, openids: list[str]) -> None:
    """One help text from each openid, stored as the webhook stores it (not yet handled)."""
    ts = int(NOW.timestamp())
    with engine.begin() as connection:
        for i, openid in enumerate(openids):
            text = HELP_TEXTS[i % len(HELP_TEXTS)]
            xml = (f"<xml><ToUserName>gh_bench</ToUserName><FromUserName>{openid}</FromUserName>"
                   f"<CreateTime>{ts}</CreateTime><MsgType>text</MsgType><Content>{text}</Content>"
                   f"<MsgId>{7_000_000_000 + i}</MsgId></xml>")
            msg = parse_message(xml)
            insert_inbound(connection, msg, dedupe_key(msg), NOW)


def measure(url: str, args) -> dict:
    """Seed, store the messages, then handle them all; the figures."""
    upgrade(url)
    settings = Settings(env="test", database_url=url, wechat_token="bench-token", wechat_app_id="wx-bench",
                        wechat_app_secret="bench-secret", wechat_api_base_url="http://127.0.0.1:9/cgi-bin/",
                        secret_key="bench-secret-key-0000000000000000000000", admin_api_token="bench-admin",
                        pii_key=PII_KEY, wechat_reply_mode="queued")
    services = build_services(settings, clock=lambda: NOW)
    try:
        openids = seed(services.session_factory, args.messages, args.villages, not args.unbound_staff)
        store_messages(services.engine, openids)
        statements: list[str] = []
        # Wall time inside each statement's execute (round trip and the server's work), by its text.
        timing: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0])
        started: list[float] = []

        def before(conn, cursor, sql, params, context, many):
            statements.append(sql)
            started.append(time.perf_counter())

        def after(conn, cursor, sql, params, context, many):
            entry = timing[" ".join(sql.split())[:90]]
            entry[0] += 1
            entry[1] += time.perf_counter() - started.pop()

        event.listen(services.engine, "before_cursor_execute", before)
        event.listen(services.engine, "after_cursor_execute", after)
        worker = InboxWorker(services)
        kinds: collections.Counter = collections.Counter()
        handled = 0
        cpu, wall = time.process_time(), time.perf_counter()
        while True:
            before = len(statements)
            count, _replies = worker.handle_group()
            if count == 0:
                break
            if not kinds:
                kinds.update(sql.split(None, 1)[0].upper() for sql in statements[before:])
                first_group = count
            handled += count
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        services.engine.dispose()
    return {
        "dialect": make_url(url).get_backend_name(),
        "messages": handled,
        "messages_per_s": handled / wall,
        "cpu_ms_per_message": cpu * 1000 / handled,
        "statements_per_message": len(statements) / handled,
        "first_group": first_group,
        "first_group_kinds": dict(kinds.most_common()),
        "statement_ms_per_message": sum(t for _, t in timing.values()) * 1000 / handled,
        "slowest": sorted(((t * 1000 / handled, n / handled, sql) for sql, (n, t) in timing.items()), reverse=True)[:12],
    }


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--messages", type=int, default=2000, help="new help requests to handle (default 2000)")
    parser.add_argument("--villages", type=int, default=20, help="villages, one assistant each (default 20)")
    parser.add_argument("--admin-url", help="a PostgreSQL server to make the throwaway database on "
                                            "(default: a SQLite file)")
    parser.add_argument("--unbound-staff", action="store_true",
                        help="no member of staff on WeChat: each request walks the whole alert chain")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the measurement and print its figures."""
    args = build_parser().parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="inbox-cost-") as folder:
        if args.admin_url:
            name = f"sz_inbox_cost_{uuid.uuid4().hex[:8]}"
            url = make_url(normalize_url(args.admin_url)).set(database=name).render_as_string(hide_password=False)
            admin_execute(args.admin_url, f'CREATE DATABASE "{name}"')
        else:
            url = f"sqlite:///{folder}/inbox-cost.db"
        try:
            result = measure(url, args)
        finally:
            if args.admin_url:
                drop_database(url)
    print(f"{result['dialect']}: {result['messages']} new help requests, "
          f"{'no staff' if args.unbound_staff else 'assistants'} on WeChat")
    print(f"  messages/s          {result['messages_per_s']:.1f}")
    print(f"  CPU ms/message      {result['cpu_ms_per_message']:.2f}")
    print(f"  statements/message  {result['statements_per_message']:.2f}")
    print(f"  first group ({result['first_group']} messages) by kind: {result['first_group_kinds']}")
    print(f"  in statements       {result['statement_ms_per_message']:.2f} ms/message (the rest: Python and commits)")
    for ms, count, sql in result["slowest"]:
        print(f"    {ms:6.2f} ms  {count:5.2f}×  {sql}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
