"""A province above the cities, and its administrator.

- `regions.level` allows `province` (a deployment of several cities hangs them under one);
- `staff.role` allows `province_admin` (sees every city of the deployment).

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

LEVELS_0001 = ('city', 'town', 'village')
ROLES_0001 = ('assistant', 'town_officer', 'city_supervisor', 'admin')


def _in(column: str, values) -> str:
    """A CHECK expression limiting `column` to `values`."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _checks(levels, roles) -> None:
    """Replace the CHECKs on regions.level and staff.role."""
    with op.batch_alter_table('regions') as batch:
        batch.drop_constraint(op.f('ck_regions_level_valid'), type_='check')
        batch.create_check_constraint(op.f('ck_regions_level_valid'), sa.text(_in('level', levels)))
    with op.batch_alter_table('staff') as batch:
        batch.drop_constraint(op.f('ck_staff_role_valid'), type_='check')
        batch.create_check_constraint(op.f('ck_staff_role_valid'), sa.text(_in('role', roles)))


def upgrade() -> None:
    _checks(('province', *LEVELS_0001), (*ROLES_0001, 'province_admin'))


def downgrade() -> None:
    _checks(LEVELS_0001, ROLES_0001)
