"""Pre-aggregated figures: 四查四帮 per day, requests per week.

- `daily_visit_figures`: one row per local day, village and responsible assistant: people, overdue,
  plan periods due and covered, visits made with their findings and help. The scheduler keeps the
  recent days up to date; run `sanzhida figures rebuild --from YYYY-MM-DD` once after upgrading to
  fill in the past.
- `weekly_request_figures`: the requests of each of the trends' 26 weeks per town, village,
  assistant and for the city: counts, escalations, ratings and median times to accept. The
  scheduler recomputes them every 10 minutes.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

COUNTS = ("beneficiaries", "overdue", "visits_due", "visits_covered", "visits_made", "food", "clothing",
          "housing", "medical", "helped_daily_care", "helped_shopping", "helped_contact_family", "helped_policy")


def upgrade() -> None:
    op.create_table(
        'daily_visit_figures',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('town_id', sa.Integer(), nullable=False),
        sa.Column('village_id', sa.Integer(), nullable=False),
        sa.Column('staff_id', sa.Integer(), nullable=True),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in COUNTS),
        sa.Column('computed_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['town_id'], ['regions.id'], name=op.f('fk_daily_visit_figures_town_id_regions')),
        sa.ForeignKeyConstraint(['village_id'], ['regions.id'],
                                name=op.f('fk_daily_visit_figures_village_id_regions')),
        sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_daily_visit_figures_staff_id_staff')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_daily_visit_figures')),
    )
    op.create_index('ix_daily_visit_figures_day_town', 'daily_visit_figures', ['day', 'town_id'])
    op.create_index('ix_daily_visit_figures_staff_day', 'daily_visit_figures', ['staff_id', 'day'])
    op.create_table(
        'weekly_request_figures',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('week', sa.Date(), nullable=False),
        sa.Column('level', sa.String(length=16), nullable=False),
        sa.Column('key', sa.Integer(), nullable=True),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in ("raised", "escalated", "rated", "rating_sum")),
        sa.Column('accept_p50_wall', sa.Float(), nullable=True),
        sa.Column('accept_p50_service', sa.Float(), nullable=True),
        sa.Column('computed_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_weekly_request_figures')),
    )
    op.create_index('ix_weekly_request_figures_level_week', 'weekly_request_figures', ['level', 'week'])


def downgrade() -> None:
    op.drop_index('ix_weekly_request_figures_level_week', table_name='weekly_request_figures')
    op.drop_table('weekly_request_figures')
    op.drop_index('ix_daily_visit_figures_staff_day', table_name='daily_visit_figures')
    op.drop_index('ix_daily_visit_figures_day_town', table_name='daily_visit_figures')
    op.drop_table('daily_visit_figures')
