"""Visit plan on beneficiaries: the strictest category's period and the latest visit, so coverage
over a whole city is one pass over one table.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 21:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import models.base

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# The periods as they were when this revision was written (config/policy.py may change later;
# the application recomputes them whenever categories change).
PERIODS = {"特困": 7, "留守老人": 7, "留守儿童": 14, "残疾人": 14, "孤儿/困境儿童": 14, "低保": 30, "其他": 30}


def upgrade() -> None:
    with op.batch_alter_table("beneficiaries") as batch:
        batch.add_column(sa.Column("visit_every_days", sa.SmallInteger(), server_default="30", nullable=False))
        batch.add_column(sa.Column("last_visited_at", models.base.UTCDateTime(timezone=True), nullable=True))
    whens = " ".join(f"WHEN '{category}' THEN {days}" for category, days in PERIODS.items())
    op.execute(
        # PERIODS is this migration's own constant table, never input.
        "UPDATE beneficiaries SET visit_every_days = COALESCE(("  # nosec B608
        f"SELECT MIN(CASE c.category {whens} ELSE 30 END) FROM beneficiary_categories c "
        "WHERE c.beneficiary_id = beneficiaries.id), 30)"
    )
    op.execute(
        "UPDATE beneficiaries SET last_visited_at = ("
        "SELECT MAX(v.visited_at) FROM visits v WHERE v.beneficiary_id = beneficiaries.id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("beneficiaries") as batch:
        batch.drop_column("last_visited_at")
        batch.drop_column("visit_every_days")
