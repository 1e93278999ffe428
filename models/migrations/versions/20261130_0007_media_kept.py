"""Media kept: voice, photos and video from beneficiaries and families, fetched from WeChat and stored.

- `media_items`: one row per WeChat MediaId (unique), with the fetch job's state (attempts, backoff,
  claim, dead letter), where the original and the playable voice are kept, the transcript and its
  state, and our own upload to WeChat for sending it on to staff.
- `service_requests.urgency_reason`: "unheard" while a voice request nobody has understood follows
  the urgent ladder.
- Two allowed values more: the timeline's `transcript` events, and `skipped` outbox rows (a voice or
  photo for staff that may only go as a customer-service message and found the window closed).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import models.base

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

EVENT_KINDS_0006 = ('created', 'message', 'acknowledged', 'reply', 'resolved', 'closed', 'cancelled', 'rated',
                    'escalated', 'reassigned', 'supervised', 'comment', 'push')
OUTBOX_KINDS_0006 = ('template', 'custom')


def _in(column: str, values) -> str:
    """A CHECK expression limiting `column` to `values`."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _replace_check(table: str, name: str, expression: str) -> None:
    """Swap a CHECK constraint (SQLite rebuilds the table; PostgreSQL alters it in place)."""
    with op.batch_alter_table(table) as batch:
        batch.drop_constraint(op.f(name), type_='check')
        batch.create_check_constraint(op.f(name), sa.text(expression))


def upgrade() -> None:
    op.create_table('media_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('wechat_media_id', sa.String(length=128), nullable=False),
    sa.Column('inbound_message_id', sa.Integer(), nullable=True),
    sa.Column('request_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('wechat_format', sa.String(length=16), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('claimed_until', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=300), nullable=True),
    sa.Column('content_type', sa.String(length=64), nullable=True),
    sa.Column('size_bytes', sa.Integer(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('store_key', sa.String(length=200), nullable=True),
    sa.Column('playable_key', sa.String(length=200), nullable=True),
    sa.Column('playable_type', sa.String(length=64), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=True),
    sa.Column('transcript', sa.Text(), nullable=True),
    sa.Column('transcript_status', sa.String(length=16), nullable=True),
    sa.Column('transcript_attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('transcript_next_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('wechat_upload_id', sa.String(length=128), nullable=True),
    sa.Column('wechat_uploaded_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('fetched_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('deleted_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("kind IN ('voice', 'image', 'video', 'shortvideo')", name=op.f('ck_media_items_kind_valid')),
    sa.CheckConstraint("status IN ('pending', 'fetching', 'stored', 'dead', 'deleted')",
                       name=op.f('ck_media_items_status_valid')),
    sa.CheckConstraint("transcript_status IN ('given', 'pending', 'done', 'empty', 'off', 'failed')",
                       name=op.f('ck_media_items_transcript_status_valid')),
    sa.ForeignKeyConstraint(['inbound_message_id'], ['inbound_messages.id'],
                            name=op.f('fk_media_items_inbound_message_id_inbound_messages')),
    sa.ForeignKeyConstraint(['request_id'], ['service_requests.id'],
                            name=op.f('fk_media_items_request_id_service_requests')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_media_items')),
    sa.UniqueConstraint('inbound_message_id', name=op.f('uq_media_items_inbound_message_id')),
    sa.UniqueConstraint('wechat_media_id', name=op.f('uq_media_items_wechat_media_id'))
    )
    op.create_index('ix_media_items_request_id', 'media_items', ['request_id'], unique=False)
    op.create_index('ix_media_items_status_next_attempt', 'media_items', ['status', 'next_attempt_at'], unique=False)
    op.create_index('ix_media_items_transcript_pending', 'media_items', ['transcript_next_at'], unique=False,
                    postgresql_where=sa.text("transcript_status = 'pending'"),
                    sqlite_where=sa.text("transcript_status = 'pending'"))
    op.add_column('service_requests', sa.Column('urgency_reason', sa.String(length=16), nullable=True))
    _replace_check('request_events', 'ck_request_events_kind_valid', _in('kind', (*EVENT_KINDS_0006, 'transcript')))
    _replace_check('outbox', 'ck_outbox_kind_valid', _in('kind', (*OUTBOX_KINDS_0006, 'skipped')))


def downgrade() -> None:
    op.execute("DELETE FROM request_events WHERE kind = 'transcript'")
    op.execute("DELETE FROM outbox WHERE kind = 'skipped'")
    _replace_check('outbox', 'ck_outbox_kind_valid', _in('kind', OUTBOX_KINDS_0006))
    _replace_check('request_events', 'ck_request_events_kind_valid', _in('kind', EVENT_KINDS_0006))
    op.drop_column('service_requests', 'urgency_reason')
    op.drop_index('ix_media_items_transcript_pending', table_name='media_items',
                  postgresql_where=sa.text("transcript_status = 'pending'"),
                  sqlite_where=sa.text("transcript_status = 'pending'"))
    op.drop_index('ix_media_items_status_next_attempt', table_name='media_items')
    op.drop_index('ix_media_items_request_id', table_name='media_items')
    op.drop_table('media_items')
