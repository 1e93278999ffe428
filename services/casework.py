"""Casework: what staff and the requester's side do with a request once it is open.

Staff accept (接单), reply (回复), resolve (完成), reassign (转派), supervise (督办) and comment;
the requester or a bound relative cancels (取消) or rates (评价). Opening, routing and the
timeline writer live in `services.requests`; this module builds on them and is not imported
back. As there, every action checks permissions here (not in the chat layer), writes a request
event with its actor and time, and queues its pushes in the same transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from models import FamilyLink, Region, ServiceRequest, Staff, WeChatUser
from models.enums import ContactKind, EventKind, MediaStatus, PushKind, RequestCategory, RequestStatus, StaffRole
from services import checkins, media, texts
from services.errors import DomainError
from services.notify import Push, enqueue, progress_fields, push_key, sms_text, task_fields
from services.policy import permissions
from services.requests import OPEN, RequestEnv, notify_family, record_event, settle_unheard, task_sms
from services.scope import city_of_town

# --- staff actions -------------------------------------------------------------------------------


def _require_handle(staff: Staff, request: ServiceRequest) -> None:
    """Refuse unless the staff member may act on this request (theirs, their town's, or city staff)."""
    if not permissions.may_handle(staff.role, staff.id, staff.region_id, request.assignee_staff_id, request.town_id,
                                  city_of_town(object_session(request), request.town_id)):
        raise DomainError(texts.NOT_ALLOWED.format(number=request.id))


def _require_open(request: ServiceRequest) -> None:
    """Refuse once the request is resolved, closed or cancelled."""
    if request.status not in OPEN:
        raise DomainError(
            texts.REQUEST_CLOSED_ALREADY.format(number=request.id, status=texts.STATUS_NAMES[request.status])
        )


def _notify_requester(session, env, request, *, key, text, what, who, now) -> None:
    """Queue a progress notice to whoever raised the request on WeChat (nobody if raised at an office)."""
    push = Push(key=key, text=text, template_id=env.templates.progress,
                fields=progress_fields(request, env.tz, what, who, now))
    enqueue(session, push, request.raised_by_wechat_user, now, tz=env.tz, request=request)


def _note_check_on(session: Session, env: RequestEnv, request: ServiceRequest, staff: Staff, now: datetime) -> None:
    """Staff taking or closing a 联系 case (someone went silent) have reached them: a sign of life."""
    if request.category == RequestCategory.CHECK_ON.value:
        checkins.note_contact(session, request.beneficiary_id, now, ContactKind.STAFF, env=env, staff=staff,
                              via_case=request.id)


def acknowledge(session: Session, env: RequestEnv, request: ServiceRequest, staff: Staff, now: datetime) -> str:
    """接单: the staff member takes the request; the requester learns who and how to reach them."""
    _require_handle(staff, request)
    _require_open(request)
    if request.status == RequestStatus.ACKNOWLEDGED.value and request.assignee_staff_id == staff.id:
        return texts.ALREADY_ACKNOWLEDGED.format(number=request.id)
    previous = request.assignee_staff_id
    request.assignee = staff
    request.status = RequestStatus.ACKNOWLEDGED.value
    settle_unheard(request)
    request.acknowledged_at = request.acknowledged_at or now
    request.updated_at = now
    _note_check_on(session, env, request, staff, now)
    event = record_event(session, env, request, EventKind.ACKNOWLEDGED, now, staff=staff,
                         data={"previous_assignee_id": previous} if previous != staff.id else None)
    _notify_requester(
        session, env, request, key=push_key(PushKind.ACK, event.id), now=now,
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
        settle_unheard(request)
        request.acknowledged_at = now
        request.assignee = staff
    request.updated_at = now
    event = record_event(session, env, request, EventKind.REPLY, now, staff=staff, body=text[:1000])
    _notify_requester(
        session, env, request, key=push_key(PushKind.RELAY_REPLY, event.id), now=now,
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
    _note_check_on(session, env, request, staff, now)
    event = record_event(session, env, request, EventKind.RESOLVED, now, staff=staff, body=note[:1000])
    _notify_requester(
        session, env, request, key=push_key(PushKind.RESOLVED, event.id), now=now,
        text=texts.PUSH_RESOLVED.format(number=request.id, note=note[:300]),
        what=f"已办好 {note}", who=staff.name,
    )
    notify_family(
        session, env, request.beneficiary, now,
        kind=PushKind.FAMILY_RESOLVED, ref=event.id,
        text=texts.PUSH_FAMILY_RESOLVED.format(name=request.beneficiary.name, note=note[:300]),
        what=f"已办好 {note}", who=staff.name, request=request,
        skip_user_id=request.raised_by_wechat_user_id,
        sms=sms_text("resolved", number=request.id, note=note),
    )
    return texts.RESOLVED.format(number=request.id)


def reassign(session: Session, env: RequestEnv, request: ServiceRequest, staff: Staff, staff_no: str, now) -> str:
    """转派: a town officer (within the town) or city staff hands the request to someone else."""
    if not permissions.may_reassign(staff.role, staff.region_id, request.town_id, city_of_town(session, request.town_id)):
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
    event = record_event(session, env, request, EventKind.REASSIGNED, now, staff=staff,
                         data={"from_staff_id": previous, "to_staff_id": target.id})
    push = Push(
        key=push_key(PushKind.REASSIGNED, event.id),
        text=texts.PUSH_REASSIGNED.format(
            number=request.id, urgency=texts.URGENCY_NAMES[request.urgency],
            name=request.beneficiary.name, category=request.category,
        ),
        template_id=env.templates.task,
        fields=task_fields(request, env.tz, f"转派 {request.category} {request.summary}"),
        sms=task_sms(request, texts.SMS_TASK_REASSIGNED.format(category=request.category)),
    )
    enqueue(session, push, target.wechat_user, now, tz=env.tz, request=request, staff=target, sms=env.sms)
    # The new assignee hears and sees what was sent, as the first one did.
    for item in media.for_request(session, request.id):
        if item.status == MediaStatus.STORED.value:
            media.forward_to_assignee(session, item, now, tz=env.tz)
    _notify_requester(
        session, env, request, key=push_key(PushKind.REASSIGNED_REQUESTER, event.id), now=now,
        text=texts.PUSH_REASSIGNED_REQUESTER.format(number=request.id, staff=target.name, phone=target.phone),
        what="已更换负责人", who=f"{target.name} {target.phone}",
    )
    return texts.REASSIGNED.format(number=request.id, name=target.name, staff_no=target.staff_no)


def _works_in_town(session: Session, staff: Staff, town_id: int) -> bool:
    """Whether a request of the town may be handed to this staff member (city staff anywhere in their city)."""
    if staff.role == StaffRole.PROVINCE_ADMIN.value:
        return True
    if staff.role in permissions.CITY_ROLES:
        return staff.region_id == city_of_town(session, town_id)
    if staff.role == StaffRole.TOWN_OFFICER.value:
        return staff.region_id == town_id
    return session.get(Region, staff.region_id).parent_id == town_id


def supervise(session: Session, env: RequestEnv, request: ServiceRequest, staff: Staff, now: datetime) -> str:
    """督办: a supervisor presses the request; whoever has it is reminded."""
    if not permissions.may_supervise(staff.role, staff.region_id, city_of_town(session, request.town_id)):
        raise DomainError(texts.NOT_ALLOWED.format(number=request.id))
    _require_open(request)
    event = record_event(session, env, request, EventKind.SUPERVISED, now, staff=staff)
    request.updated_at = now
    assignee = request.assignee
    if assignee is not None:
        push = Push(
            key=push_key(PushKind.SUPERVISED, event.id),
            text=texts.PUSH_SUPERVISED.format(number=request.id),
            template_id=env.templates.task,
            fields=task_fields(request, env.tz, f"督办 {request.category} {request.summary}"),
            sms=task_sms(request, texts.SMS_TASK_SUPERVISED.format(category=request.category)),
        )
        enqueue(session, push, assignee.wechat_user, now, tz=env.tz, request=request, staff=assignee, sms=env.sms)
    return texts.SUPERVISED.format(number=request.id, name=assignee.name if assignee else "乡镇民政办")


def comment(session: Session, env: RequestEnv, request: ServiceRequest, staff: Staff, text: str, now) -> None:
    """An internal note on the case timeline (from the dashboard); the requester is not told."""
    _require_handle(staff, request)
    if not text.strip():
        raise DomainError("请写上备注内容")
    request.updated_at = now
    record_event(session, env, request, EventKind.COMMENT, now, staff=staff, body=text.strip()[:1000])


# --- requester actions -------------------------------------------------------------------------


def _require_linked(session: Session, user: WeChatUser, request: ServiceRequest) -> None:
    """Refuse unless the user raised the request or is bound to its beneficiary."""
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
    event = record_event(session, env, request, EventKind.CANCELLED, now, user=user)
    if request.assignee is not None:
        push = Push(
            key=push_key(PushKind.CANCELLED, event.id),
            text=texts.PUSH_CANCELLED.format(number=request.id),
            template_id=env.templates.task,
            fields=task_fields(request, env.tz, "求助人已取消"),
            sms=sms_text("cancelled", number=request.id, name=request.beneficiary.name),
        )
        enqueue(session, push, request.assignee.wechat_user, now, tz=env.tz, request=request, staff=request.assignee,
                sms=env.sms)
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
    record_event(
        session, env, request, EventKind.RATED, now, user=user, body=comment[:500] or None, data={"rating": stars}
    )
    return texts.RATED.format(number=request.id)
