"""Request channel: how a request reached us, WeChat or through a member of staff.

- `service_requests.channel`: `wechat`, `phone`, `home`, `walk_in` or `other` (微信 / 电话 / 上门 /
  来访 / 其他), checked by a CHECK constraint. Existing requests get the channel their source
  implies: WeChat requests `wechat`, problems found on a home visit `home`, requests the office
  entered `other`.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

CHANNELS = ('wechat', 'phone', 'home', 'walk_in', 'other')


def upgrade() -> None:
    with op.batch_alter_table('service_requests') as batch:
        batch.add_column(sa.Column('channel', sa.String(length=16), server_default='wechat', nullable=False))
    op.execute("UPDATE service_requests SET channel = 'home' WHERE source = 'visit'")
    op.execute("UPDATE service_requests SET channel = 'other' WHERE source = 'office'")
    allowed = ", ".join(f"'{value}'" for value in CHANNELS)
    with op.batch_alter_table('service_requests') as batch:
        batch.create_check_constraint(op.f('ck_service_requests_channel_valid'), sa.text(f"channel IN ({allowed})"))


def downgrade() -> None:
    with op.batch_alter_table('service_requests') as batch:
        batch.drop_constraint(op.f('ck_service_requests_channel_valid'), type_='check')
        batch.drop_column('channel')
