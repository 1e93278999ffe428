"""A busy day at city scale, replayed through the real webhook, inbox worker and scheduler: who gets how many pushes.

    .venv/bin/python bench/day.py [--database-url postgresql://postgres@127.0.0.1/sz_city] [--requests 1500]
    .venv/bin/python bench/day.py --smoke          # the small demo on a throwaway database, a few hours, seconds

The source database (the city demo: `sanzhida seed demo --scale city`) is never written: the script
copies it (`CREATE DATABASE sz_day TEMPLATE <source>`), binds every member of staff to WeChat,
gives requesters a bound family member where the seed has none, and drops the copy at the end
(unless --keep).

The day starts at local midnight after the newest row of the seed. A simulated clock moves through
it; at each instant something happens it is set there and everything runs as in production:
- help requests (`--requests`, `--urgent-share` of them with urgent words, texts from the labelled
  corpus in tests/data/) and commands (`--commands`: 进度, 我的协理员, 任务) are posted to `/wechat`,
  signed as WeChat signs them, at realistic hours, and the inbox worker handles each one at once;
- the assigned assistant accepts `--accept-share` of new cases (接单 N through the webhook) after a
  delay drawn between `--accept-min` and `--accept-max` minutes;
- every `--tick-minutes` the scheduler's tick runs (escalation, reminders, digests, then dispatch);
- pushes go to a local WeChat API stand-in over HTTP.

At the end it prints, from the database: pushes per person by role (median, p90, max, and the most
one person got in one hour), staff pushes delivered in quiet hours by urgency, alerts per rung,
urgent cases still unaccepted and whether each is still alerting someone, and answers lost (a
message whose answer was never sent).
"""

from __future__ import annotations

import argparse
import csv
import heapq
import json
import os
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from bench.day_report import DayReport, measure, print_report  # noqa: E402
from bench.databases import copy_database, drop_database  # noqa: E402
from bench.scheduler import seed_now  # noqa: E402
from devtools.wechat_side import WeChatSide, message_xml, tell_standin, text_inner  # noqa: E402
from models import (  # noqa: E402
    Assignment,
    Beneficiary,
    FamilyLink,
    InboundMessage,
    ServiceRequest,
    Staff,
    WeChatUser,
)
from models.enums import StaffRole  # noqa: E402
from scheduler import calendar  # noqa: E402
from scheduler.jobs import JobContext  # noqa: E402

# The app the day speaks for, and that its WeChat stand-in gives tokens to.
DAY_APP_ID, DAY_APP_SECRET = "wx-day", "day-secret"

DEFAULT_SOURCE = "postgresql://postgres@127.0.0.1:5432/sz_city"
CORPUS = ROOT / "tests" / "data" / "classifier_corpus.csv"
# When people write, per local hour (0-23): a morning peak, an afternoon one, quiet nights.
HOUR_WEIGHTS = (0.3, 0.2, 0.15, 0.15, 0.2, 0.5, 1.5, 3.0, 4.0, 4.0, 3.5, 3.0,
                2.0, 2.5, 3.0, 3.0, 3.0, 2.5, 2.5, 2.5, 2.0, 1.5, 1.0, 0.6)
FAMILY_COMMANDS = ("进度", "我的协理员", "进度", "帮助")
STAFF_COMMANDS = ("任务",)
FALLBACK_TEXTS = {False: ("家里没米了", "药吃完了帮忙买点", "房子漏雨了"), True: ("我爸晕倒了叫不醒", "老娘摔倒了起不来")}


@dataclass
class DayParams:
    """The size and the behaviour of the day."""

    requests: int = 1500
    commands: int = 500
    urgent_share: float = 0.05
    accept_share: float = 0.7
    accept_min: int = 30
    accept_max: int = 90
    hours: int = 24
    tick_minutes: int = 5
    seed: int = 1


class SimClock:
    """The day's clock: the app, the inbox worker and the scheduler all read it."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        """The simulated instant."""
        return self.now


# --------------------------------------------------------------------------- the world


def bind_staff(session: Session) -> int:
    """Give every member of staff without WeChat a bound WeChat user; how many were bound."""
    unbound = session.execute(select(Staff.id, Staff.created_at).where(Staff.wechat_user_id.is_(None))).all()
    if not unbound:
        return 0
    session.execute(WeChatUser.__table__.insert(), [
        {"openid": f"day-staff-{sid}", "subscribed": True, "subscribed_at": created, "created_at": created}
        for sid, created in unbound
    ])
    ids = dict(session.execute(
        select(WeChatUser.openid, WeChatUser.id).where(WeChatUser.openid.like("day-staff-%"))).all())
    for sid, _ in unbound:
        session.get(Staff, sid).wechat_user_id = ids[f"day-staff-{sid}"]
    return len(unbound)


def requesters(session: Session, wanted: int, rng: random.Random, now: datetime) -> list[str]:
    """Openids of family members bound to exactly one beneficiary who has an assistant; made when missing."""
    single = (
        select(FamilyLink.wechat_user_id)
        .where(FamilyLink.active)
        .group_by(FamilyLink.wechat_user_id)
        .having(func.count() == 1)
    )
    found = list(session.scalars(
        select(WeChatUser.openid).where(WeChatUser.id.in_(single), WeChatUser.subscribed)
        .outerjoin(Staff, Staff.wechat_user_id == WeChatUser.id).where(Staff.id.is_(None))
        .order_by(WeChatUser.id)
    ))
    if len(found) < wanted:
        linked = select(FamilyLink.beneficiary_id).where(FamilyLink.active)
        candidates = list(session.scalars(
            select(Beneficiary.id)
            .join(Assignment, (Assignment.beneficiary_id == Beneficiary.id) & Assignment.ended_at.is_(None))
            .where(Beneficiary.id.not_in(linked)).order_by(Beneficiary.id).limit(wanted - len(found))
        ))
        users = [{"openid": f"day-family-{bid}", "subscribed": True, "subscribed_at": now, "created_at": now}
                 for bid in candidates]
        if users:
            session.execute(WeChatUser.__table__.insert(), users)
            ids = dict(session.execute(
                select(WeChatUser.openid, WeChatUser.id).where(WeChatUser.openid.like("day-family-%"))).all())
            session.execute(FamilyLink.__table__.insert(), [
                {"beneficiary_id": bid, "wechat_user_id": ids[f"day-family-{bid}"], "relation": "子女",
                 "notify": True, "active": True, "created_at": now} for bid in candidates
            ])
            found += [f"day-family-{bid}" for bid in candidates]
    rng.shuffle(found)
    return found[:wanted]


def corpus_texts() -> dict[bool, list[str]]:
    """Help-request texts from the labelled corpus, urgent and not."""
    if not CORPUS.exists():
        return {k: list(v) for k, v in FALLBACK_TEXTS.items()}
    texts: dict[bool, list[str]] = {True: [], False: []}
    with CORPUS.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            texts[row["urgent"] == "1"].append(row["text"])
    return texts


@dataclass(order=True)
class Planned:
    """One message someone will send at `at`."""

    at: datetime
    seq: int
    openid: str = field(compare=False)
    text: str = field(compare=False)
    kind: str = field(compare=False)  # "request", "command" or "accept"


def plan_day(start: datetime, params: DayParams, families: list[str], assistants: list[str],
             rng: random.Random) -> list[Planned]:
    """The requests and commands of the day, at realistic local hours."""
    texts = corpus_texts()
    hours = [h for h in range(24)][: params.hours]
    weights = HOUR_WEIGHTS[: params.hours]

    def moment() -> datetime:
        hour = rng.choices(hours, weights)[0]
        return start + timedelta(hours=hour, seconds=rng.randrange(3600))

    planned, seq = [], 0
    for i in range(params.requests):
        urgent = rng.random() < params.urgent_share
        planned.append(Planned(moment(), seq, families[i % len(families)], rng.choice(texts[urgent]), "request"))
        seq += 1
    for _ in range(params.commands):
        if assistants and rng.random() < 0.3:
            planned.append(Planned(moment(), seq, rng.choice(assistants), rng.choice(STAFF_COMMANDS), "command"))
        else:
            planned.append(Planned(moment(), seq, rng.choice(families), rng.choice(FAMILY_COMMANDS), "command"))
        seq += 1
    heapq.heapify(planned)
    return planned


# --------------------------------------------------------------------------- the day


class Day:
    """Runs the day against one app: posts, handles, accepts and ticks in time order."""

    def __init__(self, app, clock: SimClock, params: DayParams, rng: random.Random):
        self.app, self.clock, self.params, self.rng = app, clock, params, rng
        self.svc = app.extensions["sanzhida"]
        self.client = app.test_client()
        settings = self.svc.settings
        self.side = WeChatSide(token=settings.wechat_token, app_id=settings.wechat_app_id)
        self.standin = settings.wechat_api_base_url.split("/cgi-bin/")[0]
        self.msg_ids = iter(range(8_000_000_000_000_000_000 + rng.randrange(10**12), 9_000_000_000_000_000_000))
        from workers.inbox import InboxWorker

        self.worker = InboxWorker(self.svc)
        self.ctx = JobContext(session_factory=self.svc.session_factory, wechat=self.svc.wechat,
                              env=self.svc.request_env)
        self.posted = self.accepted = 0

    def post(self, item: Planned) -> int:
        """Post one message at its instant, signed as WeChat signs it, and handle it; its MsgId."""
        self.clock.now = item.at
        msg_id = next(self.msg_ids)
        xml = message_xml(item.openid, "text", int(item.at.timestamp()), text_inner(item.text),
                          account=self.side.account, msg_id=msg_id)
        # WeChat knows the user wrote: that is what lets the queued reply go as a customer-service message.
        tell_standin(self.standin, xml)
        params, body = self.side.envelope(xml, item.at)
        response = self.client.post("/wechat?" + urlencode(params), data=body.encode("utf-8"),
                                    content_type="text/xml")
        if response.status_code != 200:
            raise RuntimeError(f"webhook answered {response.status_code} at {item.at.isoformat()}")
        self.worker.drain()
        self.posted += 1
        return msg_id

    def plan_accept(self, msg_id: int, sent_at: datetime, planned: list[Planned], seq: int) -> None:
        """When a message opened a new case, its assistant may accept it a while later."""
        with self.svc.session_factory() as session:
            row = session.execute(
                select(ServiceRequest.id, ServiceRequest.created_at, WeChatUser.openid)
                .join(InboundMessage, InboundMessage.request_id == ServiceRequest.id)
                .join(Staff, Staff.id == ServiceRequest.assignee_staff_id)
                .join(WeChatUser, WeChatUser.id == Staff.wechat_user_id)
                .where(InboundMessage.msg_id == msg_id)
            ).first()
        # A message added to an open case (the same sender again) opens nothing new.
        opened = row is not None and abs(row.created_at - sent_at) < timedelta(seconds=1)
        if not opened or self.rng.random() >= self.params.accept_share:
            return
        delay = timedelta(minutes=self.rng.uniform(self.params.accept_min, self.params.accept_max))
        heapq.heappush(planned, Planned(row.created_at + delay, seq, row.openid, f"接单 {row.id}", "accept"))

    def run(self, start: datetime, planned: list[Planned], progress) -> None:
        """Walk the day tick by tick, posting what falls in each tick before running it."""
        end = start + timedelta(hours=self.params.hours)
        tick = timedelta(minutes=self.params.tick_minutes)
        grace = timedelta(minutes=self.svc.settings.scheduler_catchup_grace_minutes)
        seq = 10**9
        at = start
        while at < end:
            at += tick
            while planned and planned[0].at < at:
                item = heapq.heappop(planned)
                if item.at >= end:
                    continue
                msg_id = self.post(item)
                if item.kind == "request":
                    seq += 1
                    self.plan_accept(msg_id, item.at, planned, seq)
                elif item.kind == "accept":
                    self.accepted += 1
            self.clock.now = at
            calendar.tick(self.ctx, self.svc.settings.tz, at, grace)
            if at.minute == 0 and progress:
                progress(f"{at.astimezone(self.svc.settings.tz):%H:%M} posted={self.posted} accepted={self.accepted}")
        self.worker.close()


# --------------------------------------------------------------------------- running it


def day_start(session_factory: sessionmaker[Session], tz) -> datetime:
    """Local midnight after the newest row of the seed, in UTC."""
    with session_factory() as session:
        newest = seed_now(session).astimezone(tz)
    midnight = datetime.combine(newest.date() + timedelta(days=1), datetime.min.time(), tz)
    return midnight.astimezone(timezone.utc)


def run_day(app, clock: SimClock, params: DayParams, *, progress=None) -> DayReport:
    """Prepare the world in the app's database, replay the day, measure it."""
    from config import policy

    rng = random.Random(params.seed)
    svc = app.extensions["sanzhida"]
    started = time.perf_counter()
    with svc.session_factory() as session:
        bind_staff(session)
        session.commit()
    start = day_start(svc.session_factory, svc.settings.tz)
    clock.now = start
    with svc.session_factory() as session:
        families = requesters(session, min(params.requests, 5000), rng, start - timedelta(days=1))
        assistants = list(session.scalars(
            select(WeChatUser.openid).join(Staff, Staff.wechat_user_id == WeChatUser.id)
            .where(Staff.role == StaffRole.ASSISTANT.value, Staff.active).order_by(Staff.id)))
        session.commit()
    if not families:
        raise RuntimeError("no beneficiary with an assistant to write for: is the database seeded?")
    day = Day(app, clock, params, rng)
    day.run(start, plan_day(start, params, families, assistants, rng), progress)
    report = measure(svc.session_factory, start, params, svc.settings.tz, policy.QUIET_HOURS)
    report.posted, report.accepted = day.posted, day.accepted
    report.wall_seconds = time.perf_counter() - started
    return report


def build_app(database_url: str, redis_url: str | None, standin_base: str, clock: SimClock):
    """The app as production runs it (queued replies), on the copy, the simulated clock and the stand-in."""
    from bot.app import create_app
    from config.settings import Settings

    settings = Settings(
        env="development", database_url=database_url, redis_url=redis_url, redis_prefix=f"sz-day-{os.getpid()}",
        wechat_token="day-token", wechat_app_id=DAY_APP_ID, wechat_app_secret=DAY_APP_SECRET,
        wechat_api_base_url=standin_base, wechat_reply_mode="queued",
        secret_key="day-secret-key-00000000000000000000000", admin_api_token="day-admin-token",
        pii_key="day-pii-key-000000000000000000000000000", log_level="WARNING",
    )
    return create_app(settings, clock=clock)


def smoke_database(admin_url: str) -> str:
    """A throwaway database with the small demo."""
    from bench.scheduler import smoke_database as small

    return small(admin_url)


def main(argv: list[str] | None = None) -> int:
    """Copy the city, replay the day, print what it did."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--database-url", default=DEFAULT_SOURCE,
                        help="The seeded city database to copy (never written). Default: %(default)s")
    parser.add_argument("--day-db", default="sz_day", help="Name of the copy (dropped first). Default: %(default)s")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL"),
                        help="Redis for the app (default: REDIS_URL, else the in-process stand-in).")
    defaults = DayParams()
    for name, value in asdict(defaults).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value,
                            help=f"Default: {value}")
    parser.add_argument("--json", type=Path, help="Also write the figures as JSON here.")
    parser.add_argument("--keep", action="store_true", help="Keep the copy afterwards.")
    parser.add_argument("--smoke", action="store_true",
                        help="The small demo on a throwaway database on the server of --database-url, 6 hours, "
                             "60 requests.")
    args = parser.parse_args(argv)
    params = DayParams(**{name: getattr(args, name) for name in asdict(defaults)})
    if args.smoke:
        url = smoke_database(args.database_url)
        params.requests, params.commands, params.hours = min(params.requests, 60), min(params.commands, 20), 6
    else:
        url = copy_database(args.database_url, args.day_db)
    from devtools.fake_wechat import FakeWeChatServer

    standin = FakeWeChatServer(app_id=DAY_APP_ID, app_secret=DAY_APP_SECRET).start()
    clock = SimClock(datetime.now(timezone.utc))
    app = build_app(url, args.redis_url, standin.base_url, clock)
    try:
        report = run_day(app, clock, params, progress=lambda line: print(line, file=sys.stderr))
        print(f"machine: nproc={os.cpu_count()} date={date.today().isoformat()} database={make_url(url).database}")
        print_report(report)
        if args.json:
            args.json.write_text(json.dumps(asdict(report), ensure_ascii=False, indent=2))
    finally:
        app.extensions["sanzhida"].engine.dispose()
        standin.stop()
        if args.smoke or not args.keep:
            drop_database(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
