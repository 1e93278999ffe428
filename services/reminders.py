"""Daily work of the scheduler: 四查四帮 visit reminders, overdue-visit alerts and digests."""

from __future__ import annotations

import logging
import statistics
from collections import defaultdict
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from config import policy
from models import Beneficiary, Region, ServiceRequest, Staff, VisitAlert
from models.db import insert_ignoring_conflicts, insert_json_rows
from models.enums import OPEN_STATUSES, PushKind, RegionLevel, StaffRole
from services import checkin_figures, liaison_digest, summaries, texts
from services import requests as request_service
from services.notify import BULK_ROWS, Delivery, enqueue_many, push_key
from services.responsibility import village_officers
from services.visits import DueVisit, due_visits, overdue_by_town

logger = logging.getLogger(__name__)

OPEN = tuple(s.value for s in OPEN_STATUSES)
DIGEST_LINES = 5


def _when(item: DueVisit, today: date) -> str:
    late = (today - item.due).days
    return f"超期{late}天" if late else "今天到期"


def visit_reminders(
    session: Session, env: request_service.RequestEnv, now: datetime, due: list[DueVisit]
) -> int:
    """One digest per assistant with visits due today or overdue, most overdue first; returns pushes queued."""
    today = now.astimezone(env.tz).date()
    by_staff: dict[int, list[DueVisit]] = defaultdict(list)
    for item in due:
        if item.staff_id is not None:
            by_staff[item.staff_id].append(item)
    if not by_staff:
        return 0
    staff_rows = session.scalars(
        select(Staff).where(Staff.id.in_(list(by_staff)), Staff.active.is_(True)).options(selectinload(Staff.wechat_user))
    )
    deliveries = []
    for staff in staff_rows:
        items = by_staff[staff.id]
        lines = [texts.VISIT_DIGEST_HEADER.format(count=len(items))]
        lines += [
            texts.VISIT_DIGEST_LINE.format(name=i.beneficiary.name, village=i.beneficiary.village.name, when=_when(i, today))
            for i in items[:DIGEST_LINES]
        ]
        if len(items) > DIGEST_LINES:
            lines.append(texts.VISIT_DIGEST_MORE.format(count=len(items)))
        lines.append(texts.VISIT_DIGEST_FOOTER)
        push = summaries.visits_push(
            env, key=push_key(PushKind.REMIND, staff.id, today.isoformat()), text="\n".join(lines),
            staff=staff, due=items, today=today, now=now,
        )
        # Sent at 08:00, outside quiet hours; urgent=False keeps it to office hours if run late at night.
        deliveries.append(Delivery(push, staff.wechat_user, staff=staff, urgent=False))
    return sum(enqueue_many(session, deliveries, now, tz=env.tz, sms=env.sms))


def morning_visits(session: Session, env: request_service.RequestEnv, now: datetime, city_id: int | None = None) -> int:
    """08:00: every assistant's visit digest, and overdue visits reported to the town officers (of
    one city, or of the whole deployment)."""
    # One read of the visits due serves both.
    due = due_visits(session, env.tz, now.astimezone(env.tz).date(), city_id=city_id)
    return visit_reminders(session, env, now, due) + overdue_visit_alerts(session, env, now, due)


def overdue_visit_alerts(
    session: Session, env: request_service.RequestEnv, now: datetime, due: list[DueVisit]
) -> int:
    """Tell each village's responsible town officer, once per overdue period, about visits overdue beyond the slack."""
    today = now.astimezone(env.tz).date()
    slack = timedelta(days=policy.VISIT_OVERDUE_SLACK_DAYS)
    late = [item for item in due if today - item.due > slack]
    if not late:
        return 0
    # The unique (beneficiary, due date) row is what makes this "once per overdue period": only
    # the rows this run created come back.
    rows = [{"beneficiary_id": i.beneficiary.id, "due_on": i.due, "alerted_at": now} for i in late]
    if len(rows) >= BULK_ROWS and session.get_bind().dialect.name == "postgresql":
        created = insert_json_rows(session, VisitAlert.__table__, rows, skip_conflicts=True,
                                   returning=("beneficiary_id", "due_on"))
    else:
        stmt = insert_ignoring_conflicts(session, VisitAlert).returning(VisitAlert.beneficiary_id, VisitAlert.due_on)
        created = session.execute(stmt, rows)
    new = {(row.beneficiary_id, row.due_on) for row in created}
    # Each village's overdue visits go to the town officer responsible for it (包村), not to every
    # officer of the town.
    cache: dict = {}
    by_officer: dict[int, tuple[Staff, list[DueVisit]]] = {}
    for item in late:
        if (item.beneficiary.id, item.due) not in new:
            continue
        village = item.beneficiary.village
        officers = village_officers(session, village.id, town_id=village.parent_id, cache=cache)
        officer = officers.responsible or officers.deputy
        if officer is None:
            logger.warning("visits=overdue_unreported village=%s reason=no_town_officer", village.id)
            continue
        by_officer.setdefault(officer.id, (officer, []))[1].append(item)
    deliveries = []
    for officer, items in by_officer.values():
        lines = "\n".join(
            texts.VISIT_DIGEST_LINE.format(name=i.beneficiary.name, village=i.beneficiary.village.name, when=_when(i, today))
            for i in items[:DIGEST_LINES]
        )
        if len(items) > DIGEST_LINES:
            lines += "\n" + texts.VISIT_DIGEST_MORE.format(count=len(items))
        text = texts.VISIT_OVERDUE_ALERT.format(count=len(items), slack=policy.VISIT_OVERDUE_SLACK_DAYS, lines=lines)
        push = summaries.visits_push(
            env, key=push_key(PushKind.VISIT_OVERDUE, officer.id, today.isoformat()), text=text,
            staff=officer, due=items, today=today, now=now, overdue_alert=True,
        )
        deliveries.append(Delivery(push, officer.wechat_user, staff=officer, urgent=False))
    return sum(enqueue_many(session, deliveries, now, tz=env.tz, sms=env.sms))


def town_digests(session: Session, env: request_service.RequestEnv, now: datetime) -> int:
    """Each town officer's daily figures: open, escalated and overdue cases, overdue visits, and
    yesterday's 报平安."""
    today = now.astimezone(env.tz).date()
    overdue_before = now - timedelta(hours=48)
    # Every town's figures in two grouped counts rather than four queries per town.
    cases = {
        row.town_id: row for row in session.execute(
            select(
                ServiceRequest.town_id,
                func.count().label("open"),
                func.count().filter(ServiceRequest.escalation_level >= 1).label("escalated"),
                func.count().filter(ServiceRequest.created_at < overdue_before).label("overdue"),
            )
            .where(ServiceRequest.status.in_(OPEN))
            .group_by(ServiceRequest.town_id)
        )
    }
    visits_overdue = overdue_by_town(session, env.tz, today - timedelta(days=1))
    checkins = checkin_figures.yesterday_by_town(session, env.tz, today)
    deliveries = []
    towns = session.scalars(select(Region).where(Region.level == RegionLevel.TOWN.value)).all()
    for town in towns:
        officers = request_service.active_staff(session, StaffRole.TOWN_OFFICER, town.id)
        if not officers:
            continue
        counted = cases.get(town.id)
        figures = {
            "open": counted.open if counted else 0,
            "escalated": counted.escalated if counted else 0,
            "overdue": counted.overdue if counted else 0,
            "visits_overdue": visits_overdue.get(town.id, 0),
        }
        text = texts.TOWN_DIGEST.format(town=town.name, date=today.strftime("%m月%d日"), **figures)
        if town.id in checkins:
            text += "\n" + checkin_figures.digest_line(checkins[town.id])
        for officer in officers:
            push = summaries.town_digest_push(
                env, key=push_key(PushKind.DIGEST_TOWN, officer.id, today.isoformat()), text=text,
                staff=officer, town=town.name, figures=figures, today=today, now=now,
            )
            deliveries.append(Delivery(push, officer.wechat_user, staff=officer, urgent=False))
    # The same morning, each liaison hears of the urgent cases the person on duty had for them.
    queued = sum(enqueue_many(session, deliveries, now, tz=env.tz, sms=env.sms))
    return queued + liaison_digest.liaison_digests(session, env, now)


def _median_hours(pairs) -> str:
    hours = [(end - start) / timedelta(hours=1) for start, end in pairs if start and end]
    if not hours:
        return texts.NO_DATA
    value = statistics.median(hours)
    return f"{value * 60:.0f}分钟" if value < 1 else f"{value:.1f}小时"


def weekly_figures(session: Session, tz, now: datetime) -> list[dict]:
    """Per town, for the seven days before `now`: requests, median accept/resolve, visit coverage, rating."""
    start = now - timedelta(days=7)
    today = now.astimezone(tz).date()
    # Three city-wide reads, grouped by town here or in SQL, rather than three queries per town.
    week_by_town = defaultdict(list)
    for row in session.execute(
        select(ServiceRequest.town_id, ServiceRequest.created_at, ServiceRequest.acknowledged_at,
               ServiceRequest.resolved_at, ServiceRequest.rating)
        .where(ServiceRequest.created_at >= start, ServiceRequest.created_at < now)
    ):
        week_by_town[row.town_id].append(row)
    active_by_town = dict(session.execute(
        select(Region.parent_id, func.count()).select_from(Beneficiary).join(Region, Region.id == Beneficiary.village_id)
        .where(Beneficiary.active.is_(True)).group_by(Region.parent_id)
    ).all())
    overdue_by = overdue_by_town(session, tz, today - timedelta(days=1))
    rows = []
    for town in session.scalars(select(Region).where(Region.level == RegionLevel.TOWN.value).order_by(Region.code)):
        week = week_by_town.get(town.id, [])
        ratings = [r.rating for r in week if r.rating]
        active = active_by_town.get(town.id, 0)
        overdue = overdue_by.get(town.id, 0)
        rows.append({
            "city_id": town.parent_id,
            "town": town.name,
            "requests": len(week),
            "accept": _median_hours((r.created_at, r.acknowledged_at) for r in week),
            "resolve": _median_hours((r.created_at, r.resolved_at) for r in week),
            "coverage": f"{(active - overdue) / active:.0%}" if active else texts.NO_DATA,
            "rating": f"{statistics.mean(ratings):.1f}" if ratings else texts.NO_DATA,
        })
    return rows


def city_summaries(session: Session, env: request_service.RequestEnv, now: datetime) -> int:
    """The weekly summary for every city supervisor: the towns of their own city."""
    by_city: dict[int | None, list[dict]] = defaultdict(list)
    for row in weekly_figures(session, env.tz, now):
        by_city[row["city_id"]].append(row)
    local = now.astimezone(env.tz).date()
    header = texts.CITY_SUMMARY_HEADER.format(
        start=(local - timedelta(days=7)).strftime("%m月%d日"), end=(local - timedelta(days=1)).strftime("%m月%d日")
    )
    week = local.isocalendar()
    deliveries = []
    supervisors = session.scalars(
        select(Staff).where(Staff.role == StaffRole.CITY_SUPERVISOR.value, Staff.active.is_(True))
        .options(selectinload(Staff.wechat_user))
    )
    for supervisor in supervisors:
        rows = by_city.get(supervisor.region_id, [])
        text = "\n".join([header, *(texts.CITY_SUMMARY_LINE.format(**row) for row in rows)])
        push = summaries.city_digest_push(
            env, key=push_key(PushKind.DIGEST_CITY, supervisor.id, f"{week.year}-W{week.week:02d}"), text=text,
            staff=supervisor, towns=len(rows), requests=sum(r["requests"] for r in rows), today=local, now=now,
        )
        deliveries.append(Delivery(push, supervisor.wechat_user, staff=supervisor, urgent=False))
    return sum(enqueue_many(session, deliveries, now, tz=env.tz, sms=env.sms))
