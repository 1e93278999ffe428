"""Monthly reports per city: a deployment of several cities keeps one report per month for each.

- `monthly_reports.city_id`: the city a report covers (a town's report: the town's city); kept
  reports are filled in, a city's whole report with the only city where there is one (with several
  cities an earlier whole-deployment report keeps NULL: the province's alone);
- `ix_monthly_reports_city_month` is now unique on (city_id, month) for the cities' whole reports.

Downgrading keeps the earliest whole report of each month: the old table holds one per month.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

WHOLE = sa.text('town_id IS NULL')
TOWNS = sa.text('town_id IS NOT NULL')


def _drop_indexes() -> None:
    """Drop both partial indexes (SQLite's table copy would not keep their predicates)."""
    op.drop_index('ix_monthly_reports_town_month', table_name='monthly_reports',
                  postgresql_where=TOWNS, sqlite_where=TOWNS)
    op.drop_index('ix_monthly_reports_city_month', table_name='monthly_reports',
                  postgresql_where=WHOLE, sqlite_where=WHOLE)


def _town_index() -> None:
    """One report per month for each town, as before."""
    op.create_index('ix_monthly_reports_town_month', 'monthly_reports', ['town_id', 'month'], unique=True,
                    postgresql_where=TOWNS, sqlite_where=TOWNS)


def upgrade() -> None:
    _drop_indexes()
    with op.batch_alter_table('monthly_reports') as batch:
        batch.add_column(sa.Column('city_id', sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f('fk_monthly_reports_city_id_regions'), 'regions', ['city_id'], ['id'])
    op.execute("UPDATE monthly_reports SET city_id = (SELECT parent_id FROM regions"
               " WHERE regions.id = monthly_reports.town_id) WHERE town_id IS NOT NULL")
    op.execute("UPDATE monthly_reports SET city_id = (SELECT id FROM regions WHERE level = 'city')"
               " WHERE town_id IS NULL AND (SELECT count(*) FROM regions WHERE level = 'city') = 1")
    op.create_index('ix_monthly_reports_city_month', 'monthly_reports', ['city_id', 'month'], unique=True,
                    postgresql_where=WHOLE, sqlite_where=WHOLE)
    _town_index()


def downgrade() -> None:
    _drop_indexes()
    op.execute("DELETE FROM monthly_reports WHERE town_id IS NULL AND id NOT IN"
               " (SELECT min(id) FROM monthly_reports WHERE town_id IS NULL GROUP BY month)")
    with op.batch_alter_table('monthly_reports') as batch:
        batch.drop_constraint(op.f('fk_monthly_reports_city_id_regions'), type_='foreignkey')
        batch.drop_column('city_id')
    op.create_index('ix_monthly_reports_city_month', 'monthly_reports', ['month'], unique=True,
                    postgresql_where=WHOLE, sqlite_where=WHOLE)
    _town_index()
