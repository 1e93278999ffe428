"""The outbox's claimable rows (pending, or sending with a claim that may lapse) in an index of their own.

A dispatcher's claim walks it in order with a plain index scan, which marks the entries of rows
already sent as dead as it passes them (services.outbox.claim_due); a bitmap scan of the status
index never does, so before the next VACUUM every claim read all of them again.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-01 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

CLAIMABLE = "status IN ('pending', 'sending')"


def upgrade() -> None:
    op.create_index('ix_outbox_claimable', 'outbox', ['next_attempt_at', 'id'],
                    postgresql_where=sa.text(CLAIMABLE), sqlite_where=sa.text(CLAIMABLE))


def downgrade() -> None:
    op.drop_index('ix_outbox_claimable', table_name='outbox')
