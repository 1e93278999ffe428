"""Inbound messages carry when they were handled, so a worker can take the unhandled ones.

Two indexes nothing reads are dropped: every insert into this table is on the webhook's path.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import models.base

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_inbound_messages_openid', table_name='inbound_messages')
    op.drop_index('ix_inbound_messages_received_at', table_name='inbound_messages')
    op.add_column('inbound_messages', sa.Column('handled_at', models.base.UTCDateTime(timezone=True), nullable=True))
    # Everything stored before this revision was handled inside its webhook request.
    op.execute("UPDATE inbound_messages SET handled_at = received_at")
    op.create_index(
        'ix_inbound_messages_unhandled', 'inbound_messages', ['id'], unique=False,
        postgresql_where=sa.text('handled_at IS NULL'), sqlite_where=sa.text('handled_at IS NULL'),
    )
    op.create_index(
        'ix_inbound_messages_unhandled_sender', 'inbound_messages', ['openid', 'id'], unique=False,
        postgresql_where=sa.text('handled_at IS NULL'), sqlite_where=sa.text('handled_at IS NULL'),
    )


def downgrade() -> None:
    op.drop_index('ix_inbound_messages_unhandled_sender', table_name='inbound_messages',
                  postgresql_where=sa.text('handled_at IS NULL'), sqlite_where=sa.text('handled_at IS NULL'))
    op.drop_index('ix_inbound_messages_unhandled', table_name='inbound_messages',
                  postgresql_where=sa.text('handled_at IS NULL'), sqlite_where=sa.text('handled_at IS NULL'))
    op.drop_column('inbound_messages', 'handled_at')
    op.create_index('ix_inbound_messages_received_at', 'inbound_messages', ['received_at'], unique=False)
    op.create_index('ix_inbound_messages_openid', 'inbound_messages', ['openid'], unique=False)
