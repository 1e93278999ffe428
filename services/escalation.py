"""The escalation scan: overdue requests climb the ladder once per rung; each person gets one push per scan."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, literal, select, update
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from config import policy
from config.policy import LadderStep
from models import Beneficiary, Region, ServiceRequest, Staff
from models.enums import OPEN_STATUSES, ActorKind, EventKind, StaffRole, Urgency
from services import requests as request_service
from services import texts
from services.notify import (
    Delivery,
    Push,
    add_events,
    local_time,
    progress_fields,
    push_event,
    task_fields,
    write_outbox,
)
from services.policy import ladder

logger = logging.getLogger(__name__)

OPEN = tuple(s.value for s in OPEN_STATUSES)
# Cases listed in one escalation digest; the rest are counted and left to the workbench.
DIGEST_LINES = 10


def waited(since: datetime, now: datetime) -> str:
    """How long a request has waited, as people say it: 15分钟, 2小时, 2天3小时."""
    minutes = max(int((now - since) / timedelta(minutes=1)), 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}天{hours}小时" if hours else f"{days}天"
    if hours:
        return f"{hours}小时{mins}分钟" if mins else f"{hours}小时"
    return f"{mins}分钟"


def scan(session: Session, env: request_service.RequestEnv, now: datetime, batch: int = 500) -> int:
    """Escalate every request whose next rung is due; returns how many steps were taken."""
    pick = (
        select(ServiceRequest)
        .where(ServiceRequest.status.in_(OPEN), ServiceRequest.next_escalation_at <= now)
        .order_by(ServiceRequest.next_escalation_at, ServiceRequest.id)
        .limit(batch)
        .options(
            selectinload(ServiceRequest.beneficiary).selectinload(Beneficiary.village),
            selectinload(ServiceRequest.assignee).selectinload(Staff.wechat_user),
            selectinload(ServiceRequest.raised_by_wechat_user),
        )
    )
    if session.get_bind().dialect.name == "postgresql":
        # Two scans at once (a double run) never work on the same request.
        pick = pick.with_for_update(skip_locked=True, of=ServiceRequest)
    return _escalate_all(session, env, session.scalars(pick).all(), now)


def escalate(session: Session, env: request_service.RequestEnv, request: ServiceRequest, now: datetime) -> int:
    """Take every due rung of one request, then schedule its next check."""
    return _escalate_all(session, env, [request], now)


def _escalate_all(
    session: Session, env: request_service.RequestEnv, requests: list[ServiceRequest], now: datetime
) -> int:
    """Take the due rungs of these requests and schedule their next checks; returns the steps due."""
    if not requests:
        return 0
    # The scan writes in a few set-based statements and reads nothing it wrote: no flush in between.
    with session.no_autoflush:
        plans = [(request, _due_steps(request, env, now)) for request in requests]
        taken = _take_rungs(session, env, plans, now)
        _announce(session, env, [(r, steps) for r, steps in plans if steps and r.id in taken], now)
    return sum(len(steps) for _, steps in plans)


def _due_steps(request: ServiceRequest, env: request_service.RequestEnv, now: datetime) -> list[LadderStep]:
    """The rungs of the request's ladder that are due at `now`, lowest first."""
    facts = ladder.RequestFacts(request.status, request.created_at, request.escalation_level)
    return ladder.due_steps(facts, policy.ESCALATION_LADDER[request.urgency], now, env.tz, policy.SERVICE_HOURS)


def _take_rungs(
    session: Session, env: request_service.RequestEnv, plans: list[tuple[ServiceRequest, list[LadderStep]]],
    now: datetime,
) -> set[int]:
    """Move each request to its new level and next check in one UPDATE; the ids it took.

    Conditional on the level the scan read: a concurrent run that already took a rung makes the
    request a no-op here (it is read again, and the next scan sees it as it is now).
    """
    seen, levels, checks = {}, {}, {}
    for request, steps in plans:
        seen[request.id] = request.escalation_level
        levels[request.id] = steps[-1].level if steps else request.escalation_level
        # The next check counts from the new level.
        set_committed_value(request, "escalation_level", levels[request.id])
        checks[request.id] = request_service.next_escalation(request, env.tz)
    column = ServiceRequest.__table__.c
    climbed = [rid for rid in seen if levels[rid] != seen[rid]]
    values = {
        ServiceRequest.escalation_level: _case(levels, column.escalation_level.type),
        ServiceRequest.next_escalation_at: _case(checks, column.next_escalation_at.type),
    }
    if climbed:
        # Only a request that climbed counts as updated; a new next check alone does not.
        values[ServiceRequest.updated_at] = case(
            (ServiceRequest.id.in_(climbed), literal(now, column.updated_at.type)), else_=ServiceRequest.updated_at
        )
    stmt = (
        update(ServiceRequest)
        .where(ServiceRequest.id.in_(list(seen)), ServiceRequest.escalation_level == _case(seen, column.escalation_level.type))
        .values(values)
        .returning(ServiceRequest.id)
        .execution_options(synchronize_session=False)
    )
    taken = set(session.scalars(stmt))
    for request, _ in plans:
        if request.id not in taken:
            session.expire(request)
            continue
        set_committed_value(request, "next_escalation_at", checks[request.id])
        if request.id in climbed:
            set_committed_value(request, "updated_at", now)
    return taken


def _case(by_id: dict, type_):
    """CASE id WHEN … THEN … END over a request id map, the values bound with the column's type."""
    return case({rid: literal(value, type_) for rid, value in by_id.items()}, value=ServiceRequest.id)


def _active_staff(session: Session, cache: dict, role: StaffRole, region_id: int) -> list[Staff]:
    """`requests.active_staff`, looked up once per scan for each role and region."""
    key = (role, region_id)
    if key not in cache:
        cache[key] = request_service.active_staff(session, role, region_id)
    return cache[key]


@dataclass(frozen=True)
class _Alert:
    """One rung's alert to one member of staff, before the scan groups alerts per person."""

    staff: Staff
    request: ServiceRequest
    level: int
    # The assignee's own reminder, rather than a request to press someone else's case.
    reminder: bool
    push: Push
    waited: str


def _announce(
    session: Session, env: request_service.RequestEnv, stepped: list[tuple[ServiceRequest, list[LadderStep]]],
    now: datetime,
) -> None:
    """The events and the pushes of every rung taken, written together; one push per person per scan."""
    if not stepped:
        return
    # Load the towns at once; who serves each town and city does not change during one scan.
    towns = {t.id: t for t in session.scalars(select(Region).where(Region.id.in_({r.town_id for r, _ in stepped})))}
    staff_cache: dict = {}
    rungs: list[tuple[dict, list[_Alert], Delivery]] = []
    for request, steps in stepped:
        for step in steps:
            rungs.append(_rung(session, env, request, towns[request.town_id], step, now, staff_cache))
    by_staff: dict[int, list[_Alert]] = {}
    for _, alerts, _ in rungs:
        for alert in alerts:
            by_staff.setdefault(alert.staff.id, []).append(alert)
    # Someone with one alert gets the case's own push; with several, one digest listing them all.
    staff_deliveries = {
        staff_id: _single(alerts[0]) if len(alerts) == 1 else _digest(alerts, env, now)
        for staff_id, alerts in by_staff.items()
    }
    requester_deliveries = [requester for _, _, requester in rungs]
    created = write_outbox(session, [*staff_deliveries.values(), *requester_deliveries], now, tz=env.tz)
    reached = {
        staff_id: delivery.push.key
        for (staff_id, delivery), new in zip(staff_deliveries.items(), created) if new
    }
    # Each rung's event, then whom it alerted: the timeline reads as if taken one by one.
    events = []
    for (event, alerts, requester), new in zip(rungs, created[len(staff_deliveries):]):
        events.append(event)
        alerted = [a.staff.id for a in alerts if a.staff.id in reached]
        if alerted:
            events.append(_alerted_event(event, alerted, [reached[i] for i in alerted]))
        if new:
            events.append(push_event(requester, now))
    add_events(session, events)


def _single(alert: _Alert) -> Delivery:
    """The push of a case to someone it alone alerts in this scan, as it always was."""
    return Delivery(alert.push, alert.staff.wechat_user, alert.request, alert.staff)


def _digest(alerts: list[_Alert], env: request_service.RequestEnv, now: datetime) -> Delivery:
    """One push listing every case that alerts this person in the scan: most urgent, then longest waiting."""
    staff = alerts[0].staff
    cases: dict[int, _Alert] = {}
    for alert in alerts:
        # A case that climbed two rungs at once is listed once.
        cases.setdefault(alert.request.id, alert)
    ordered = sorted(cases.values(), key=lambda a: (not _urgent(a.request), a.request.created_at, a.request.id))
    reminder = all(a.reminder for a in alerts)
    header = texts.PUSH_ESCALATION_DIGEST_REMINDER if reminder else texts.PUSH_ESCALATION_DIGEST
    lines = [header.format(count=len(ordered))]
    for alert in ordered[:DIGEST_LINES]:
        beneficiary = alert.request.beneficiary
        lines.append(texts.PUSH_ESCALATION_DIGEST_LINE.format(
            number=alert.request.id, name=beneficiary.name, village=beneficiary.village.name,
            urgent=texts.PUSH_ESCALATION_DIGEST_URGENT if _urgent(alert.request) else "", waited=alert.waited,
        ))
    if len(ordered) > DIGEST_LINES:
        lines.append(texts.PUSH_ESCALATION_DIGEST_MORE.format(count=len(ordered) - DIGEST_LINES))
    urgent = any(_urgent(a.request) for a in alerts)
    fields = {
        "character_string1": ordered[0].request.id,
        "thing2": texts.ESCALATION_DIGEST_WHAT.format(count=len(ordered)),
        "thing3": texts.ESCALATION_DIGEST_STATE_REMINDER if reminder else texts.ESCALATION_DIGEST_STATE,
        "phrase4": "紧急" if urgent else "一般",
        "time5": local_time(now, env.tz),
    }
    push = Push(key=digest_key(staff.id, [(a.request.id, a.level) for a in alerts]), text="\n".join(lines),
                template_id=env.templates.task, fields=fields)
    return Delivery(push, staff.wechat_user, None, staff, urgent=urgent)


def digest_key(staff_id: int, rungs: list[tuple[int, int]]) -> str:
    """The idempotency key of a digest: the person and the (request, level) rungs it covers, hashed."""
    covered = ",".join(f"{request_id}:{level}" for request_id, level in sorted(set(rungs)))
    return f"escalate:digest:{staff_id}:{hashlib.sha256(covered.encode()).hexdigest()[:20]}"


def _urgent(request: ServiceRequest) -> bool:
    """Whether the request is urgent."""
    return request.urgency == Urgency.URGENT.value


def _alerted_event(rung_event: dict, staff_ids: list[int], keys: list[str]) -> dict:
    """The timeline entry (kind push) naming the staff one rung alerted and the push that reached each."""
    return {
        "request_id": rung_event["request_id"],
        "kind": EventKind.PUSH.value,
        "actor_kind": ActorKind.SYSTEM.value,
        "data": {"level": rung_event["data"]["level"], "to_staff_ids": staff_ids, "keys": keys},
        "created_at": rung_event["created_at"],
    }


def _rung(
    session: Session, env: request_service.RequestEnv, request: ServiceRequest, town: Region, step: LadderStep,
    now: datetime, cache: dict,
) -> tuple[dict, list[_Alert], Delivery]:
    """One rung: its event row, its alerts to staff and its notice to the requester."""
    how_long = waited(request.created_at, now)
    to_city = "city_supervisors" in step.notify
    state = "未接单" if step.condition == "not_accepted" else "未办结"
    recipients: list[tuple[Staff, str]] = []
    if "town_officers" in step.notify:
        recipients += [(s, "town") for s in _active_staff(session, cache, StaffRole.TOWN_OFFICER, town.id)]
    if to_city:
        for role in (StaffRole.CITY_SUPERVISOR, StaffRole.ADMIN):
            city_staff = _active_staff(session, cache, role, town.parent_id)
            if city_staff:
                recipients += [(s, "city") for s in city_staff]
                break
    if "assignee" in step.notify and request.assignee is not None:
        recipients.append((request.assignee, "assignee"))
    beneficiary = request.beneficiary
    words = dict(
        number=request.id, waited=how_long, state=state, name=beneficiary.name,
        village=beneficiary.village.name, category=request.category,
        assignee=request.assignee.name if request.assignee else "无",
    )
    # The same words go to every officer of the rung: format them once.
    staff_text = {
        role: (texts.PUSH_ESCALATION_REMINDER if role == "assignee" else texts.PUSH_ESCALATION).format(**words)
        for role in {role for _, role in recipients}
    }
    fields = task_fields(request, env.tz, f"{state} 已等{how_long}")
    alerts: dict[int, _Alert] = {}
    for staff, role in recipients:
        push = Push(
            key=f"escalate:{request.id}:{step.level}:{staff.id}",
            text=staff_text[role],
            template_id=env.templates.task,
            fields=fields,
        )
        # Someone named twice on a rung (an officer who is also the assignee) is alerted once.
        alerts.setdefault(staff.id, _Alert(staff, request, step.level, role == "assignee", push, how_long))
    office = "市民政局" if to_city else "乡镇民政办"
    push = Push(
        key=f"escalate:{request.id}:{step.level}:requester",
        text=texts.PUSH_ESCALATION_REQUESTER.format(number=request.id, office=office),
        template_id=env.templates.progress,
        fields=progress_fields(request, env.tz, f"已提请{office}督办", office, now),
    )
    requester = Delivery(push, request.raised_by_wechat_user, request)
    logger.info("escalation=step request=%s level=%s recipients=%s", request.id, step.level, len(alerts))
    event = {
        "request_id": request.id,
        "kind": EventKind.ESCALATED.value,
        "actor_kind": ActorKind.SYSTEM.value,
        "body": f"第{step.level}级督办：已等待{how_long}",
        "data": {"level": step.level, "condition": step.condition, "notify": list(step.notify)},
        "created_at": now,
    }
    return event, list(alerts.values()), requester
