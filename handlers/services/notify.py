"""Pushes: outbox rows written in the same transaction as the change that causes them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from config import policy
from handlers.policy.hours import release_time
from handlers.policy.push import template_data
from models import OutboxMessage, RequestEvent, ServiceRequest, Staff, WeChatUser
from models.db import insert_ignoring_conflicts
from models.enums import ActorKind, EventKind, OutboxKind, OutboxStatus, Urgency


@dataclass(frozen=True)
class Templates:
    """The template ids chosen in the WeChat console."""

    task: str
    progress: str


@dataclass(frozen=True)
class Push:
    """One message to one WeChat user: full text for a customer-service message, fields for a template."""

    key: str
    text: str
    template_id: str
    fields: dict[str, object]


def local_time(moment: datetime, tz: ZoneInfo) -> str:
    """`2026-12-01 09:00` in local time, as template time fields want it."""
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def task_fields(request: ServiceRequest, tz: ZoneInfo, what: str) -> dict[str, object]:
    """Template fields of a task or alert to staff."""
    beneficiary = request.beneficiary
    return {
        "character_string1": request.id,
        "thing2": f"{beneficiary.name} {beneficiary.village.name}",
        "thing3": what,
        "phrase4": "紧急" if request.urgency == "urgent" else "一般",
        "time5": local_time(request.created_at, tz),
    }


def progress_fields(request: ServiceRequest, tz: ZoneInfo, what: str, who: str, now: datetime) -> dict[str, object]:
    """Template fields of a progress notice to a requester or family member."""
    return {
        "character_string1": request.id,
        "thing2": what,
        "thing3": who,
        "time4": local_time(now, tz),
    }


def enqueue(
    session: Session,
    push: Push,
    recipient: WeChatUser | None,
    now: datetime,
    *,
    tz: ZoneInfo,
    request: ServiceRequest | None = None,
    staff: Staff | None = None,
    urgent: bool | None = None,
) -> bool:
    """Queue a push once per idempotency key; False when there is nobody to reach or it was queued before.

    Non-urgent pushes made in quiet hours wait until the morning; urgent ones (by default, those
    about an urgent request) go at once.
    """
    if recipient is None or not recipient.subscribed:
        return False
    if urgent is None:
        urgent = request is not None and request.urgency == Urgency.URGENT.value
    send_at = now if urgent else release_time(now, tz, policy.QUIET_HOURS)
    stmt = (
        insert_ignoring_conflicts(session, OutboxMessage)
        .values(
            idempotency_key=push.key[:160],
            recipient_openid=recipient.openid,
            recipient_staff_id=staff.id if staff else None,
            request_id=request.id if request else None,
            # The dispatcher decides at send time whether the customer-service window is open.
            kind=OutboxKind.CUSTOM.value,
            payload={
                "text": push.text,
                "template": {"template_id": push.template_id, "data": template_data(push.fields)},
            },
            status=OutboxStatus.PENDING.value,
            attempts=0,
            next_attempt_at=send_at,
            created_at=now,
        )
        .returning(OutboxMessage.id)
    )
    created = session.execute(stmt).scalar_one_or_none() is not None
    if created and request is not None:
        session.add(
            RequestEvent(
                request_id=request.id,
                kind=EventKind.PUSH.value,
                actor_kind=ActorKind.SYSTEM.value,
                data={"key": push.key, "to_staff_id": staff.id if staff else None, "to_user_id": recipient.id},
                created_at=now,
            )
        )
    return created
