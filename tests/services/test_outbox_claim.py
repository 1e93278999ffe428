"""What a dispatcher claims first: an answer to a user's message before pushes queued earlier, then the
rest in the order they became due."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from models import OutboxMessage
from models.enums import OutboxKind, OutboxStatus, PushKind
from services import outbox
from services.notify import push_key

NOW = datetime(2026, 12, 8, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def row(key: str, due: datetime) -> OutboxMessage:
    """A pending customer-service push due at `due`."""
    return OutboxMessage(idempotency_key=key, recipient_openid=f"o-{key}", kind=OutboxKind.CUSTOM.value,
                         payload={"text": "你好", "template": None}, status=OutboxStatus.PENDING.value, attempts=0,
                         next_attempt_at=due, created_at=due)


def test_an_answer_is_claimed_before_the_reminders_queued_earlier(session):
    reminders = [push_key(PushKind.CHECKIN_REMIND, n, "2026-12-08", n) for n in range(3)]
    answer = push_key(PushKind.ANSWER, 77)
    session.add_all([row(key, NOW + timedelta(seconds=n)) for n, key in enumerate(reminders)])
    session.add(row(answer, NOW + timedelta(seconds=30)))
    session.commit()
    later = NOW + timedelta(minutes=1)
    assert [c.key for c in outbox.claim_due(session, later, 1)] == [answer]
    assert [c.key for c in outbox.claim_due(session, later, 2)] == reminders[:2]
    session.commit()
