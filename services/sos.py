"""一键紧急求助: the emergency menu button opens an urgent case at once and alerts, in the same
transaction, the assistant (the case's task push) and the village's two town officers; a second tap
within the merge window adds to that case; the place the sender shares is attached to it once.

The officers' alert is the one the case's ladder would send them later, under the ladder's own
idempotency key (`services.escalation.rung_key`): when the rung that names them comes due, its push
to them is already in the outbox and is not queued again, while the rest of the rung (the
assignee's reminder, the requester's notice) and the later rungs go as for any urgent case.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from config import policy
from models import Beneficiary, InboundMessage, OutboxMessage, RequestEvent, ServiceRequest, WeChatUser
from models.enums import EventKind, PushKind, RequestCategory, Urgency
from services import requests as request_service
from services import responsibility, texts
from services.cards import EMERGENCY_NUMBERS
from services.case_media import Location
from services.escalation import rung_key
from services.notify import SMS_URGENT, Delivery, Push, enqueue, enqueue_many, push_key, task_fields
from services.policy import ladder
from services.policy.classify import Classification

# service_requests.urgency_reason of a case the button opened: how a second tap and a shared place find it.
SOS_REASON = request_service.SOS_REASON
# Nobody knows yet what happened (a fall, a fire, a stranger at the door): 其他 belongs to civil
# affairs, the department that answers for the person; staff file it under its kind once they know.
SOS_CATEGORY = RequestCategory.OTHER
# Who hears at once besides the assignee: the village's town officers, by their place in the 包联 chain.
OFFICER_ROLES = ("responsible_officer", "deputy_officer")
# Two places this close (degrees, about a metre) are one: the location_select event and the location
# message WeChat sends with it carry the same point.
SAME_PLACE = 1e-5


def numbers_line() -> str:
    """`120（急救）、110（报警）、119（火警）`, as the care card prints them."""
    return "、".join(texts.SOS_NUMBER.format(number=number, what=what) for number, what in EMERGENCY_NUMBERS)


def open_case(session: Session, beneficiary_ids: list[int], now: datetime, hours: int) -> ServiceRequest | None:
    """The newest still-open case the button opened for one of these beneficiaries in the last `hours`."""
    if not beneficiary_ids:
        return None
    return session.scalars(
        select(ServiceRequest)
        .where(
            ServiceRequest.beneficiary_id.in_(beneficiary_ids),
            ServiceRequest.urgency_reason == SOS_REASON,
            ServiceRequest.status.in_(request_service.OPEN),
            ServiceRequest.created_at >= now - timedelta(hours=hours),
        )
        .order_by(ServiceRequest.created_at.desc(), ServiceRequest.id.desc())
        .limit(1)
    ).first()


def raise_sos(
    session: Session, env: request_service.RequestEnv, beneficiary: Beneficiary, user: WeChatUser,
    inbound: InboundMessage, now: datetime,
) -> tuple[ServiceRequest, bool]:
    """Open the urgent case and alert everyone at once, or add a repeat tap to the open one; (case, opened now)."""
    existing = open_case(session, [beneficiary.id], now, env.merge_hours)
    if existing is not None:
        _add_repeat(session, env, existing, user, inbound, now)
        return existing, False
    numbers = tuple(number for number, _ in EMERGENCY_NUMBERS)
    request = request_service.open_request(
        session, env, beneficiary=beneficiary, classification=Classification(SOS_CATEGORY, Urgency.URGENT, numbers),
        summary=texts.SOS_SUMMARY, now=now, user=user, inbound=inbound, data={"msg_type": "event", "sos": True},
        urgency_reason=SOS_REASON,
    )
    _alert_officers(session, env, request, now)
    return request, True


def _alert_officers(session: Session, env: request_service.RequestEnv, request: ServiceRequest, now: datetime) -> None:
    """Push the case to the village's responsible and deputy town officers now, each under the key of
    the first rung of the case's ladder that names their role, so that rung does not push them again."""
    steps = policy.ESCALATION_LADDER[ladder.ladder_key(request.category, request.urgency)]
    # Whoever the task push already reached (the assistant, or an officer it fell back to) hears once.
    told = set(session.scalars(
        select(OutboxMessage.recipient_staff_id)
        .where(OutboxMessage.request_id == request.id, OutboxMessage.recipient_staff_id.is_not(None))
    ))
    cache: dict = {}
    case = responsibility.case_of(session, request, cache=cache)
    # As the ladder's rungs choose the person (services.escalation): with SMS on, a phone will do.
    by_sms = env.sms is not None and SMS_URGENT in env.sms.templates
    url = request_service.case_url(env, request)
    beneficiary = request.beneficiary
    assignee = request.assignee.name if request.assignee is not None else texts.SOS_OFFICE
    deliveries = []
    for role in OFFICER_ROLES:
        target = responsibility.alert_target(session, case, role, now, env.tz, cache=cache, by_sms=by_sms)
        # Only the town's officers: where a role has nobody in the town, the ladder goes up the chain in time.
        if target.staff is None or target.place not in responsibility.OFFICER_PLACES or target.staff.id in told:
            continue
        told.add(target.staff.id)
        responsibility.log_fallback(request.id, target, "sos")
        level = next((s.level for s in steps if role in s.notify and s.condition == "not_accepted"), None)
        key = (rung_key(request.id, level, 0, target.staff.id) if level is not None
               else push_key(PushKind.URGENT_TASK, request.id, target.staff.id))
        text = "\n".join(part for part in (
            texts.PUSH_SOS_OFFICER.format(number=request.id, name=beneficiary.name, village=beneficiary.village.name,
                                          assignee=assignee),
            texts.ESCALATION_ROLE[target.place].format(village=beneficiary.village.name, department=""),
            texts.CASE_LINK.format(url=url) if url else "",
        ) if part)
        push = Push(key=key, text=text, template_id=env.templates.task,
                    fields=task_fields(request, env.tz, texts.SMS_TASK_SOS), url=url,
                    sms=request_service.task_sms(request))
        deliveries.append(Delivery(push, target.staff.wechat_user, request, target.staff))
    enqueue_many(session, deliveries, now, tz=env.tz, sms=env.sms)


def _add_repeat(
    session: Session, env: request_service.RequestEnv, request: ServiceRequest, user: WeChatUser,
    inbound: InboundMessage, now: datetime,
) -> None:
    """A second tap: on the timeline, and one message about it to whoever has the case, however many taps."""
    request_service.record_event(session, env, request, EventKind.MESSAGE, now, user=user, inbound=inbound,
                                 body=texts.SOS_AGAIN, data={"msg_type": "event", "sos": "again"})
    inbound.request_id = request.id
    request.updated_at = now
    staff = request.assignee
    if staff is None:
        return
    beneficiary = request.beneficiary
    url = request_service.case_url(env, request)
    push = Push(key=push_key(PushKind.SOS_REPEAT, request.id, staff.id),
                text=texts.PUSH_SOS_REPEAT.format(number=request.id, name=beneficiary.name),
                template_id=env.templates.task, fields=task_fields(request, env.tz, texts.SOS_AGAIN), url=url,
                sms=request_service.task_sms(request, texts.SMS_TASK_SOS_AGAIN))
    enqueue(session, push, staff.wechat_user, now, tz=env.tz, request=request, staff=staff, sms=env.sms)


# --- the place the sender shares -------------------------------------------------------------------


def place_of(inbound: InboundMessage) -> dict | None:
    """The place a location message or a location_select event carries, as case timelines keep it
    (`x` latitude, `y` longitude, `scale`, `label`, `poiname`); None without valid coordinates."""
    payload = inbound.payload or {}
    fields = payload.get("SendLocationInfo") if inbound.msg_type == "event" else payload
    if not isinstance(fields, dict):
        return None
    try:
        latitude, longitude = float(fields.get("Location_X")), float(fields.get("Location_Y"))
    except (TypeError, ValueError):
        return None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        return None
    place = {"x": fields.get("Location_X"), "y": fields.get("Location_Y"), "scale": fields.get("Scale"),
             "label": str(fields.get("Label") or "")[:200]}
    if fields.get("Poiname"):
        place["poiname"] = str(fields["Poiname"])[:200]
    return place


def attach_place(
    session: Session, env: request_service.RequestEnv, request: ServiceRequest, user: WeChatUser,
    inbound: InboundMessage, place: dict, now: datetime,
) -> bool:
    """Put a shared place on the case and send it with its map link to whoever has it; once per place
    (the location_select event and its location message are one). True when it was new."""
    if session.get_bind().dialect.name == "postgresql":
        # The event and the message may be handled at once: the second waits here and then sees the first.
        session.execute(select(ServiceRequest.id).where(ServiceRequest.id == request.id).with_for_update())
    inbound.request_id = request.id
    if any(_same_place(place, known) for known in _places_on(session, request.id)):
        return False
    label = place.get("poiname") or place.get("label") or ""
    event = request_service.record_event(
        session, env, request, EventKind.MESSAGE, now, user=user, inbound=inbound,
        body=f"[位置] {label}".strip(), data={"msg_type": inbound.msg_type, "location": place},
    )
    request.updated_at = now
    staff = request.assignee
    if staff is not None:
        url = Location(float(place["x"]), float(place["y"]), label, now).map_url
        push = Push(key=push_key(PushKind.MESSAGE, event.id, staff.id),
                    text=texts.PUSH_SOS_LOCATION.format(number=request.id, name=request.beneficiary.name,
                                                        label=label or "—", url=url),
                    template_id=env.templates.task, fields=task_fields(request, env.tz, f"位置 {label}"), url=url,
                    # By SMS only that a place came (never where: it is what the sender shared), in the one
                    # SMS an hour a case's follow-up messages share.
                    sms=request_service.task_sms(request, texts.SMS_TASK_SOS_PLACE),
                    sms_key=push_key(PushKind.MESSAGE, "case", request.id, staff.id,
                                     f"{now.astimezone(env.tz):%Y-%m-%dT%H}"))
        enqueue(session, push, staff.wechat_user, now, tz=env.tz, request=request, staff=staff, sms=env.sms)
    return True


def _places_on(session: Session, request_id: int) -> list[dict]:
    """The places already on a case's timeline."""
    data = session.scalars(
        select(RequestEvent.data)
        .where(RequestEvent.request_id == request_id, RequestEvent.kind == EventKind.MESSAGE.value)
    )
    return [d["location"] for d in data if isinstance(d, dict) and isinstance(d.get("location"), dict)]


def _same_place(a: dict, b: dict) -> bool:
    """Whether two shared places are the same point."""
    try:
        return (abs(float(a["x"]) - float(b["x"])) < SAME_PLACE and abs(float(a["y"]) - float(b["y"])) < SAME_PLACE)
    except (KeyError, TypeError, ValueError):
        return False
