"""Where finished rows of the ever-growing tables go after ARCHIVE_AFTER_MONTHS: `*_archive` tables.

Each archive table has exactly the columns of its hot table (built from it, so a column added there
is missing here until a migration adds it, which the schema test notices), with the same ids, plus
`archived_at`. It has no foreign keys, unique keys or CHECKs: its rows were checked when they were
written, and a move must never wait on a constraint. It is indexed only by what reads it: a case's
history (by request) and, for messages, the case a message belonged to.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, Table

from models.base import Base, UTCDateTime
from models.messaging import InboundMessage, OutboxMessage
from models.requests import RequestEvent


def _copy_of(hot: Table, name: str, *extra: Column) -> Table:
    """A table with the hot table's columns (same names, types and nullability), no constraints but
    its primary key, and `extra` columns after them."""
    columns = [
        # The id is the hot row's own: copied, never generated.
        Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable,
               autoincrement=False if c.primary_key else "auto")
        for c in hot.columns
    ]
    return Table(name, Base.metadata, *columns, *extra,
                 Column("archived_at", UTCDateTime(), nullable=False))


inbound_messages_archive = _copy_of(
    InboundMessage.__table__, "inbound_messages_archive",
    # The media item made from the message: its reference to the hot row is cleared on the move.
    Column("media_item_id", Integer),
)
Index("ix_inbound_messages_archive_request_id", inbound_messages_archive.c.request_id)

outbox_archive = _copy_of(OutboxMessage.__table__, "outbox_archive")
Index("ix_outbox_archive_request_id", outbox_archive.c.request_id)

request_events_archive = _copy_of(RequestEvent.__table__, "request_events_archive")
Index("ix_request_events_archive_request_created", request_events_archive.c.request_id,
      request_events_archive.c.created_at)


class ArchivedInboundMessage(Base):
    """A handled message moved out of `inbound_messages`."""

    __table__ = inbound_messages_archive


class ArchivedOutboxMessage(Base):
    """A sent, given-up or skipped push moved out of `outbox`."""

    __table__ = outbox_archive


class ArchivedRequestEvent(Base):
    """A timeline entry of a long-closed case, moved out of `request_events`; read like one."""

    __table__ = request_events_archive
