"""Daily figures by town: an index on (town_id, day) on both daily tables.

A city's figures and trends read 20 towns' days; with only the (day, town_id) index PostgreSQL read
every town's days of the period (a province's are 26,000 rows a day) and filtered them.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01 00:00:00
"""

from __future__ import annotations

from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_daily_visit_figures_town_day', 'daily_visit_figures', ['town_id', 'day'])
    op.create_index('ix_daily_checkin_figures_town_day', 'daily_checkin_figures', ['town_id', 'day'])


def downgrade() -> None:
    op.drop_index('ix_daily_checkin_figures_town_day', table_name='daily_checkin_figures')
    op.drop_index('ix_daily_visit_figures_town_day', table_name='daily_visit_figures')
