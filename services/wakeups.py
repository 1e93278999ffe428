"""The notification channels that wake idle workers, and the column that sends one.

A statement that stores work for a worker also returns `pg_notify(channel, '')` for each row it
inserted: PostgreSQL then notifies the channel when (and only if) the transaction commits, with no
extra round trip, and sends one notification per channel however many rows the transaction added.
A row skipped as a duplicate returns nothing, and so wakes no one. SQLite has no notifications:
there the workers only poll.
"""

from __future__ import annotations

from sqlalchemy import func, literal

# Messages stored by the webhook for the inbox worker.
INBOX_CHANNEL = "sz_inbox"
# Pushes queued in the outbox for the dispatcher.
OUTBOX_CHANNEL = "sz_outbox"


def notify_column(channel: str):
    """`pg_notify(channel, '')`, to add to an INSERT's RETURNING on PostgreSQL (its value is empty)."""
    return func.pg_notify(literal(channel), literal("")).label("woken")
