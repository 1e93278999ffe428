"""Outbox idempotency keys carry the kind of push, so two kinds can never share a key.

Before this revision the answer to a user's message (`reply:{inbound message id}`) and a staff
reply relayed to the requester (`reply:{request event id}`) shared one key: when the two ids met,
the later push was dropped by the unique key. Existing rows, whatever their status (pending,
sending, sent, dead: every status there is), are rewritten to the scheme of `PushKind`:

- `reply:N` written by the inbox for a user's message       -> `answer:N`
- `reply:N` written for a staff reply relayed to a requester -> `relay-reply:N`
- `escalate:digest:S:H` (several cases in one push)          -> `escalate-digest:S:H`

Every other key already starts with its kind and is left as it is.

The two kinds of old `reply:` rows are told apart by their payload: the inbox has written every
answer, since it first queued one, with `reply_to` (the inbound message's id) and no template; a
relayed staff reply has a template and no `reply_to`. The ids cannot tell them apart, which is
the bug. No new key can already exist (no code wrote these prefixes before), so the UPDATEs never
meet the unique key. Stop every process of the earlier version first, as for 0004: an old process
would go on writing `reply:` keys.

A template push's `client_msg_id` is derived from its key. A `sending` row whose dispatcher died
after WeChat accepted it is re-sent under the new key's id, so WeChat's 10-minute dedupe does not
catch that one repeat; only relayed replies and escalation digests can be in that state.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import models.base

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

# The columns this revision reads and writes, as they are at 0004 (not the models of today).
outbox = sa.table(
    'outbox',
    sa.column('idempotency_key', sa.String(160)),
    sa.column('payload', models.base.JSONType),
)


def _rename(old_prefix: str, new_prefix: str, *where) -> None:
    """Swap a key prefix on every row that has it (and meets `where`), in one UPDATE on either database."""
    key = outbox.c.idempotency_key
    op.execute(
        outbox.update()
        .where(key.startswith(old_prefix), *where)
        # substr and || mean the same on PostgreSQL and SQLite.
        .values(idempotency_key=sa.literal(new_prefix) + sa.func.substr(key, len(old_prefix) + 1))
    )


def upgrade() -> None:
    # Answers first: what is left of `reply:` afterwards is relayed staff replies.
    _rename('reply:', 'answer:', outbox.c.payload['reply_to'].as_integer().is_not(None))
    _rename('reply:', 'relay-reply:')
    _rename('escalate:digest:', 'escalate-digest:')


def downgrade() -> None:
    # Nothing to undo safely: rows queued under the new keys (`answer:N` beside `relay-reply:N`)
    # can no longer all be given their old keys, which is the very clash this revision removes.
    # Code of 0004 reads no key back, so it runs on new keys as they are.
    pass
