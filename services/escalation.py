"""The escalation scan: overdue requests climb the ladder once per rung; each person gets one push per scan.

Each rung alerts ONE person per role of the 包联 chain (`services.responsibility`): the village's
responsible town officer, the deputy, the category's city liaison, the person on duty; never a
whole level. The last rung of an urgent case nobody accepts repeats until someone does.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import case, literal, select, update
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from config import policy
from models import Beneficiary, Region, ServiceRequest, Staff
from models.enums import OPEN_STATUSES, ActorKind, EventKind, PushKind, Urgency
from services import requests as request_service
from services import responsibility, summaries, texts
from services.notify import (
    Delivery,
    Push,
    add_events,
    progress_fields,
    push_event,
    push_key,
    sms_text,
    task_fields,
    write_outbox,
)
from services.policy import ladder
from services.policy.hours import waited

logger = logging.getLogger(__name__)

OPEN = tuple(s.value for s in OPEN_STATUSES)
# Cases listed in one escalation digest; the rest are counted and left to the workbench.
DIGEST_LINES = 10


def scan(session: Session, env: request_service.RequestEnv, now: datetime, batch: int = 500) -> int:
    """Escalate every request whose next rung is due; returns how many steps were taken."""
    return sum(scan_by_level(session, env, now, batch).values())


def scan_by_level(session: Session, env: request_service.RequestEnv, now: datetime,
                  batch: int = 500) -> Counter[int]:
    """Escalate every request whose next rung is due; how many rungs were taken at each level."""
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
    return sum(_escalate_all(session, env, [request], now).values())


def _escalate_all(
    session: Session, env: request_service.RequestEnv, requests: list[ServiceRequest], now: datetime
) -> Counter[int]:
    """Take the due rungs of these requests and schedule their next checks; the rungs taken, by level."""
    if not requests:
        return Counter()
    # The scan writes in a few set-based statements and reads nothing it wrote: no flush in between.
    with session.no_autoflush:
        plans = [(request, _due_rungs(request, env, now)) for request in requests]
        taken = _take_rungs(session, env, plans, now)
        _announce(session, env, [(r, steps) for r, steps in plans if steps and r.id in taken], now)
    return Counter(rung.step.level for request, steps in plans if request.id in taken for rung in steps)


def _due_rungs(request: ServiceRequest, env: request_service.RequestEnv, now: datetime) -> list[ladder.Rung]:
    """The rungs of the request's ladder that are due at `now` (a repeat last), lowest first."""
    facts = ladder.RequestFacts(request.status, request.created_at, request.escalation_level,
                                request.escalation_repeats or 0)
    steps = policy.ESCALATION_LADDER[ladder.ladder_key(request.category, request.urgency)]
    return ladder.due_rungs(facts, steps, now, env.tz, policy.SERVICE_HOURS)


def _take_rungs(
    session: Session, env: request_service.RequestEnv, plans: list[tuple[ServiceRequest, list[ladder.Rung]]],
    now: datetime,
) -> set[int]:
    """Move each request to its new level, repeat count and next check in one UPDATE; the ids it took.

    Conditional on the level and repeat count the scan read: a concurrent run that already took a
    rung makes the request a no-op here (it is read again, and the next scan sees it as it is now).
    """
    seen, levels, repeats, seen_repeats, checks = {}, {}, {}, {}, {}
    for request, rungs in plans:
        seen[request.id] = request.escalation_level
        seen_repeats[request.id] = request.escalation_repeats or 0
        levels[request.id] = rungs[-1].step.level if rungs else seen[request.id]
        repeats[request.id] = rungs[-1].repeat if rungs else seen_repeats[request.id]
        # The next check counts from the new level and repeat.
        set_committed_value(request, "escalation_level", levels[request.id])
        set_committed_value(request, "escalation_repeats", repeats[request.id])
        checks[request.id] = request_service.next_escalation(request, env.tz)
    column = ServiceRequest.__table__.c
    climbed = [rid for rid in seen if (levels[rid], repeats[rid]) != (seen[rid], seen_repeats[rid])]
    values = {
        ServiceRequest.escalation_level: _case(levels, column.escalation_level.type),
        ServiceRequest.escalation_repeats: _case(repeats, column.escalation_repeats.type),
        ServiceRequest.next_escalation_at: _case(checks, column.next_escalation_at.type),
    }
    if climbed:
        # Only a request that climbed (or repeated) counts as updated; a new next check alone does not.
        values[ServiceRequest.updated_at] = case(
            (ServiceRequest.id.in_(climbed), literal(now, column.updated_at.type)), else_=ServiceRequest.updated_at
        )
    stmt = (
        update(ServiceRequest)
        .where(ServiceRequest.id.in_(list(seen)),
               ServiceRequest.escalation_level == _case(seen, column.escalation_level.type),
               ServiceRequest.escalation_repeats == _case(seen_repeats, column.escalation_repeats.type))
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
    # Which repeat of the rung (0: its first taking).
    repeat: int = 0
    # The rung's role this person answered for ("responsible_officer", "on_duty" …).
    role: str = "assignee"


def _announce(
    session: Session, env: request_service.RequestEnv, stepped: list[tuple[ServiceRequest, list[ladder.Rung]]],
    now: datetime,
) -> None:
    """The events and the pushes of every rung taken, written together; one push per person per scan."""
    if not stepped:
        return
    # Load the towns at once (their cities come from them); who answers for each village and
    # category does not change during one scan, so the chain is read once per town and city.
    towns = session.scalars(select(Region).where(Region.id.in_({r.town_id for r, _ in stepped}))).all()
    cache: dict = {("city-of", town.id): town.parent_id for town in towns}
    rungs: list[tuple[dict, list[_Alert], Delivery | None]] = []
    for request, taken in stepped:
        case_ = responsibility.case_of(session, request, cache=cache)
        for rung in taken:
            rungs.append(_rung(session, env, request, case_, rung, now, cache))
    by_staff: dict[int, list[_Alert]] = {}
    for _, alerts, _ in rungs:
        for alert in alerts:
            by_staff.setdefault(alert.staff.id, []).append(alert)
    # Someone with one alert gets the case's own push; with several, one digest listing them all.
    staff_deliveries = {
        staff_id: _single(alerts[0]) if len(alerts) == 1 else _digest(alerts, env, now)
        for staff_id, alerts in by_staff.items()
    }
    requester_deliveries = [requester for _, _, requester in rungs if requester is not None]
    created = write_outbox(session, [*staff_deliveries.values(), *requester_deliveries], now, tz=env.tz, sms=env.sms)
    reached = {
        staff_id: delivery.push.key
        for (staff_id, delivery), new in zip(staff_deliveries.items(), created) if new
    }
    requester_created = iter(created[len(staff_deliveries):])
    # Each rung's event, then whom it alerted: the timeline reads as if taken one by one.
    events = []
    for event, alerts, requester in rungs:
        events.append(event)
        alerted = [a for a in alerts if a.staff.id in reached]
        if alerted:
            events.append(_alerted_event(event, alerted, reached))
        if requester is not None and next(requester_created):
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
    first = ordered[0]
    push = summaries.cases_push(
        env, key=digest_key(staff.id, [(a.request.id, a.level, a.repeat) for a in alerts]), text="\n".join(lines),
        staff=staff, cases=[a.request for a in ordered],
        state=texts.ESCALATION_DIGEST_STATE_REMINDER if reminder else texts.ESCALATION_DIGEST_STATE, now=now,
    )
    # By SMS: the most pressing case, and how many there are in all.
    push = replace(push, sms=_rung_sms(first.request, first.waited, f"等{len(ordered)}件"))
    return Delivery(push, staff.wechat_user, None, staff, urgent=urgent)


def _sms_alerts(env: request_service.RequestEnv, request: ServiceRequest) -> bool:
    """Whether a rung's alert about this request can go by SMS: SMS is on with the template it needs."""
    return env.sms is not None and ("urgent" if _urgent(request) else "task") in env.sms.templates


def _rung_sms(request: ServiceRequest, how_long: str, more: str = "") -> dict:
    """The SMS form of a rung's alert: `urgent` (number, name, village, waited) or, for a normal case, `task`."""
    beneficiary = request.beneficiary
    if _urgent(request):
        return sms_text("urgent", number=f"{request.id}{more}", name=beneficiary.name,
                        village=beneficiary.village.name, waited=how_long)
    return request_service.task_sms(request, f"已等{how_long}{more}")


def digest_key(staff_id: int, rungs: list[tuple[int, int] | tuple[int, int, int]]) -> str:
    """The idempotency key of a digest: the person and the (request, level[, repeat]) rungs it covers, hashed."""
    covered = ",".join(
        f"{request_id}:{level}" + (f".{repeat}" if repeat else "")
        for request_id, level, repeat in sorted({(*rung[:2], rung[2] if len(rung) > 2 else 0) for rung in rungs})
    )
    return push_key(PushKind.ESCALATE_DIGEST, staff_id, hashlib.sha256(covered.encode()).hexdigest()[:20])


def _urgent(request: ServiceRequest) -> bool:
    """Whether the request is urgent."""
    return request.urgency == Urgency.URGENT.value


def _alerted_event(rung_event: dict, alerts: list[_Alert], keys: dict[int, str]) -> dict:
    """The timeline entry (kind push) naming the staff one rung alerted, the role each answered for,
    and the push that reached each."""
    data = {
        "level": rung_event["data"]["level"],
        "to_staff_ids": [a.staff.id for a in alerts],
        "roles": [a.role for a in alerts],
        "keys": [keys[a.staff.id] for a in alerts],
    }
    if rung_event["data"].get("repeat"):
        data["repeat"] = rung_event["data"]["repeat"]
    return {
        "request_id": rung_event["request_id"],
        "kind": EventKind.PUSH.value,
        "actor_kind": ActorKind.SYSTEM.value,
        "data": data,
        "created_at": rung_event["created_at"],
    }


# What the rung says has not happened, by its condition.
_STATES = {"not_accepted": "未接单", "not_resolved": "未办结", "accepted_not_resolved": "已接单未办结"}
# The places of the chain that are the city's: a rung naming one tells the requester 市民政局.
_CITY_ROLES = {"liaison", "deputy_liaison", "on_duty"}


def rung_key(request_id: int, level: int, repeat: int, who: int | str) -> str:
    """The idempotency key of one rung's push to one person (or "requester"): a repeat has its own."""
    if repeat:
        return push_key(PushKind.ESCALATE_REPEAT, request_id, level, repeat, who)
    return push_key(PushKind.ESCALATE, request_id, level, who)


def _role_line(target: responsibility.Target | None, village: str) -> str:
    """Why this person gets the alert: their place in the chain, and whether they stand in."""
    if target is None:
        return ""
    department = target.department.name if target.department else ""
    line = texts.ESCALATION_ROLE[target.place].format(village=village, department=department)
    return line + (texts.ESCALATION_STANDING_IN if target.fell_back and target.place != "city_staff" else "")


def _rung(
    session: Session, env: request_service.RequestEnv, request: ServiceRequest, case_: responsibility.Case,
    rung: ladder.Rung, now: datetime, cache: dict,
) -> tuple[dict, list[_Alert], Delivery | None]:
    """One rung: its event row, its alerts to staff (one person per role) and its notice to the requester."""
    step, repeat = rung.step, rung.repeat
    how_long = waited(request.created_at, now)
    state = _STATES[step.condition]
    recipients: list[tuple[Staff, str, responsibility.Target | None]] = []
    on_duty_for = None
    for role in step.notify:
        if role == "assignee":
            if request.assignee is not None:
                recipients.append((request.assignee, role, None))
            continue
        # With SMS on, an officer who never bound WeChat is still the one to alert: by text message.
        target = responsibility.alert_target(session, case_, role, now, env.tz, cache=cache,
                                             by_sms=_sms_alerts(env, request))
        responsibility.log_fallback(request.id, target, f"{step.level}.{repeat}" if repeat else step.level)
        if target.staff is not None:
            recipients.append((target.staff, role, target))
            on_duty_for = on_duty_for or target.on_duty_for
    beneficiary = request.beneficiary
    words = dict(
        number=request.id, waited=how_long, state=state, name=beneficiary.name, repeat=repeat,
        village=beneficiary.village.name, category=request.category,
        assignee=request.assignee.name if request.assignee else "无",
    )
    fields = task_fields(request, env.tz, f"{state} 已等{how_long}")
    alerts: dict[int, _Alert] = {}
    for staff, role, target in recipients:
        if role == "assignee":
            text = texts.PUSH_ESCALATION_REMINDER.format(**words)
        else:
            text = (texts.PUSH_ESCALATION_REPEAT if repeat else texts.PUSH_ESCALATION).format(**words)
            text += "\n" + _role_line(target, beneficiary.village.name)
        push = Push(key=rung_key(request.id, step.level, repeat, staff.id), text=text,
                    template_id=env.templates.task, fields=fields, sms=_rung_sms(request, how_long))
        # Someone named twice on a rung (an officer who is also the assignee) is alerted once.
        alerts.setdefault(staff.id, _Alert(staff, request, step.level, role == "assignee", push, how_long, repeat, role))
    requester = None
    if step.tell_requester and not repeat:
        office = "市民政局" if _CITY_ROLES & set(step.notify) else "乡镇民政办"
        push = Push(
            key=rung_key(request.id, step.level, 0, "requester"),
            text=texts.PUSH_ESCALATION_REQUESTER.format(number=request.id, office=office),
            template_id=env.templates.progress,
            fields=progress_fields(request, env.tz, f"已提请{office}督办", office, now),
        )
        requester = Delivery(push, request.raised_by_wechat_user, request)
    logger.info("escalation=step request=%s level=%s repeat=%s recipients=%s",
                request.id, step.level, repeat, len(alerts))
    data = {"level": step.level, "condition": step.condition, "notify": list(step.notify)}
    if repeat:
        data["repeat"] = repeat
    if on_duty_for is not None:
        # The liaison the person on duty stood in for: listed in the liaison's morning digest.
        data["on_duty_for"] = on_duty_for.id
    event = {
        "request_id": request.id,
        "kind": EventKind.ESCALATED.value,
        "actor_kind": ActorKind.SYSTEM.value,
        "body": f"第{step.level}级督办：已等待{how_long}" + (texts.ESCALATION_REPEAT_NOTE.format(repeat=repeat) if repeat else ""),
        "data": data,
        "created_at": now,
    }
    return event, list(alerts.values()), requester
