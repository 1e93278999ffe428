"""Migration 0005 rewrites the outbox keys written before it to the keys of `PushKind`."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic import command

from models.base import JSONType, UTCDateTime
from models.db import make_engine
from models.migrate import alembic_config

NOW = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)

# The outbox as it is at 0004: only what these rows need.
OUTBOX = sa.table(
    "outbox",
    sa.column("id", sa.Integer),
    sa.column("idempotency_key", sa.String),
    sa.column("recipient_openid", sa.String),
    sa.column("kind", sa.String),
    sa.column("payload", JSONType),
    sa.column("status", sa.String),
    sa.column("attempts", sa.Integer),
    sa.column("next_attempt_at", UTCDateTime()),
    sa.column("created_at", UTCDateTime()),
)
TEMPLATE = {"template_id": "tpl", "data": {"thing2": {"value": "明天送米"}}}

# Old key, payload, status -> the key after 0005.
ROWS = [
    ("reply:7", {"text": "收到", "template": None, "reply_to": 7}, "pending", "answer:7"),
    ("reply:8", {"text": "收到", "template": None, "reply_to": 8}, "sent", "answer:8"),
    ("reply:9", {"text": "收到", "template": None, "reply_to": 9}, "dead", "answer:9"),
    ("reply:10", {"text": "王芳回复：明天送米", "template": TEMPLATE}, "sending", "relay-reply:10"),
    ("reply:11", {"text": "王芳回复：明天送米", "template": TEMPLATE}, "sent", "relay-reply:11"),
    ("reply:12", {"text": "王芳回复：明天送米", "template": TEMPLATE}, "dead", "relay-reply:12"),
    ("reply:13", {"text": "王芳回复：明天送米", "template": TEMPLATE}, "pending", "relay-reply:13"),
    ("escalate:digest:3:0123456789abcdef0123", {"text": "请督办", "template": TEMPLATE}, "sent",
     "escalate-digest:3:0123456789abcdef0123"),
    ("escalate:13:1:3", {"text": "请督办", "template": TEMPLATE}, "sent", "escalate:13:1:3"),
    ("escalate:13:1:requester", {"text": "已提请", "template": TEMPLATE}, "pending", "escalate:13:1:requester"),
    ("task:13:3", {"text": "新任务", "template": TEMPLATE}, "sent", "task:13:3"),
    ("family-resolved:13:4", {"text": "已办好", "template": TEMPLATE}, "dead", "family-resolved:13:4"),
    ("remind:3:2026-11-29", {"text": "走访", "template": TEMPLATE}, "pending", "remind:3:2026-11-29"),
]


@pytest.fixture
def at_0004(databases):
    """A new database migrated to 0004, holding outbox rows with the keys of that time; its engine and config."""
    url = databases.new()
    cfg = alembic_config(url)
    command.upgrade(cfg, "0004")
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(OUTBOX.insert(), [
            {"idempotency_key": key, "recipient_openid": "o-son", "kind": "custom", "payload": payload,
             "status": status, "attempts": 1, "next_attempt_at": NOW, "created_at": NOW}
            for key, payload, status, _ in ROWS
        ])
    yield engine, cfg
    engine.dispose()


def keys_in_order(engine) -> list[str]:
    """Every key in the outbox, in the order the rows were inserted (that of ROWS)."""
    with engine.connect() as connection:
        return connection.execute(sa.select(OUTBOX.c.idempotency_key).order_by(OUTBOX.c.id)).scalars().all()


def test_upgrade_gives_old_keys_their_kind(at_0004):
    """Answers become `answer:`, relayed staff replies `relay-reply:`, escalation digests `escalate-digest:`,
    in every status; every other key stays as it was."""
    engine, cfg = at_0004
    command.upgrade(cfg, "0005")
    assert keys_in_order(engine) == [new for *_, new in ROWS]


def test_after_the_upgrade_the_answer_and_the_relayed_reply_of_one_number_both_fit(at_0004):
    """The clash is gone for new rows too: `answer:10` goes in beside the old relayed reply 10."""
    engine, cfg = at_0004
    command.upgrade(cfg, "0005")
    with engine.begin() as connection:
        connection.execute(OUTBOX.insert(), [{
            "idempotency_key": "answer:10", "recipient_openid": "o-son", "kind": "custom",
            "payload": {"text": "收到", "template": None, "reply_to": 10}, "status": "pending", "attempts": 0,
            "next_attempt_at": NOW, "created_at": NOW,
        }])
    keys = keys_in_order(engine)
    assert "answer:10" in keys and "relay-reply:10" in keys


def test_downgrade_keeps_the_new_keys(at_0004):
    """Downgrading to 0004 changes no key (see the revision for why) and upgrading again changes none either."""
    engine, cfg = at_0004
    command.upgrade(cfg, "0005")
    command.downgrade(cfg, "0004")
    assert keys_in_order(engine) == [new for *_, new in ROWS]
    command.upgrade(cfg, "0005")
    assert keys_in_order(engine) == [new for *_, new in ROWS]
