"""Staff session version: dashboard sign-ins end on sign-out and on a new password.

- `staff.session_version`: the number every dashboard sign-in carries; moved on by signing out and
  by setting a password, so copies of earlier sign-ins are refused. Existing staff start at 0, and
  sign-ins made before this revision carry none, so everyone signs in once more.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('staff') as batch:
        batch.add_column(sa.Column('session_version', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('staff') as batch:
        batch.drop_column('session_version')
