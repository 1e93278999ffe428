"""What a new help request costs the inbox worker in SQL statements: at most 2 per message.

Counted with an engine event while the worker handles one group (GROUP messages) of new help
requests from distinct bound family members; what the group shares (taking the messages, loading
their senders) is shared out evenly among them. Statement counts are deterministic, unlike time
(bench/inbox_cost.py measures the time).
"""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import event, func, select

from models import FamilyLink, InboundMessage, OutboxMessage, RequestEvent, ServiceRequest
from tests.support.factories import fresh, make_beneficiary, make_town, make_wechat_user
from workers.inbox import GROUP, InboxWorker

# Per message: the request. Shared by the group: taking the messages, loading their senders and the
# requests raised lately for the people they are bound to (which a message may join), one INSERT of
# the timeline entries, one UPDATE each of the messages, the senders and the beneficiaries, one
# INSERT of the outbox rows (handlers.inbox.GroupWrites).
MOST_PER_MESSAGE = 2


@pytest.fixture
def queued_app(make_app):
    """The app in queued mode (the production default)."""
    return make_app(wechat_reply_mode="queued")


def bind_families(session, clock, count: int) -> list[str]:
    """`count` beneficiaries of one village, each with one bound family member; their openids."""
    town = make_town(session, clock())
    openids = []
    for i in range(count):
        person = make_beneficiary(session, town.village, clock(), assistant=town.assistant)
        user = make_wechat_user(session, f"o-family-{i}", clock())
        session.add(FamilyLink(beneficiary_id=person.id, wechat_user_id=user.id, relation="子女", active=True,
                               created_at=clock()))
        openids.append(user.openid)
    session.commit()
    return openids


def test_a_group_of_new_help_requests_takes_at_most_2_statements_a_message(queued_app, sender, session, clock,
                                                                        fake_wechat):
    client = queued_app.test_client()
    openids = bind_families(session, clock, GROUP)
    for openid in openids:
        response, _ = sender.post(client, sender.text(openid, "家里没米了，能帮忙买点吗"))
        assert response.status_code == 200
    worker = InboxWorker(queued_app.extensions["sanzhida"])
    # Each statement goes to the message being handled when it ran; None: the group's own.
    by_message: Counter = Counter()

    def count(conn, cursor, statement, parameters, context, executemany):
        by_message[worker.current] += 1

    engine = worker.services.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        handled, replies = worker.handle_group()
    finally:
        event.remove(engine, "before_cursor_execute", count)

    assert handled == GROUP and len(replies) == GROUP
    shared = by_message.pop(None, 0)
    assert len(by_message) == GROUP
    per_message = {message: own + shared / GROUP for message, own in by_message.items()}
    assert sum(per_message.values()) / GROUP <= MOST_PER_MESSAGE, (shared, by_message)
    assert max(per_message.values()) <= MOST_PER_MESSAGE, (shared, by_message)

    # Every message did open its request, with its timeline, its task push and its reply.
    fresh(session)
    assert session.scalar(select(func.count()).select_from(InboundMessage)
                          .where(InboundMessage.handled_at.is_not(None), InboundMessage.request_id.is_not(None),
                                 InboundMessage.handling_error.is_(None))) == GROUP
    requests = session.scalars(select(ServiceRequest)).all()
    assert len(requests) == GROUP and all(r.assignee_staff_id is not None for r in requests)
    kinds = Counter(session.scalars(select(RequestEvent.kind)))
    assert kinds == Counter({"created": GROUP, "push": GROUP})
    outbox = session.scalars(select(OutboxMessage.idempotency_key)).all()
    assert sum(key.startswith("task:") for key in outbox) == GROUP
    assert sum(key.startswith("answer:") for key in outbox) == GROUP
