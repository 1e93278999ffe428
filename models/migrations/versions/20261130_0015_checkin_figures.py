"""报平安 figures per day.

- `daily_checkin_figures`: one row per local day, village and responsible assistant: people on a
  check-in plan, check-ins expected and received, families reminded and the silences that ended
  after the reminder. The scheduler keeps the recent days up to date; run
  `sanzhida figures rebuild --from YYYY-MM-DD` once after upgrading to fill in the past.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

COUNTS = ("on_plan", "expected", "received", "reminded", "ended_by_reminder")


def upgrade() -> None:
    op.create_table(
        'daily_checkin_figures',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('town_id', sa.Integer(), nullable=False),
        sa.Column('village_id', sa.Integer(), nullable=False),
        sa.Column('staff_id', sa.Integer(), nullable=True),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in COUNTS),
        sa.Column('computed_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['town_id'], ['regions.id'], name=op.f('fk_daily_checkin_figures_town_id_regions')),
        sa.ForeignKeyConstraint(['village_id'], ['regions.id'],
                                name=op.f('fk_daily_checkin_figures_village_id_regions')),
        sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_daily_checkin_figures_staff_id_staff')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_daily_checkin_figures')),
    )
    op.create_index('ix_daily_checkin_figures_day_town', 'daily_checkin_figures', ['day', 'town_id'])
    op.create_index('ix_daily_checkin_figures_staff_day', 'daily_checkin_figures', ['staff_id', 'day'])


def downgrade() -> None:
    op.drop_index('ix_daily_checkin_figures_staff_day', table_name='daily_checkin_figures')
    op.drop_index('ix_daily_checkin_figures_day_town', table_name='daily_checkin_figures')
    op.drop_table('daily_checkin_figures')
