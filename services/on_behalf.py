"""代办: a member of staff logs a request for a beneficiary who phoned, was visited or walked in.

The request opens through `services.requests.open_request`, exactly as one sent by WeChat: the
same classification, routing, escalation ladder, events (the staff member is the actor) and task
pushes. The beneficiary's bound family members are told that staff logged it for them (with nobody
bound on WeChat, the beneficiary is told by SMS, with who handles it and their phone). The chat
command, the dashboard form and the admin API all call `log_on_behalf`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from config import policy
from models import Beneficiary, InboundMessage, ServiceRequest, Staff
from models.enums import CHANNEL_NAMES, ContactKind, PushKind, RequestCategory, RequestChannel, RequestSource, Urgency
from services import requests as request_service
from services import checkins, roster, texts
from services.errors import DomainError
from services.notify import sms_text
from services.policy import commands, permissions
from services.policy.classify import Classification, classify
from services.policy.sms import FALLBACK_PHONE

# The channels staff may log (WeChat requests come by themselves), by the word written in chat.
LOGGABLE = {name: RequestChannel(value) for value, name in CHANNEL_NAMES.items() if value != RequestChannel.WECHAT}
DEFAULT_CHANNEL = RequestChannel.PHONE
# Channels on which staff heard the beneficiary themselves: a sign of life that ends a 报平安 silence.
HEARD_FROM = frozenset({RequestChannel.PHONE, RequestChannel.HOME, RequestChannel.WALK_IN})
# The same words logged again for the same person by the same member of staff this soon are one request:
# a double tap on a slow phone, or a form sent again after going back.
SAME_LOG_WINDOW = timedelta(minutes=2)


def channel_from_word(word: str) -> RequestChannel | None:
    """`电话` -> RequestChannel.PHONE; None for a word that names no channel staff may log."""
    return LOGGABLE.get((word or "").strip())


def find_beneficiary(session: Session, staff: Staff, beneficiary_id: int) -> Beneficiary:
    """The active beneficiary with this 对象编号, if `staff` may log for them; else a DomainError saying which."""
    beneficiary = session.get(Beneficiary, beneficiary_id)
    if beneficiary is None or not beneficiary.active:
        raise DomainError(texts.LOG_NOT_FOUND.format(id=beneficiary_id))
    assignment = roster.current_assignment(session, beneficiary)
    town = beneficiary.village.parent
    if not permissions.may_log_for(staff.role, staff.id, staff.region_id,
                                   assignment.staff_id if assignment else None, town.id, town.parent_id):
        raise DomainError(texts.LOG_OUT_OF_SCOPE.format(id=beneficiary_id))
    return beneficiary


def log_on_behalf(
    session: Session,
    env: request_service.RequestEnv,
    staff: Staff,
    *,
    beneficiary_id: int,
    channel: RequestChannel,
    content: str,
    now: datetime,
    inbound: InboundMessage | None = None,
) -> ServiceRequest:
    """Open a request for a beneficiary as `staff` heard it (by phone, at home, at the office …).

    `inbound` is the staff member's own voice or text message carrying the content, when there is one.
    """
    if channel is RequestChannel.WECHAT:
        raise DomainError(f"请这样发：{commands.LOG_USAGE}")
    beneficiary = find_beneficiary(session, staff, beneficiary_id)
    data: dict = {}
    summary = (content or "").strip()
    if inbound is not None:
        summary, data = request_service.describe_message(inbound)
    if not summary:
        raise DomainError(texts.LOG_NO_CONTENT.format(id=beneficiary_id))
    if inbound is None:
        already = _just_logged(session, staff, beneficiary, summary, now)
        if already is not None:
            return already
    unheard = request_service.unheard_voice(inbound)
    if unheard:
        # As for a voice sent by WeChat: urgent until a transcript or the assignee says otherwise.
        result = Classification(RequestCategory.OTHER, Urgency(policy.UNHEARD_VOICE_URGENCY))
    else:
        result = classify(summary, now.astimezone(env.tz).month)
    request = request_service.open_request(
        session, env, beneficiary=beneficiary, classification=result, summary=summary, now=now, staff=staff,
        inbound=inbound, data={**data, "channel": channel.value}, source=RequestSource.OFFICE, channel=channel,
        urgency_reason="unheard" if unheard and result.urgency is Urgency.URGENT else None,
    )
    if channel in HEARD_FROM:
        checkins.note_contact(session, beneficiary.id, now, ContactKind.STAFF, env=env, staff=staff)
    handler = request.assignee.name if request.assignee else "乡镇民政办"
    channel_name = CHANNEL_NAMES[channel.value]
    request_service.notify_family(
        session, env, beneficiary, now, kind=PushKind.FAMILY_LOGGED, ref=request.id, request=request,
        text=texts.PUSH_FAMILY_LOGGED.format(staff=staff.name, name=beneficiary.name, channel=channel_name,
                                             summary=summary[:200], number=request.id, handler=handler),
        what=f"代办登记 {summary}", who=handler,
        sms=sms_text("received", number=request.id, name=handler, phone=handler_phone(request)),
    )
    return request


def _just_logged(session: Session, staff: Staff, beneficiary: Beneficiary, summary: str,
                 now: datetime) -> ServiceRequest | None:
    """The request `staff` logged with these words for this person within SAME_LOG_WINDOW, if any.

    The beneficiary's row is locked first (PostgreSQL), so two submissions at the same moment are
    taken one after the other and the second finds the first."""
    session.execute(select(Beneficiary.id).where(Beneficiary.id == beneficiary.id).with_for_update())
    return session.scalars(
        select(ServiceRequest).where(
            ServiceRequest.beneficiary_id == beneficiary.id,
            ServiceRequest.raised_by_staff_id == staff.id,
            ServiceRequest.source == RequestSource.OFFICE.value,
            ServiceRequest.summary == summary,
            ServiceRequest.created_at >= now - SAME_LOG_WINDOW,
        ).order_by(ServiceRequest.id.desc()).limit(1)
    ).first()


def handler_phone(request: ServiceRequest) -> str:
    """The phone to call about a request: its assignee's, else the town office's."""
    if request.assignee is not None and request.assignee.phone:
        return request.assignee.phone
    return request.beneficiary.village.parent.office_phone or FALLBACK_PHONE


def logged_reply(request: ServiceRequest) -> str:
    """What the member of staff reads once the request is logged: number, channel, category, who has it."""
    assignee = request.assignee
    return texts.LOG_OPENED.format(
        name=request.beneficiary.name, number=request.id, channel=CHANNEL_NAMES[request.channel],
        category=request.category, urgent=texts.LOG_URGENT if request.urgency == Urgency.URGENT.value else "",
        handler=texts.LOG_OPENED_HANDLER.format(name=assignee.name) if assignee else texts.LOG_OPENED_OFFICE,
    )
