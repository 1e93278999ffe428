"""SMS opt-outs and subscription-notice choices.

- `sms_opt_outs`: one row per phone that replied TD / T / 退订 / N (opted out) or 订阅 / 恢复 (back in),
  as the SMS provider reported the reply; the phone stored as staff and beneficiary phones are, the
  decision and when it was replied, never the words. Unique on the phone: the provider retries.
- `notice_consents`: a WeChat user's latest choice (`accept` or `reject`, CHECK) for one
  subscription-notice template, unique per user and template.
- `outbox.status` allows `skipped`: an SMS the dispatcher did not send because its phone opted out.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

OUTBOX_STATUSES_0001 = ('pending', 'sending', 'sent', 'dead')


def _in(column: str, values) -> str:
    """A CHECK expression limiting `column` to `values`."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _outbox_statuses(values) -> None:
    """Replace the CHECK on outbox.status."""
    with op.batch_alter_table('outbox') as batch:
        batch.drop_constraint(op.f('ck_outbox_status_valid'), type_='check')
        batch.create_check_constraint(op.f('ck_outbox_status_valid'), sa.text(_in('status', values)))


def upgrade() -> None:
    op.create_table(
        'sms_opt_outs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('phone', sa.String(length=32), nullable=False),
        sa.Column('opted_out', sa.Boolean(), nullable=False),
        sa.Column('replied_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_opt_outs')),
        sa.UniqueConstraint('phone', name=op.f('uq_sms_opt_outs_phone')),
    )
    op.create_table(
        'notice_consents',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('wechat_user_id', sa.Integer(), nullable=False),
        sa.Column('template_id', sa.String(length=128), nullable=False),
        sa.Column('choice', sa.String(length=8), nullable=False),
        sa.Column('chosen_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(_in('choice', ('accept', 'reject')), name=op.f('ck_notice_consents_choice_valid')),
        sa.ForeignKeyConstraint(['wechat_user_id'], ['wechat_users.id'],
                                name=op.f('fk_notice_consents_wechat_user_id_wechat_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_notice_consents')),
        sa.UniqueConstraint('wechat_user_id', 'template_id',
                            name=op.f('uq_notice_consents_wechat_user_id_template_id')),
    )
    _outbox_statuses((*OUTBOX_STATUSES_0001, 'skipped'))


def downgrade() -> None:
    # A skipped SMS was never sent and never will be: it ends as a dead letter, with its reason.
    op.execute("UPDATE outbox SET status = 'dead' WHERE status = 'skipped'")
    _outbox_statuses(OUTBOX_STATUSES_0001)
    op.drop_table('notice_consents')
    op.drop_table('sms_opt_outs')
