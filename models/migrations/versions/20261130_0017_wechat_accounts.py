"""Several official accounts in one deployment.

- `wechat_accounts`: an official account beyond the settings' default one, with the slug of its
  webhook (`/wechat/<slug>`), the city it serves, its AppID, and its Token, EncodingAESKey and
  AppSecret encrypted with PII_KEY, and its own ids of the two message templates;
- `wechat_users.account_id`: the account the openid follows (NULL: the default account);
- `inbound_messages.account_id`: the account a message came through (NULL: the default account).

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'wechat_accounts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('slug', sa.String(length=32), nullable=False),
        sa.Column('region_id', sa.Integer(), nullable=False),
        sa.Column('app_id', sa.String(length=32), nullable=False),
        sa.Column('token_encrypted', sa.Text(), nullable=False),
        sa.Column('aes_key_encrypted', sa.Text(), nullable=False),
        sa.Column('app_secret_encrypted', sa.Text(), nullable=False),
        sa.Column('template_task', sa.String(length=128), nullable=True),
        sa.Column('template_progress', sa.String(length=128), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_wechat_accounts_region_id_regions')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_wechat_accounts')),
        sa.UniqueConstraint('slug', name=op.f('uq_wechat_accounts_slug')),
        sa.UniqueConstraint('app_id', name=op.f('uq_wechat_accounts_app_id')),
    )
    op.create_index(op.f('ix_wechat_accounts_region_id'), 'wechat_accounts', ['region_id'])
    for table in ('wechat_users', 'inbound_messages'):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('account_id', sa.Integer(), nullable=True))
            batch.create_foreign_key(op.f(f'fk_{table}_account_id_wechat_accounts'), 'wechat_accounts',
                                     ['account_id'], ['id'])


def downgrade() -> None:
    for table in ('inbound_messages', 'wechat_users'):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(f'fk_{table}_account_id_wechat_accounts'), type_='foreignkey')
            batch.drop_column('account_id')
    op.drop_index(op.f('ix_wechat_accounts_region_id'), table_name='wechat_accounts')
    op.drop_table('wechat_accounts')
