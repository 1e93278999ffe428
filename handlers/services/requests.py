"""Help requests: open and route, then accept, reply, resolve, cancel, rate, reassign and supervise.

Every action checks permissions here (not in the chat layer), writes a request event with its
actor and time, and queues its pushes in the same transaction.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from handlers import texts
from config import policy
from handlers.policy import ladder, permissions
from handlers.policy.classify import Classification
from handlers.services import roster
from handlers.services.errors import DomainError
from handlers.services.notify import Push, Templates, enqueue, progress_fields, task_fields
from models import (
    Beneficiary,
    FamilyLink,
    InboundMessage,
    Region,
    RequestEvent,
    ServiceRequest,
    Staff,
    WeChatUser,
)
from models.enums import (
    OPEN_STATUSES,
    ActorKind,
    EventKind,
    RequestSource,
    RequestStatus,
    StaffRole,
)

OPEN = tuple(s.value for s in OPEN_STATUSES)


@dataclass(frozen=True)
class RequestEnv:
    """What request services need besides the session: local time zone, templates, merge window."""

    tz: ZoneInfo
    templates: Templates
    merge_hours: int = 6


@dataclass(frozen=True)
class Routing:
    """Who gets a new request: the assignee, and everyone to alert, with the level it went to."""

    assignee: Staff | None
    alert: list[Staff]
    level: str


# --- reading -------------------------------------------------------------------------------------


def next_escalation(request: ServiceRequest, tz: ZoneInfo):
    """When the escalation scan should next look at this request (None: never again)."""
    facts = ladder.RequestFacts(request.status, request.created_at, request.escalation_level)
    return ladder.next_check_at(facts, policy.ESCALATION_LADDER[request.urgency], tz, policy.SERVICE_HOURS)


def get_request(session: Session, number: int) -> ServiceRequest:
    """A request by number, or a DomainError saying it does not exist."""
    request = session.get(ServiceRequest, number)
    if request is None:
        raise DomainError(texts.REQUEST_NOT_FOUND.format(number=number))
    return request


def describe_message(inbound: InboundMessage) -> tuple[str, dict]:
    """A short text for the timeline and the data to keep (media ids, location) for one message."""
    payload = inbound.payload or {}
    kind = inbound.msg_type
    data: dict = {"msg_type": kind}
    if kind == "text":
        return inbound.content or "", data
    if kind == "voice":
        data.update(media_id=payload.get("MediaId"), format=payload.get("Format"))
        recognition = (payload.get("Recognition") or "").strip()
        if recognition:
            data["recognition"] = recognition
        return recognition or "[语音留言]", data
    if kind == "image":
        data.update(media_id=payload.get("MediaId"), pic_url=payload.get("PicUrl"))
        return "[图片]", data
    if kind == "location":
        label = payload.get("Label") or ""
        data["location"] = {
            "x": payload.get("Location_X"),
            "y": payload.get("Location_Y"),
            "scale": payload.get("Scale"),
            "label": label,
        }
        return f"[位置] {label}".strip(), data
    if kind in ("video", "shortvideo"):
        data.update(media_id=payload.get("MediaId"))
        return "[视频]", data
    return "[消息]", data


def active_staff(session: Session, role: StaffRole, region_id: int) -> list[Staff]:
    """Active staff of a role in a region, least loaded first (fewest open requests)."""
    candidates = session.scalars(
        select(Staff)
        .where(Staff.role == role.value, Staff.region_id == region_id, Staff.active.is_(True))
        # Joined, not a second query: each level of the alert chain asks who can be reached.
        .options(joinedload(Staff.wechat_user))
    ).all()
    if len(candidates) < 2:
        return list(candidates)
    # Count open requests only for these few people, not for the whole city.
    load = dict(session.execute(
        select(ServiceRequest.assignee_staff_id, func.count())
        .where(ServiceRequest.status.in_(OPEN), ServiceRequest.assignee_staff_id.in_([c.id for c in candidates]))
        .group_by(ServiceRequest.assignee_staff_id)
    ).all())
    return sorted(candidates, key=lambda staff: (load.get(staff.id, 0), staff.id))


def route(session: Session, beneficiary: Beneficiary) -> Routing:
    """The assigned assistant; else the town's officers; else the city's supervisors (then admins)."""
    assignment = roster.current_assignment(session, beneficiary)
    if assignment is not None and assignment.staff.active:
        return Routing(assignment.staff, [assignment.staff], "assistant")
    town = beneficiary.village.parent
    officers = active_staff(session, StaffRole.TOWN_OFFICER, town.id)
    if officers:
        return Routing(officers[0], officers, "town")
    for role in (StaffRole.CITY_SUPERVISOR, StaffRole.ADMIN):
        city_staff = active_staff(session, role, town.parent_id)
        if city_staff:
            return Routing(city_staff[0], city_staff, "city")
    return Routing(None, [], "none")


def fallback_chain(session: Session, request: ServiceRequest):
    """Who to alert, level by level, when the people before could not be reached on WeChat."""
    town = session.get(Region, request.town_id)
    # Lazily: most requests reach the first level, and each level costs queries.
    yield active_staff(session, StaffRole.TOWN_OFFICER, town.id)
    yield active_staff(session, StaffRole.CITY_SUPERVISOR, town.parent_id)
    yield active_staff(session, StaffRole.ADMIN, town.parent_id)


def mergeable_request(session: Session, beneficiary_id: int, now: datetime, hours: int) -> ServiceRequest | None:
    """The beneficiary's newest still-open request from the last `hours`, to add a message to."""
    return session.scalars(
        select(ServiceRequest)
        .where(
            ServiceRequest.beneficiary_id == beneficiary_id,
            ServiceRequest.status.in_(OPEN),
            ServiceRequest.created_at >= now - timedelta(hours=hours),
        )
        .order_by(ServiceRequest.created_at.desc())
        .limit(1)
    ).first()


def handler_line(request: ServiceRequest) -> str:
    """`负责人：王芳，电话 138…，会尽快联系您。` for replies to the requester."""
    staff = request.assignee
    if staff is None:
        return texts.REQUEST_OPENED_OFFICE
    return texts.REQUEST_OPENED_HANDLER.format(name=staff.name, phone=staff.phone)


# --- opening ----------------------------------------------------------------------------------------


def _event(
    session: Session,
    env: RequestEnv,
    request: ServiceRequest,
    kind: EventKind,
    now: datetime,
    *,
    staff: Staff | None = None,
    user: WeChatUser | None = None,
    body: str | None = None,
    data: dict | None = None,
    inbound: InboundMessage | None = None,
) -> RequestEvent:
    actor = ActorKind.STAFF if staff else ActorKind.WECHAT_USER if user else ActorKind.SYSTEM
    # Every change goes through here, so the escalation scan always sees the current next step.
    request.next_escalation_at = next_escalation(request, env.tz)
    event = RequestEvent(
        request_id=request.id,
        kind=kind.value,
        actor_kind=actor.value,
        actor_staff_id=staff.id if staff else None,
        actor_wechat_user_id=user.id if user else None,
        inbound_message_id=inbound.id if inbound else None,
        body=body,
        data=data,
        created_at=now,
    )
    session.add(event)
    session.flush()
    return event


def open_request(
    session: Session,
    env: RequestEnv,
    *,
    beneficiary: Beneficiary,
    classification: Classification,
    summary: str,
    now: datetime,
    user: WeChatUser | None = None,
    staff: Staff | None = None,
    inbound: InboundMessage | None = None,
    data: dict | None = None,
    source: RequestSource = RequestSource.WECHAT,
    visit_id: int | None = None,
) -> ServiceRequest:
    """Open a request, route it to the one responsible, and queue the alert; never dropped."""
    routing = route(session, beneficiary)
    request = ServiceRequest(
        beneficiary=beneficiary,
        village_id=beneficiary.village_id,
        town_id=beneficiary.village.parent_id,
        source=source.value,
        raised_by_wechat_user_id=user.id if user else None,
        raised_by_staff_id=staff.id if staff else None,
        visit_id=visit_id,
        category=classification.category.value,
        urgency=classification.urgency.value,
        status=RequestStatus.OPEN.value,
        summary=summary[:500],
        assignee=routing.assignee,
        escalation_level=0,
        created_at=now,
        updated_at=now,
    )
    # Known before the INSERT, so it goes in the row rather than an UPDATE right after it.
    request.next_escalation_at = next_escalation(request, env.tz)
    session.add(request)
    session.flush()
    _event(session, env, request, EventKind.CREATED, now, staff=staff, user=user, inbound=inbound, body=summary,
        data={**(data or {}), "routed_to": routing.level, "emergency_numbers": list(classification.emergency_numbers)},
    )
    if inbound is not None:
        inbound.request_id = request.id
    _alert_new_request(session, env, request, routing.alert, now)
    return request


def _alert_new_request(session: Session, env: RequestEnv, request: ServiceRequest, alert: list[Staff], now) -> None:
    """Push the new task to everyone alerted; if none can be reached on WeChat, go up a level."""
    for staff_list in itertools.chain([alert], fallback_chain(session, request)):
        reached = False
        for staff in staff_list:
            push = Push(
                key=f"task:{request.id}:{staff.id}",
                text=_new_task_text(request),
                template_id=env.templates.task,
                fields=task_fields(request, env.tz, f"{request.category} {request.summary}"),
            )
            reached |= enqueue(session, push, staff.wechat_user, now, tz=env.tz, request=request, staff=staff)
        if reached:
            return


def _new_task_text(request: ServiceRequest) -> str:
    beneficiary = request.beneficiary
    return texts.PUSH_NEW_TASK.format(
        number=request.id,
        urgency=texts.URGENCY_NAMES[request.urgency],
        name=beneficiary.name,
        village=beneficiary.village.name,
        category=request.category,
        summary=request.summary[:200],
    )


def append_message(
    session: Session, env: RequestEnv, request: ServiceRequest, user: WeChatUser, inbound: InboundMessage, now
) -> None:
    """Add a follow-up message to an open request and tell whoever has it."""
    body, data = describe_message(inbound)
    event = _event(session, env, request, EventKind.MESSAGE, now, user=user, inbound=inbound, body=body, data=data)
    inbound.request_id = request.id
    request.updated_at = now
    if request.assignee is not None:
        push = Push(
            key=f"message:{event.id}:{request.assignee.id}",
            text=texts.PUSH_NEW_MESSAGE.format(number=request.id, summary=body[:200]),
            template_id=env.templates.task,
            fields=task_fields(request, env.tz, f"新消息 {body}"),
        )
        enqueue(session, push, request.assignee.wechat_user, now, tz=env.tz, request=request, staff=request.assignee)


# --- staff actions -------------------------------------------------------------------------------


def _require_handle(staff: Staff, request: ServiceRequest) -> None:
    if not permissions.may_handle(staff.role, staff.id, staff.region_id, request.assignee_staff_id, request.town_id):
        raise DomainError(texts.NOT_ALLOWED.format(number=request.id))


def _require_open(request: ServiceRequest) -> None:
    if request.status not in OPEN:
        raise DomainError(
            texts.REQUEST_CLOSED_ALREADY.format(number=request.id, status=texts.STATUS_NAMES[request.status])
        )


def _notify_requester(session, env, request, *, key, text, what, who, now) -> None:
    push = Push(key=key, text=text, template_id=env.templates.progress,
                fields=progress_fields(request, env.tz, what, who, now))
    enqueue(session, push, request.raised_by_wechat_user, now, tz=env.tz, request=request)


def acknowledge(session: Session, env: RequestEnv, request: ServiceRequest, staff: Staff, now: datetime) -> str:
    """接单: the staff member takes the request; the requester learns who and how to reach them."""
    _require_handle(staff, request)
    _require_open(request)
    if request.status == RequestStatus.ACKNOWLEDGED.value and request.assignee_staff_id == staff.id:
        return texts.ALREADY_ACKNOWLEDGED.format(number=request.id)
    previous = request.assignee_staff_id
    request.assignee = staff
    request.status = RequestStatus.ACKNOWLEDGED.value
    request.acknowledged_at = request.acknowledged_at or now
    request.updated_at = now
    event = _event(session, env, request, EventKind.ACKNOWLEDGED, now, staff=staff,
                   data={"previous_assignee_id": previous} if previous != staff.id else None)
    _notify_requester(
        session, env, request, key=f"ack:{event.id}", now=now,
        text=texts.PUSH_ACKNOWLEDGED.format(number=request.id, staff=staff.name, phone=staff.phone),
        what="已接单", who=f"{staff.name} {staff.phone}",
    )
    beneficiary = request.beneficiary
    return texts.ACKNOWLEDGED.format(number=request.id, name=beneficiary.name, phone=beneficiary.phone or "无")


def reply(session: Session, env: RequestEnv, request: ServiceRequest, staff: Staff, text: str, now: datetime) -> str:
    """回复: relay the staff member's words to the requester; a first reply also accepts the request."""
    _require_handle(staff, request)
    _require_open(request)
    if not text:
        raise DomainError(texts.REPLY_EMPTY)
    if request.status == RequestStatus.OPEN.value:
        request.status = RequestStatus.ACKNOWLEDGED.value
        request.acknowledged_at = now
        request.assignee = staff
    request.updated_at = now
    event = _event(session, env, request, EventKind.REPLY, now, staff=staff, body=text[:1000])
    _notify_requester(
        session, env, request, key=f"reply:{event.id}", now=now,
        text=texts.PUSH_REPLY.format(number=request.id, staff=staff.name, text=text[:600]),
        what=text, who=staff.name,
    )
    return texts.REPLY_SENT.format(number=request.id)


def resolve(session: Session, env: RequestEnv, request: ServiceRequest, staff: Staff, note: str, now: datetime) -> str:
    """完成: mark resolved with a note, ask the requester to rate, tell family who asked for notices."""
    _require_handle(staff, request)
    _require_open(request)
    if not note:
        raise DomainError(texts.RESOLVE_NEEDS_NOTE)
    request.status = RequestStatus.RESOLVED.value
    request.acknowledged_at = request.acknowledged_at or now
    request.resolved_at = now
    request.resolution_note = note[:1000]
    request.updated_at = now
    event = _event(session, env, request, EventKind.RESOLVED, now, staff=staff, body=note[:1000])
    _notify_requester(
        session, env, request, key=f"resolved:{event.id}", now=now,
        text=texts.PUSH_RESOLVED.format(number=request.id, note=note[:300]),
        what=f"已办好 {note}", who=staff.name,
    )
    notify_family(
        session, env, request.beneficiary, now,
        key=f"family-resolved:{event.id}",
        text=texts.PUSH_FAMILY_RESOLVED.format(name=request.beneficiary.name, note=note[:300]),
        what=f"已办好 {note}", who=staff.name, request=request,
        skip_user_id=request.raised_by_wechat_user_id,
    )
    return texts.RESOLVED.format(number=request.id)


def notify_family(session, env, beneficiary, now, *, key, text, what, who, request=None, skip_user_id=None) -> int:
    """Family notices to every active link that did not opt out; returns how many were queued."""
    links = session.scalars(
        select(FamilyLink)
        .where(FamilyLink.beneficiary_id == beneficiary.id, FamilyLink.active.is_(True), FamilyLink.notify.is_(True))
        .options(selectinload(FamilyLink.wechat_user))
    )
    queued = 0
    for link in links:
        if link.wechat_user_id == skip_user_id:
            continue
        fields = (
            progress_fields(request, env.tz, what, who, now)
            if request is not None
            else {"character_string1": beneficiary.id, "thing2": what, "thing3": who,
                  "time4": now.astimezone(env.tz).strftime("%Y-%m-%d %H:%M")}
        )
        push = Push(key=f"{key}:{link.wechat_user_id}", text=text, template_id=env.templates.progress, fields=fields)
        queued += enqueue(session, push, link.wechat_user, now, tz=env.tz, request=request)
    return queued


def reassign(session: Session, env: RequestEnv, request: ServiceRequest, staff: Staff, staff_no: str, now) -> str:
    """转派: a town officer (within the town) or city staff hands the request to someone else."""
    if not permissions.may_reassign(staff.role, staff.region_id, request.town_id):
        raise DomainError(texts.NOT_ALLOWED.format(number=request.id))
    _require_open(request)
    target = session.scalars(
        select(Staff).where(Staff.staff_no == staff_no.strip().upper(), Staff.active.is_(True))
    ).one_or_none()
    if target is None or not _works_in_town(session, target, request.town_id):
        raise DomainError(texts.STAFF_NOT_FOUND.format(staff_no=staff_no))
    previous = request.assignee_staff_id
    request.assignee = target
    request.status = RequestStatus.OPEN.value
    request.updated_at = now
    event = _event(session, env, request, EventKind.REASSIGNED, now, staff=staff,
                   data={"from_staff_id": previous, "to_staff_id": target.id})
    push = Push(
        key=f"reassigned:{event.id}",
        text=texts.PUSH_REASSIGNED.format(
            number=request.id, urgency=texts.URGENCY_NAMES[request.urgency],
            name=request.beneficiary.name, category=request.category,
        ),
        template_id=env.templates.task,
        fields=task_fields(request, env.tz, f"转派 {request.category} {request.summary}"),
    )
    enqueue(session, push, target.wechat_user, now, tz=env.tz, request=request, staff=target)
    _notify_requester(
        session, env, request, key=f"reassigned-requester:{event.id}", now=now,
        text=texts.PUSH_REASSIGNED_REQUESTER.format(number=request.id, staff=target.name, phone=target.phone),
        what="已更换负责人", who=f"{target.name} {target.phone}",
    )
    return texts.REASSIGNED.format(number=request.id, name=target.name, staff_no=target.staff_no)


def _works_in_town(session: Session, staff: Staff, town_id: int) -> bool:
    if staff.role in permissions.CITY_ROLES:
        return True
    if staff.role == StaffRole.TOWN_OFFICER.value:
        return staff.region_id == town_id
    return session.get(Region, staff.region_id).parent_id == town_id


def supervise(session: Session, env: RequestEnv, request: ServiceRequest, staff: Staff, now: datetime) -> str:
    """督办: a supervisor presses the request; whoever has it is reminded."""
    if not permissions.may_supervise(staff.role):
        raise DomainError(texts.NOT_ALLOWED.format(number=request.id))
    _require_open(request)
    event = _event(session, env, request, EventKind.SUPERVISED, now, staff=staff)
    request.updated_at = now
    assignee = request.assignee
    if assignee is not None:
        push = Push(
            key=f"supervised:{event.id}",
            text=texts.PUSH_SUPERVISED.format(number=request.id),
            template_id=env.templates.task,
            fields=task_fields(request, env.tz, f"督办 {request.category} {request.summary}"),
        )
        enqueue(session, push, assignee.wechat_user, now, tz=env.tz, request=request, staff=assignee)
    return texts.SUPERVISED.format(number=request.id, name=assignee.name if assignee else "乡镇民政办")


def comment(session: Session, env: RequestEnv, request: ServiceRequest, staff: Staff, text: str, now) -> None:
    """An internal note on the case timeline (from the dashboard); the requester is not told."""
    _require_handle(staff, request)
    if not text.strip():
        raise DomainError("请写上备注内容")
    request.updated_at = now
    _event(session, env, request, EventKind.COMMENT, now, staff=staff, body=text.strip()[:1000])


# --- requester actions -------------------------------------------------------------------------


def _require_linked(session: Session, user: WeChatUser, request: ServiceRequest) -> None:
    linked = session.scalar(
        select(FamilyLink.id).where(
            FamilyLink.wechat_user_id == user.id,
            FamilyLink.beneficiary_id == request.beneficiary_id,
            FamilyLink.active.is_(True),
        )
    )
    if linked is None and request.raised_by_wechat_user_id != user.id:
        raise DomainError(texts.NOT_YOUR_REQUEST.format(number=request.id))


def cancel(session: Session, env: RequestEnv, request: ServiceRequest, user: WeChatUser, now: datetime) -> str:
    """取消: the requester's side withdraws an open request; whoever had it is told."""
    _require_linked(session, user, request)
    if request.status not in OPEN:
        raise DomainError(texts.CANNOT_CANCEL.format(number=request.id, status=texts.STATUS_NAMES[request.status]))
    request.status = RequestStatus.CANCELLED.value
    request.cancelled_at = now
    request.updated_at = now
    event = _event(session, env, request, EventKind.CANCELLED, now, user=user)
    if request.assignee is not None:
        push = Push(
            key=f"cancelled:{event.id}",
            text=texts.PUSH_CANCELLED.format(number=request.id),
            template_id=env.templates.task,
            fields=task_fields(request, env.tz, "求助人已取消"),
        )
        enqueue(session, push, request.assignee.wechat_user, now, tz=env.tz, request=request, staff=request.assignee)
    return texts.CANCELLED.format(number=request.id)


def rate(
    session: Session, env: RequestEnv, request: ServiceRequest, user: WeChatUser, stars: int, comment: str, now
) -> str:
    """评价: after resolution, the requester's side rates 1-5; the request is then closed."""
    _require_linked(session, user, request)
    if request.status != RequestStatus.RESOLVED.value:
        if request.status == RequestStatus.CLOSED.value:
            raise DomainError(texts.REQUEST_CLOSED_ALREADY.format(number=request.id, status="评价"))
        raise DomainError(texts.CANNOT_RATE_YET.format(number=request.id))
    request.rating = stars
    request.rating_comment = comment[:500] or None
    request.status = RequestStatus.CLOSED.value
    request.closed_at = now
    request.updated_at = now
    _event(session, env, request, EventKind.RATED, now, user=user, body=comment[:500] or None, data={"rating": stars})
    return texts.RATED.format(number=request.id)


# Built once: the menu's "progress" asks for it on every click.
_REQUESTS_FOR_USER = (
    select(ServiceRequest)
    .where(
        ServiceRequest.beneficiary_id.in_(
            select(FamilyLink.beneficiary_id).where(
                FamilyLink.wechat_user_id == bindparam("user_id"), FamilyLink.active.is_(True)
            )
        ),
        ServiceRequest.status.in_([*OPEN, RequestStatus.RESOLVED.value]),
    )
    .order_by(ServiceRequest.created_at.desc())
    .limit(bindparam("limit"))
    .options(joinedload(ServiceRequest.beneficiary), joinedload(ServiceRequest.assignee))
)


def requests_for_user(session: Session, user: WeChatUser, limit: int = 10) -> list[ServiceRequest]:
    """Open and awaiting-rating requests of the beneficiaries the user is bound to, newest first."""
    return list(session.scalars(_REQUESTS_FOR_USER, {"user_id": user.id, "limit": limit}))


def tasks_for_staff(session: Session, staff: Staff, limit: int = 10) -> tuple[list[ServiceRequest], int]:
    """The staff member's open requests (urgent and oldest first) and how many there are in all."""
    where = [ServiceRequest.status.in_(OPEN)]
    if staff.role == StaffRole.ASSISTANT.value:
        where.append(ServiceRequest.assignee_staff_id == staff.id)
    elif staff.role == StaffRole.TOWN_OFFICER.value:
        where.append(ServiceRequest.town_id == staff.region_id)
    else:
        # City staff see what reached their level or was given to them.
        where.append((ServiceRequest.escalation_level >= 2) | (ServiceRequest.assignee_staff_id == staff.id))
    total = session.scalar(select(func.count()).select_from(ServiceRequest).where(*where))
    rows = session.scalars(
        select(ServiceRequest)
        .where(*where)
        .order_by((ServiceRequest.urgency == "urgent").desc(), ServiceRequest.created_at)
        .limit(limit)
        .options(selectinload(ServiceRequest.beneficiary).selectinload(Beneficiary.village))
    )
    return list(rows), total
