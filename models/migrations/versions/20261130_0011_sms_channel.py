"""SMS as a channel of the outbox.

- `outbox.kind` allows `sms`: a text message through the SMS provider (a registered template and
  its parameters in the payload), with the same key, retries, backoff and dead letters as a push.
- `outbox.recipient_phone`: the phone an SMS row goes to, stored as `staff.phone` and
  `beneficiaries.phone` are; emptied with the payload when old rows are purged. Indexed with
  `sent_at` for our own per-phone rate limits.
- `outbox.recipient_openid` may be empty: an SMS row has no WeChat recipient.
- `outbox.provider_message_id`: the provider's id for a sent SMS (Aliyun's BizId), to trace it.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

OUTBOX_KINDS_0007 = ('template', 'custom', 'skipped')


def _in(column: str, values) -> str:
    """A CHECK expression limiting `column` to `values`."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    # One batch: SQLite rebuilds the table once; PostgreSQL alters it in place.
    with op.batch_alter_table('outbox') as batch:
        batch.drop_constraint(op.f('ck_outbox_kind_valid'), type_='check')
        batch.create_check_constraint(op.f('ck_outbox_kind_valid'), sa.text(_in('kind', (*OUTBOX_KINDS_0007, 'sms'))))
        batch.alter_column('recipient_openid', existing_type=sa.String(length=64), nullable=True)
        batch.add_column(sa.Column('recipient_phone', sa.String(length=32), nullable=True))
        batch.add_column(sa.Column('provider_message_id', sa.String(length=64), nullable=True))
    op.create_index('ix_outbox_phone_sent', 'outbox', ['recipient_phone', 'sent_at'], unique=False,
                    postgresql_where=sa.text('recipient_phone IS NOT NULL'),
                    sqlite_where=sa.text('recipient_phone IS NOT NULL'))


def downgrade() -> None:
    op.drop_index('ix_outbox_phone_sent', table_name='outbox',
                  postgresql_where=sa.text('recipient_phone IS NOT NULL'),
                  sqlite_where=sa.text('recipient_phone IS NOT NULL'))
    op.execute("DELETE FROM outbox WHERE kind = 'sms'")
    with op.batch_alter_table('outbox') as batch:
        batch.drop_column('provider_message_id')
        batch.drop_column('recipient_phone')
        batch.alter_column('recipient_openid', existing_type=sa.String(length=64), nullable=False)
        batch.drop_constraint(op.f('ck_outbox_kind_valid'), type_='check')
        batch.create_check_constraint(op.f('ck_outbox_kind_valid'), sa.text(_in('kind', OUTBOX_KINDS_0007)))
