"""Message retention: after MESSAGE_RETENTION_DAYS what people wrote and what was pushed to them is
stubbed out, in windows of ids; cases, their events and the audit log stay; newer messages and
pushes still to go are untouched."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from models import AuditEntry, InboundMessage, OutboxMessage, RequestEvent, ServiceRequest
from models.enums import OutboxStatus
from scheduler import calendar, jobs
from services import audit, outbox, retention
from tests.scheduler.test_calendar import GRACE, TZ
from tests.support.factories import fresh, make_beneficiary

AUTH = {"Authorization": "Bearer test-admin-token"}


def say(client, sender, clock, openid: str, text: str) -> None:
    """A message through the real webhook, as WeChat posts it."""
    response, _ = sender.post(client, sender.text(openid, text))
    assert response.status_code == 200
    clock.advance(seconds=5)


def test_old_payloads_and_replies_are_stubbed_and_cases_stay(app, client, sender, session, clock, jobs_ctx, town):
    """Half a year later the job stubs the old messages (payload, text, stored reply) and empties the
    sent pushes; the case, its events, the audit log and the API's view of the case stay; a new
    message and a push still to go keep their contents; a second run changes nothing."""
    elder = make_beneficiary(session, town.village, clock(), assistant=town.assistant)
    audit.record(session, clock(), "test.retention", label="cli")
    session.commit()
    say(client, sender, clock, "o-elder", f"绑定 {elder.bind_code}")
    say(client, sender, clock, "o-elder", "1")
    say(client, sender, clock, "o-elder", "家里没米了，请帮忙")
    calendar.tick(jobs_ctx, TZ, clock(), GRACE)  # the task push goes out
    fresh(session)
    old_case = session.scalar(select(func.max(ServiceRequest.id)))
    old_messages = session.scalars(select(InboundMessage.id)).all()
    assert len(old_messages) == 3
    assert session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.status == OutboxStatus.SENT.value)) >= 1
    events_before = session.scalar(select(func.count()).select_from(RequestEvent))
    case_before = client.get(f"/api/v1/requests/{old_case}", headers=AUTH).get_json()

    clock.advance(days=181)
    say(client, sender, clock, "o-elder", "又没米了")  # a new case; its task push is still pending
    assert jobs.message_retention_job(jobs_ctx, clock()) >= 4

    fresh(session)
    for message in session.scalars(select(InboundMessage).order_by(InboundMessage.id)):
        if message.id in old_messages:
            assert (message.payload, message.content, message.reply_xml) == (retention.PURGED_PAYLOAD, None, None)
        else:
            assert message.content == "又没米了" and message.payload["Content"] == "又没米了"
            assert message.reply_xml
    for push in session.scalars(select(OutboxMessage)):
        if push.status == OutboxStatus.SENT.value:
            assert push.payload == {}
        else:
            assert push.status == OutboxStatus.PENDING.value and push.payload
    assert session.scalar(select(func.count()).select_from(ServiceRequest)) == 2
    assert session.scalar(select(func.count()).select_from(RequestEvent)) > events_before
    assert session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "test.retention")) == 1
    case_after = client.get(f"/api/v1/requests/{old_case}", headers=AUTH).get_json()
    assert case_after == case_before
    assert jobs.message_retention_job(jobs_ctx, clock()) == 0


def test_the_purge_works_window_by_window_and_spares_waiting_rows(session, clock, jobs_ctx):
    """`purge_window` touches only its ids; messages still waiting and pending pushes are never
    stubbed; a purged dead letter cannot be queued again."""
    old = clock() - timedelta(days=200)
    for n in range(1, 7):
        session.add(InboundMessage(
            id=n, dedupe_key=f"msg:{n}", openid="o-x", msg_type="text", sent_at=old, received_at=old,
            content=f"第{n}条", payload={"Content": f"第{n}条"}, reply_xml="<xml/>",
            handled_at=None if n == 6 else old))
        session.add(OutboxMessage(
            idempotency_key=f"k{n}", recipient_openid="o-x", kind="custom", payload={"text": f"第{n}条"},
            status=OutboxStatus.PENDING.value if n == 6 else OutboxStatus.DEAD.value, attempts=8,
            next_attempt_at=old, created_at=old))
    session.commit()
    cutoff = retention.cutoff_for(clock(), 180)
    inbound, pushes = retention.PURGES
    assert retention.id_span(session, inbound, cutoff) == (1, 5)
    first_row = session.scalar(select(OutboxMessage.id).where(OutboxMessage.idempotency_key == "k1"))
    assert retention.purge_window(session, inbound, cutoff, 1, 2) == 2
    assert retention.purge_window(session, pushes, cutoff, first_row, first_row + 1) == 2
    session.commit()
    fresh(session)
    stubbed = session.scalars(select(InboundMessage.id).where(InboundMessage.content.is_(None))).all()
    assert sorted(stubbed) == [1, 2]
    assert retention.id_span(session, inbound, cutoff) == (3, 5)
    assert not outbox.requeue(session, first_row, clock())
    assert outbox.requeue(session, first_row + 2, clock())
    session.rollback()
    assert jobs.message_retention_job(jobs_ctx, clock()) == 3 + 3
    fresh(session)
    waiting = session.get(InboundMessage, 6)
    assert waiting.content == "第6条" and waiting.payload == {"Content": "第6条"}
    pending = session.scalars(select(OutboxMessage).where(OutboxMessage.idempotency_key == "k6")).one()
    assert pending.payload == {"text": "第6条"}
