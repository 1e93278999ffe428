"""Archive tables for the three tables that grow forever, and the index that keeps archiving bounded.

- `inbound_messages_archive`, `outbox_archive`, `request_events_archive`: the columns of their hot
  table, the same ids, `archived_at`, and for messages the media item made from one
  (`media_item_id`); no foreign keys, unique keys or CHECKs; indexed by case;
- `ix_request_events_inbound_message_id` (partial, non-NULL): the archive keeps a message while an
  entry still in `request_events` names it, one index probe per message.

The archive job (`services/archive.py`, daily at 03:30) and `sanzhida archive run` fill them.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from models.base import UTCDateTime

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def _json():
    """JSONB on PostgreSQL, JSON elsewhere, as the hot tables have it."""
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def _id() -> sa.Column:
    """The hot row's own id, copied, never generated."""
    return sa.Column('id', sa.Integer(), autoincrement=False, nullable=False)


def _archived_at() -> sa.Column:
    """When the row moved."""
    return sa.Column('archived_at', UTCDateTime(), nullable=False)


def upgrade() -> None:
    op.create_table(
        'inbound_messages_archive',
        _id(),
        sa.Column('dedupe_key', sa.String(length=160), nullable=False),
        sa.Column('openid', sa.String(length=64), nullable=False),
        sa.Column('msg_type', sa.String(length=32), nullable=False),
        sa.Column('event', sa.String(length=48), nullable=True),
        sa.Column('msg_id', sa.BigInteger(), nullable=True),
        sa.Column('sent_at', UTCDateTime(), nullable=False),
        sa.Column('received_at', UTCDateTime(), nullable=False),
        sa.Column('content', sa.Text(), nullable=True),
        sa.Column('payload', _json(), nullable=False),
        sa.Column('reply_xml', sa.Text(), nullable=True),
        sa.Column('handling_error', sa.String(length=120), nullable=True),
        sa.Column('handled_at', UTCDateTime(), nullable=True),
        sa.Column('request_id', sa.Integer(), nullable=True),
        sa.Column('account_id', sa.Integer(), nullable=True),
        sa.Column('media_item_id', sa.Integer(), nullable=True),
        _archived_at(),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_messages_archive')),
    )
    op.create_index('ix_inbound_messages_archive_request_id', 'inbound_messages_archive', ['request_id'])
    op.create_table(
        'outbox_archive',
        _id(),
        sa.Column('idempotency_key', sa.String(length=160), nullable=False),
        sa.Column('recipient_openid', sa.String(length=64), nullable=True),
        sa.Column('recipient_phone', sa.String(length=32), nullable=True),
        sa.Column('recipient_staff_id', sa.Integer(), nullable=True),
        sa.Column('request_id', sa.Integer(), nullable=True),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('payload', _json(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', UTCDateTime(), nullable=False),
        sa.Column('claimed_until', UTCDateTime(), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('sent_at', UTCDateTime(), nullable=True),
        sa.Column('wechat_msgid', sa.BigInteger(), nullable=True),
        sa.Column('provider_message_id', sa.String(length=64), nullable=True),
        _archived_at(),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_archive')),
    )
    op.create_index('ix_outbox_archive_request_id', 'outbox_archive', ['request_id'])
    op.create_table(
        'request_events_archive',
        _id(),
        sa.Column('request_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('actor_kind', sa.String(length=16), nullable=False),
        sa.Column('actor_staff_id', sa.Integer(), nullable=True),
        sa.Column('actor_wechat_user_id', sa.Integer(), nullable=True),
        sa.Column('inbound_message_id', sa.Integer(), nullable=True),
        sa.Column('body', sa.Text(), nullable=True),
        sa.Column('data', _json(), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        _archived_at(),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_request_events_archive')),
    )
    op.create_index('ix_request_events_archive_request_created', 'request_events_archive',
                    ['request_id', 'created_at'])
    op.create_index('ix_request_events_inbound_message_id', 'request_events', ['inbound_message_id'],
                    postgresql_where=sa.text('inbound_message_id IS NOT NULL'),
                    sqlite_where=sa.text('inbound_message_id IS NOT NULL'))


def downgrade() -> None:
    op.drop_index('ix_request_events_inbound_message_id', table_name='request_events')
    op.drop_index('ix_request_events_archive_request_created', table_name='request_events_archive')
    op.drop_table('request_events_archive')
    op.drop_index('ix_outbox_archive_request_id', table_name='outbox_archive')
    op.drop_table('outbox_archive')
    op.drop_index('ix_inbound_messages_archive_request_id', table_name='inbound_messages_archive')
    op.drop_table('inbound_messages_archive')
