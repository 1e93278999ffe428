"""On PostgreSQL the inbox worker's take and the dispatcher's claim walk their indexes with plain index
scans (models.db.walking_indexes), which mark the entries of rows already handled or sent as dead as
they pass them. A bitmap scan never does: until VACUUM every take would read them all again."""

from __future__ import annotations

import os
import time
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from handlers import inbox
from models import OutboxMessage
from models.enums import OutboxKind, OutboxStatus, PushKind
from services import outbox
from services.notify import push_key

# Only a bound on waiting for the statistics; the scan is counted at once when it is flushed.
STATS_WAIT_SECONDS = 15

pytestmark = pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"),
                                reason="index scans against bitmap scans are PostgreSQL's planning")


@pytest.fixture
def pinned(engine):
    """A session on one connection for the whole test: a backend's counters are flushed to the
    statistics by that backend, so the scan and the flush must happen on the same one."""
    with engine.connect() as connection, Session(bind=connection) as session:
        yield session


def fetched_through(session, index: str) -> int:
    """Live rows fetched through `index` by plain index scans so far (bitmap scans never count there)."""
    session.execute(text("SELECT pg_stat_force_next_flush()"))
    session.commit()
    session.execute(text("SELECT pg_stat_clear_snapshot()"))
    return session.scalar(text("SELECT idx_tup_fetch FROM pg_stat_user_indexes WHERE indexrelname = :name"),
                          {"name": index})


def fetched_since(session, index: str, before: int) -> bool:
    """Whether rows were fetched through `index` since it counted `before` (waiting a little for the
    statistics, which a backend reports when it goes idle)."""
    deadline = time.monotonic() + STATS_WAIT_SECONDS
    while fetched_through(session, index) <= before:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_the_dispatcher_claims_through_the_index_of_claimable_rows(pinned, clock):
    session = pinned
    now = clock()
    session.add(OutboxMessage(idempotency_key=push_key(PushKind.ANSWER, 1), recipient_openid="o-walk",
                              kind=OutboxKind.CUSTOM.value, payload={"text": "你好", "template": None},
                              status=OutboxStatus.PENDING.value, attempts=0, next_attempt_at=now, created_at=now))
    session.commit()
    before = fetched_through(session, "ix_outbox_claimable")
    assert [row.openid for row in outbox.claim_due(session, now + timedelta(seconds=1), 10)] == ["o-walk"]
    session.commit()
    assert fetched_since(session, "ix_outbox_claimable", before)
    # The rest of the transaction is planned as before.
    assert session.scalar(text("SELECT current_setting('enable_bitmapscan')")) == "on"


def handled_before(session, count: int) -> None:
    """`count` messages stored and handled: their entries in the index of waiting messages are dead."""
    session.execute(text(
        "INSERT INTO inbound_messages (dedupe_key, openid, msg_type, sent_at, received_at, payload) "
        "SELECT 'msg:old-' || n, 'o-old-' || n, 'text', now(), now(), '{}' FROM generate_series(1, :count) n"),
        {"count": count})
    session.commit()
    session.execute(text("UPDATE inbound_messages SET handled_at = now() WHERE dedupe_key LIKE 'msg:old-%'"))
    session.commit()


def test_the_inbox_worker_takes_through_the_index_of_waiting_messages(make_app, sender, pinned):
    session = pinned
    handled_before(session, 2000)
    client = make_app(wechat_reply_mode="queued").test_client()
    sender.post(client, sender.text("o-walk", "你好", msg_id=8801))
    before = fetched_through(session, "ix_inbound_messages_unhandled")
    taken = inbox.take_group(session, 32)
    assert [m.openid for m in taken] == ["o-walk"]
    assert session.scalar(text("SELECT current_setting('enable_seqscan')")) == "on"
    session.commit()
    assert fetched_since(session, "ix_inbound_messages_unhandled", before)
