"""Help requests: open and route them, add follow-up messages, notify family (listings: `services.request_lists`).

Also the pieces casework builds on: `RequestEnv`, `get_request`, the timeline writer
`record_event` and `notify_family`. What staff and the requester do with an open request
(accept, reply, resolve, reassign, supervise, comment, cancel, rate) is in `services.casework`,
which imports this module and is never imported by it. Opening writes a request event with its
actor and time and queues its pushes in the same transaction, as every action there does.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, inspect, select
from sqlalchemy.orm import Session, joinedload, selectinload

from config import policy
from models import (
    Beneficiary,
    FamilyLink,
    InboundMessage,
    RequestEvent,
    ServiceRequest,
    Staff,
    WeChatUser,
)
from models.db import insert_loaded
from models.enums import (
    OPEN_STATUSES,
    ActorKind,
    EventKind,
    PushKind,
    RequestChannel,
    RequestSource,
    RequestStatus,
    StaffRole,
    Urgency,
)
from services import media, responsibility, roster, texts
from services.errors import DomainError
from services.notify import (Delivery, Push, SmsPlan, Templates, add_events, enqueue, outbox_rows, progress_fields,
                             push_event, push_key, sms_text, task_fields, write_held_events, write_outbox)
from services.policy import ladder
from services.policy.classify import Classification
from services.summary_links import ListLinks

OPEN = tuple(s.value for s in OPEN_STATUSES)


@dataclass(frozen=True)
class RequestEnv:
    """What request services need besides the session: local time zone, templates, merge window."""

    tz: ZoneInfo
    templates: Templates
    merge_hours: int = 6
    # Signs links to a summary's whole list (the mobile list page); None where no page is served.
    links: ListLinks | None = None
    # Whether a speech recogniser is configured (ASR_URL): voice without WeChat's recognition waits for it.
    asr_on: bool = False
    # When pushes also or instead go by SMS; None: SMS is off.
    sms: SmsPlan | None = None


@dataclass(frozen=True)
class Routing:
    """Who gets a new request: the assignee, and everyone to alert, with the level it went to."""

    assignee: Staff | None
    alert: list[Staff]
    level: str


# --- reading -------------------------------------------------------------------------------------


def next_escalation(request: ServiceRequest, tz: ZoneInfo):
    """When the escalation scan should next look at this request (None: never again)."""
    facts = ladder.RequestFacts(request.status, request.created_at, request.escalation_level,
                                request.escalation_repeats or 0)
    steps = policy.ESCALATION_LADDER[ladder.ladder_key(request.category, request.urgency)]
    return ladder.next_check_at(facts, steps, tz, policy.SERVICE_HOURS)


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
    if kind == "link":
        title, url = (payload.get("Title") or "").strip(), (payload.get("Url") or "").strip()
        data.update(title=title, url=url, description=(payload.get("Description") or "").strip())
        return " ".join(part for part in ("[链接]", title, url) if part), data
    if kind == "miniprogrampage":
        title, page = (payload.get("Title") or "").strip(), (payload.get("PagePath") or "").strip()
        data.update(title=title, app_id=payload.get("AppId"), page_path=page)
        return " ".join(part for part in ("[小程序]", title, page) if part), data
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


def route(session: Session, env: RequestEnv, case: responsibility.Case, beneficiary: Beneficiary, now) -> Routing:
    """The assigned assistant; else ONE person up the 包联 chain: the village's responsible town
    officer, the deputy, the category's city liaison (for an urgent case out of hours, the person on
    duty), the deputy liaison, then any city supervisor or administrator."""
    if "current_assignment" in inspect(beneficiary).unloaded:
        assignment = roster.current_assignment(session, beneficiary)
    else:
        # Loaded with the sender (services.identity): no query.
        assignment = beneficiary.current_assignment
    if assignment is not None and assignment.staff.active:
        return Routing(assignment.staff, [assignment.staff], "assistant")
    target = responsibility.alert_target(session, case, "responsible_officer", now, env.tz, cache={},
                                         reachable_only=False)
    if target.staff is None:
        return Routing(None, [], "none")
    return Routing(target.staff, [target.staff], "town" if target.place in responsibility.OFFICER_PLACES else "city")


def fallback_chain(session: Session, env: RequestEnv, request: ServiceRequest, now):
    """Who to alert next, one person at a time up the 包联 chain, when the people before could not
    be reached on WeChat."""
    cache: dict = {}
    # Lazily: most requests reach the first person, and each place costs queries.
    for staff in responsibility.chain_people(session, responsibility.case_of(session, request, cache=cache), now,
                                             env.tz, cache=cache):
        yield [staff]


# Built once: it runs for nearly every message a beneficiary's family sends.
_MERGEABLE = (
    select(ServiceRequest)
    .where(
        ServiceRequest.beneficiary_id == bindparam("beneficiary_id"),
        ServiceRequest.status.in_(OPEN),
        ServiceRequest.created_at >= bindparam("since", type_=ServiceRequest.created_at.type),
    )
    .order_by(ServiceRequest.created_at.desc())
    .limit(1)
)


# session.info key: beneficiary id -> the requests raised for them in the last hours, loaded at once for
# a group of messages (`know_recent_requests`), where `mergeable_request` then looks instead of asking.
RECENT_KNOWN = "recent_requests_known"


def know_recent_requests(session: Session, beneficiary_ids: Iterable[int], now: datetime, hours: int) -> None:
    """Load in one query, for `mergeable_request`, the requests of these beneficiaries raised in the last
    `hours` (any status; `open_request` adds new ones). On PostgreSQL they are locked in id order: two
    inbox workers whose groups share people deadlocked locking the cases in their messages' order."""
    ids = sorted(set(beneficiary_ids))
    known: dict[int, list[ServiceRequest]] = {b: [] for b in ids}
    if ids:
        since = now - timedelta(hours=hours)
        query = select(ServiceRequest).where(ServiceRequest.beneficiary_id.in_(ids), ServiceRequest.created_at >= since)
        if session.get_bind().dialect.name == "postgresql":
            query = query.order_by(ServiceRequest.id).with_for_update(key_share=True)
        for request in session.scalars(query):
            known[request.beneficiary_id].append(request)
    session.info[RECENT_KNOWN] = known


def mergeable_request(session: Session, beneficiary_id: int, now: datetime, hours: int) -> ServiceRequest | None:
    """The beneficiary's newest still-open request from the last `hours`, to add a message to."""
    since = now - timedelta(hours=hours)
    known = session.info.get(RECENT_KNOWN, {}).get(beneficiary_id)
    if known is not None:
        return max((r for r in known if r.status in OPEN and r.created_at >= since), key=lambda r: r.created_at,
                   default=None)
    return session.scalars(_MERGEABLE, {"beneficiary_id": beneficiary_id, "since": since}).first()


def unheard_voice(inbound: InboundMessage | None) -> bool:
    """True for a voice message that came without WeChat's recognition: nobody knows yet what it says."""
    if inbound is None or inbound.msg_type != "voice":
        return False
    return not ((inbound.payload or {}).get("Recognition") or "").strip()


def settle_unheard(request: ServiceRequest) -> None:
    """A member of staff took a case that was urgent only because nobody had heard it: back to normal."""
    if request.urgency_reason == "unheard":
        request.urgency = Urgency.NORMAL.value
        request.urgency_reason = None


def case_url(env: RequestEnv, request: ServiceRequest) -> str | None:
    """The mobile case page a task push opens (`/m/cases/<id>`), where links are served."""
    return f"{env.links.base_url.rstrip('/')}/m/cases/{request.id}" if env.links is not None else None


def handler_line(request: ServiceRequest) -> str:
    """`负责人：王芳，电话 138…，会尽快联系您。` for replies to the requester."""
    staff = request.assignee
    if staff is None:
        return texts.REQUEST_OPENED_OFFICE
    return texts.REQUEST_OPENED_HANDLER.format(name=staff.name, phone=staff.phone)


# --- timeline and opening -----------------------------------------------------------------------


def record_event(
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
    """Add a timeline entry for the request, by staff, a WeChat user or the system (neither given)."""
    actor = ActorKind.STAFF if staff else ActorKind.WECHAT_USER if user else ActorKind.SYSTEM
    # Entries held back go first, so the timeline keeps the order things happened in.
    write_held_events(session)
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
    channel: RequestChannel = RequestChannel.WECHAT,
    visit_id: int | None = None,
    urgency_reason: str | None = None,
    outbox: list[dict] | None = None,
) -> ServiceRequest:
    """Open a request, route it to the one responsible, and queue the alert; never dropped.

    `urgency_reason` "unheard" marks a voice request treated as urgent until someone hears it.
    `outbox`: where to leave the task pushes' outbox rows for the caller to insert in the same
    transaction, with rows of its own in one INSERT (the inbox: with the reply); None: inserted here.
    The request, its timeline (created, then one entry per push) and the pushes are three INSERTs.
    """
    case = responsibility.Case(beneficiary.village_id, beneficiary.village.parent_id,
                               beneficiary.village.parent.parent_id, classification.category.value,
                               classification.urgency.value == "urgent")
    routing = route(session, env, case, beneficiary, now)
    request = ServiceRequest(
        beneficiary=beneficiary,
        village_id=beneficiary.village_id,
        town_id=beneficiary.village.parent_id,
        source=source.value,
        channel=channel.value,
        raised_by_wechat_user_id=user.id if user else None,
        raised_by_staff_id=staff.id if staff else None,
        visit_id=visit_id,
        category=classification.category.value,
        urgency=classification.urgency.value,
        urgency_reason=urgency_reason,
        status=RequestStatus.OPEN.value,
        summary=summary[:500],
        assignee=routing.assignee,
        # Given with the relationships: the INSERT below writes columns, not relationships.
        beneficiary_id=beneficiary.id,
        assignee_staff_id=routing.assignee.id if routing.assignee else None,
        escalation_level=0,
        escalation_repeats=0,
        created_at=now,
        updated_at=now,
    )
    # Known before the INSERT, so it goes in the row rather than an UPDATE right after it.
    request.next_escalation_at = next_escalation(request, env.tz)
    insert_loaded(session, request)
    created = {
        "request_id": request.id,
        "kind": EventKind.CREATED.value,
        "actor_kind": (ActorKind.STAFF if staff else ActorKind.WECHAT_USER if user else ActorKind.SYSTEM).value,
        "actor_staff_id": staff.id if staff else None,
        "actor_wechat_user_id": user.id if user else None,
        "inbound_message_id": inbound.id if inbound else None,
        "body": summary,
        "data": {**(data or {}), "routed_to": routing.level,
                 "emergency_numbers": list(classification.emergency_numbers)},
        "created_at": now,
    }
    add_events(session, [created, *_alert_new_request(session, env, request, routing.alert, now, outbox)])
    known = session.info.get(RECENT_KNOWN, {}).get(beneficiary.id)
    if known is not None:
        known.append(request)
    if inbound is not None:
        # Set after the INSERTs above, so it goes out with the message's own UPDATE (handled_at).
        inbound.request_id = request.id
        # After the task push, so the voice or photo reaches the assignee right behind it.
        media.queue_for_message(session, inbound, request, now, asr_on=env.asr_on)
    return request


def _alert_new_request(session: Session, env: RequestEnv, request: ServiceRequest, alert: list[Staff], now,
                       outbox: list[dict] | None) -> list[dict]:
    """Push the new task to everyone alerted; if none can be reached on WeChat, go up a level.

    The timeline rows of the pushes queued, for the caller to write; the outbox rows go to `outbox`
    when given (a new request's keys are new, so each row will be created), else are inserted here.
    """
    for staff_list in itertools.chain([alert], fallback_chain(session, env, request, now)):
        deliveries = [Delivery(_task_push(env, request, staff), staff.wechat_user, request, staff)
                      for staff in staff_list]
        if outbox is None:
            queued = write_outbox(session, deliveries, now, tz=env.tz, sms=env.sms)
        else:
            rows, keys = outbox_rows(deliveries, now, tz=env.tz, sms=env.sms)
            outbox.extend(rows)
            queued = [bool(mine) for mine in keys]
        if any(queued):
            return [push_event(delivery, now) for delivery, new in zip(deliveries, queued) if new]
    return []


def _task_push(env: RequestEnv, request: ServiceRequest, staff: Staff) -> Push:
    """The push telling a member of staff about a new task."""
    url = case_url(env, request)
    return Push(
        key=push_key(PushKind.TASK, request.id, staff.id),
        text=_new_task_text(request) + (f"\n{texts.CASE_LINK.format(url=url)}" if url else ""),
        template_id=env.templates.task,
        fields=task_fields(request, env.tz, f"{request.category} {request.summary}"),
        url=url,
        sms=task_sms(request),
    )


# service_requests.urgency_reason of a case the emergency button opened (services/sos.py).
SOS_REASON = "sos"


def task_sms(request: ServiceRequest, state: str | None = None) -> dict:
    """The SMS form of a task push to staff (template `task`): number, name, village and what is asked;
    a case the emergency button opened is first told by `sos`, which also goes alongside WeChat."""
    beneficiary = request.beneficiary
    if state is None and request.urgency_reason == SOS_REASON:
        return sms_text("sos", number=request.id, name=beneficiary.name, village=beneficiary.village.name)
    return sms_text("task", number=request.id, name=beneficiary.name, village=beneficiary.village.name,
                    what=state or request.category)


def _new_task_text(request: ServiceRequest) -> str:
    """The plain-text push a staff member gets for a new task."""
    beneficiary = request.beneficiary
    return texts.PUSH_NEW_TASK.format(
        number=request.id,
        urgency=texts.URGENCY_NAMES[request.urgency],
        name=beneficiary.name,
        village=beneficiary.village.name,
        category=request.category,
        summary=request.summary[:200],
    )


def append_message(session: Session, env: RequestEnv, request: ServiceRequest, user: WeChatUser,
                   inbound: InboundMessage, now) -> None:
    """Add a follow-up message to an open request and tell whoever has it.

    A voice nobody has understood, added to a case nobody has taken yet, makes it urgent as a new
    one would be: it may be the words that matter most."""
    body, data = describe_message(inbound)
    if (unheard_voice(inbound) and request.status == RequestStatus.OPEN.value
            and request.urgency != policy.UNHEARD_VOICE_URGENCY):
        request.urgency, request.urgency_reason = policy.UNHEARD_VOICE_URGENCY, "unheard"
    event = record_event(
        session, env, request, EventKind.MESSAGE, now, user=user, inbound=inbound, body=body, data=data
    )
    inbound.request_id = request.id
    request.updated_at = now
    if request.assignee is not None:
        staff = request.assignee
        push = Push(
            key=push_key(PushKind.MESSAGE, event.id, staff.id),
            text=texts.PUSH_NEW_MESSAGE.format(number=request.id, summary=body[:200]),
            template_id=env.templates.task,
            fields=task_fields(request, env.tz, f"新消息 {body}"),
            # By SMS only that there is a message, never its words; several in a row (a voice, a
            # photo, a line of text) are one SMS an hour for the case, not one each.
            sms=task_sms(request, texts.SMS_TASK_MESSAGE),
            sms_key=push_key(PushKind.MESSAGE, "case", request.id, staff.id, f"{now.astimezone(env.tz):%Y-%m-%dT%H}"),
        )
        enqueue(session, push, staff.wechat_user, now, tz=env.tz, request=request, staff=staff, sms=env.sms)
    media.queue_for_message(session, inbound, request, now, asr_on=env.asr_on)


# --- family notices ------------------------------------------------------------------------------


def notify_family(
    session, env, beneficiary, now, *, kind: PushKind, ref: int, text, what, who, request=None, skip_user_id=None,
    sms: dict | None = None,
) -> int:
    """Family notices to every active link that did not opt out; returns how many were queued.

    Each notice's key is the kind, `ref` (what caused it: an event or a visit) and the family member.
    `sms` (`sms_text(...)`) goes instead to the beneficiary's own phone when nobody is bound on WeChat.
    """
    links = session.scalars(
        select(FamilyLink)
        .where(FamilyLink.beneficiary_id == beneficiary.id, FamilyLink.active.is_(True))
        .options(selectinload(FamilyLink.wechat_user))
    ).all()
    if not links and sms is not None and env.sms is not None and beneficiary.phone:
        # Nobody (the beneficiary included) is bound on WeChat: the notice goes to their own phone.
        push = Push(key=push_key(kind, ref, "phone"), text=text, template_id=env.templates.progress,
                    fields={}, sms=sms)
        return int(enqueue(session, push, None, now, tz=env.tz, request=request, sms=env.sms,
                           phone=beneficiary.phone))
    queued = 0
    for link in links:
        # One that opted out of notices is bound all the same, so no SMS goes either.
        if link.wechat_user_id == skip_user_id or not link.notify:
            continue
        fields = (
            progress_fields(request, env.tz, what, who, now)
            if request is not None
            else {"character_string1": beneficiary.id, "thing2": what, "thing3": who,
                  "time4": now.astimezone(env.tz).strftime("%Y-%m-%d %H:%M")}
        )
        push = Push(key=push_key(kind, ref, link.wechat_user_id), text=text, template_id=env.templates.progress,
                    fields=fields)
        queued += enqueue(session, push, link.wechat_user, now, tz=env.tz, request=request)
    return queued
