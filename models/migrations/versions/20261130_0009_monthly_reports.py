"""Monthly reports (月报): the spreadsheet and PDF of a month, for the city or one town.

- `monthly_reports`: one row per month for the city (town_id NULL) and one per month and town,
  each unique through a partial index; remaking a month's report replaces its row. The files are
  kept in the row (bytea / BLOB, loaded only on download): they hold aggregates and staff names,
  no ID numbers, and are made, stored and announced in one transaction.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import models.base

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('monthly_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('town_id', sa.Integer(), nullable=True),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('complete', sa.Boolean(), nullable=False),
    sa.Column('made_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('made_by_staff_id', sa.Integer(), nullable=True),
    sa.Column('made_by_label', sa.String(length=64), nullable=True),
    sa.Column('xlsx_size', sa.Integer(), nullable=False),
    sa.Column('pdf_size', sa.Integer(), nullable=False),
    sa.Column('xlsx', sa.LargeBinary(), nullable=False),
    sa.Column('pdf', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['made_by_staff_id'], ['staff.id'], name=op.f('fk_monthly_reports_made_by_staff_id_staff')),
    sa.ForeignKeyConstraint(['town_id'], ['regions.id'], name=op.f('fk_monthly_reports_town_id_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_monthly_reports'))
    )
    op.create_index('ix_monthly_reports_city_month', 'monthly_reports', ['month'], unique=True,
                    postgresql_where=sa.text('town_id IS NULL'), sqlite_where=sa.text('town_id IS NULL'))
    op.create_index('ix_monthly_reports_town_month', 'monthly_reports', ['town_id', 'month'], unique=True,
                    postgresql_where=sa.text('town_id IS NOT NULL'), sqlite_where=sa.text('town_id IS NOT NULL'))


def downgrade() -> None:
    op.drop_index('ix_monthly_reports_town_month', table_name='monthly_reports',
                  postgresql_where=sa.text('town_id IS NOT NULL'), sqlite_where=sa.text('town_id IS NOT NULL'))
    op.drop_index('ix_monthly_reports_city_month', table_name='monthly_reports',
                  postgresql_where=sa.text('town_id IS NULL'), sqlite_where=sa.text('town_id IS NULL'))
    op.drop_table('monthly_reports')
