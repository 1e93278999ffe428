"""The escalation scan: requests nobody answered in time climb the ladder, once per rung."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from config import policy
from handlers import texts
from handlers.policy import ladder
from handlers.services import requests as request_service
from handlers.services.notify import Push, enqueue, progress_fields, task_fields
from models import Beneficiary, Region, RequestEvent, ServiceRequest, Staff
from models.enums import OPEN_STATUSES, ActorKind, EventKind, StaffRole

logger = logging.getLogger(__name__)

OPEN = tuple(s.value for s in OPEN_STATUSES)


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
        .options(selectinload(ServiceRequest.beneficiary).selectinload(Beneficiary.village))
    )
    if session.get_bind().dialect.name == "postgresql":
        # Two scans at once (a double run) never work on the same request.
        pick = pick.with_for_update(skip_locked=True, of=ServiceRequest)
    steps = 0
    # Who serves each town and city does not change during one scan: look each up once.
    staff_cache: dict = {}
    for request in session.scalars(pick).all():
        steps += escalate(session, env, request, now, staff_cache)
    return steps


def escalate(
    session: Session, env: request_service.RequestEnv, request: ServiceRequest, now: datetime,
    staff_cache: dict | None = None,
) -> int:
    """Take every due rung of one request, then schedule its next check."""
    facts = ladder.RequestFacts(request.status, request.created_at, request.escalation_level)
    steps = ladder.due_steps(facts, policy.ESCALATION_LADDER[request.urgency], now, env.tz, policy.SERVICE_HOURS)
    for step in steps:
        # Conditional: a concurrent run that already took this rung makes this one a no-op.
        taken = session.execute(
            update(ServiceRequest)
            .where(ServiceRequest.id == request.id, ServiceRequest.escalation_level < step.level)
            .values(escalation_level=step.level, updated_at=now)
        ).rowcount
        if not taken:
            continue
        session.refresh(request, ["escalation_level"])
        _announce(session, env, request, step, now, {} if staff_cache is None else staff_cache)
    request.next_escalation_at = request_service.next_escalation(request, env.tz)
    return len(steps)


def _active_staff(session: Session, cache: dict, role: StaffRole, region_id: int) -> list[Staff]:
    key = (role, region_id)
    if key not in cache:
        cache[key] = request_service.active_staff(session, role, region_id)
    return cache[key]


def _announce(session: Session, env, request: ServiceRequest, step, now: datetime, cache: dict) -> None:
    """The event and the pushes for one rung."""
    how_long = waited(request.created_at, now)
    town = session.get(Region, request.town_id)
    to_city = "city_supervisors" in step.notify
    session.add(
        RequestEvent(
            request_id=request.id,
            kind=EventKind.ESCALATED.value,
            actor_kind=ActorKind.SYSTEM.value,
            body=f"第{step.level}级督办：已等待{how_long}",
            data={"level": step.level, "condition": step.condition, "notify": list(step.notify)},
            created_at=now,
        )
    )
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
    for staff, role in recipients:
        text = (texts.PUSH_ESCALATION_REMINDER if role == "assignee" else texts.PUSH_ESCALATION).format(
            number=request.id, waited=how_long, state=state, name=beneficiary.name,
            village=beneficiary.village.name, category=request.category,
            assignee=request.assignee.name if request.assignee else "无",
        )
        push = Push(
            key=f"escalate:{request.id}:{step.level}:{staff.id}",
            text=text,
            template_id=env.templates.task,
            fields=task_fields(request, env.tz, f"{state} 已等{how_long}"),
        )
        enqueue(session, push, staff.wechat_user, now, tz=env.tz, request=request, staff=staff)
    office = "市民政局" if to_city else "乡镇民政办"
    push = Push(
        key=f"escalate:{request.id}:{step.level}:requester",
        text=texts.PUSH_ESCALATION_REQUESTER.format(number=request.id, office=office),
        template_id=env.templates.progress,
        fields=progress_fields(request, env.tz, f"已提请{office}督办", office, now),
    )
    enqueue(session, push, request.raised_by_wechat_user, now, tz=env.tz, request=request)
    logger.info("escalation=step request=%s level=%s recipients=%s", request.id, step.level, len(recipients))
