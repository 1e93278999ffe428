"""Visit alerts: a visit overdue beyond the slack is reported once per overdue period.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 20:42:42.017307
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import models.base

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('visit_alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('beneficiary_id', sa.Integer(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('alerted_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['beneficiary_id'], ['beneficiaries.id'], name=op.f('fk_visit_alerts_beneficiary_id_beneficiaries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_visit_alerts')),
    sa.UniqueConstraint('beneficiary_id', 'due_on', name=op.f('uq_visit_alerts_beneficiary_id_due_on'))
    )


def downgrade() -> None:
    op.drop_table('visit_alerts')
