"""The liaisons' morning digest: urgent cases the person on duty had in their place overnight.

Outside office hours an urgent alert meant for a department's liaison goes to the city supervisor
on duty instead (`services.responsibility`); the rung's timeline entry names the liaison
(`on_duty_for`). Each morning, with the town digests, every such liaison gets one push listing
those cases, so the responsible person knows what happened in their name.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from models import Beneficiary, RequestEvent, ServiceRequest, Staff
from models.enums import EventKind, PushKind, Urgency
from services import summaries, texts
from services.notify import Delivery, digest_sms, enqueue_many, push_key
from services.requests import RequestEnv

DIGEST_LINES = 5


def liaison_digests(session: Session, env: RequestEnv, now: datetime) -> int:
    """One push per liaison listing the urgent cases the person on duty covered for them in the last
    24 hours; returns how many were queued."""
    rows = session.execute(
        select(RequestEvent.request_id, RequestEvent.data)
        .join(ServiceRequest, ServiceRequest.id == RequestEvent.request_id)
        .where(RequestEvent.kind == EventKind.ESCALATED.value, ServiceRequest.urgency == Urgency.URGENT.value,
               RequestEvent.created_at >= now - timedelta(hours=24), RequestEvent.created_at < now)
        .order_by(RequestEvent.id)
    ).all()
    covered: dict[int, list[int]] = {}
    for request_id, data in rows:
        liaison_id = (data or {}).get("on_duty_for")
        if liaison_id and request_id not in covered.setdefault(liaison_id, []):
            covered[liaison_id].append(request_id)
    if not covered:
        return 0
    requests = {
        r.id: r for r in session.scalars(
            select(ServiceRequest).where(ServiceRequest.id.in_({i for ids in covered.values() for i in ids}))
            .options(selectinload(ServiceRequest.beneficiary).selectinload(Beneficiary.village))
        )
    }
    liaisons = session.scalars(
        select(Staff).where(Staff.id.in_(list(covered)), Staff.active.is_(True)).options(selectinload(Staff.wechat_user))
    )
    today = now.astimezone(env.tz).date()
    deliveries = []
    for liaison in liaisons:
        cases = [requests[i] for i in covered[liaison.id]]
        lines = [texts.LIAISON_DIGEST_HEADER.format(date=today.strftime("%m月%d日"), count=len(cases))]
        for request in cases[:DIGEST_LINES]:
            lines.append(texts.LIAISON_DIGEST_LINE.format(
                number=request.id, name=request.beneficiary.name, village=request.beneficiary.village.name,
                category=request.category, status=texts.STATUS_NAMES[request.status],
            ))
        if len(cases) > DIGEST_LINES:
            lines.append(texts.PUSH_ESCALATION_DIGEST_MORE.format(count=len(cases) - DIGEST_LINES))
        push = summaries.cases_push(
            env, key=push_key(PushKind.DIGEST_LIAISON, liaison.id, today.isoformat()), text="\n".join(lines),
            staff=liaison, cases=cases, state=texts.LIAISON_DIGEST_STATE, now=now, waiting=False,
            sms=digest_sms(texts.SMS_DIGEST_LIAISON, texts.SMS_DIGEST_LIAISON_FIGURES.format(count=len(cases))),
        )
        deliveries.append(Delivery(push, liaison.wechat_user, staff=liaison, urgent=False))
    return sum(enqueue_many(session, deliveries, now, tz=env.tz, sms=env.sms))
