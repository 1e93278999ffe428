"""报平安 check-ins and silences.

- `beneficiaries`: `lives_alone` (独居); `checkin_plan` (`daily`, `weekly` or `off`, CHECK) and
  `checkin_plan_by_staff` (false: the plan follows the categories and living alone); the last
  check-in, and the last sign of life of any kind with its kind (`last_contact_at`,
  `last_contact_kind`). A partial index holds only the people on a plan, for the check-in scans.
  Everyone starts with no plan: nobody is recorded as living alone yet.
- `checkins`: every "I am fine today", with its source and the village at the time.
- `silences`: one row per beneficiary and period without a sign of life by the set hour, unique, so
  the family reminder and the assistant's task happen once.
- `service_requests.category` allows `联系` (a call or visit the system asks for) and
  `service_requests.source` allows `silence` (raised by the check-in scan).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

CATEGORIES_0001 = ('吃', '穿', '住', '医', '帮购', '联系亲人', '政策', '其他')
SOURCES_0001 = ('wechat', 'visit', 'office')
PLANS = ('daily', 'weekly', 'off')
CONTACT_KINDS = ('checkin', 'message', 'visit', 'staff')
CHECKIN_SOURCES = ('menu', 'text', 'voice', 'staff')


def _in(column: str, values) -> str:
    """A CHECK expression limiting `column` to `values`."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _request_checks(categories, sources) -> None:
    """Replace the CHECKs on service_requests' category and source."""
    with op.batch_alter_table('service_requests') as batch:
        batch.drop_constraint(op.f('ck_service_requests_category_valid'), type_='check')
        batch.drop_constraint(op.f('ck_service_requests_source_valid'), type_='check')
        batch.create_check_constraint(op.f('ck_service_requests_category_valid'), sa.text(_in('category', categories)))
        batch.create_check_constraint(op.f('ck_service_requests_source_valid'), sa.text(_in('source', sources)))


def upgrade() -> None:
    with op.batch_alter_table('beneficiaries') as batch:
        batch.add_column(sa.Column('lives_alone', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column('checkin_plan', sa.String(length=8), server_default='off', nullable=False))
        batch.add_column(sa.Column('checkin_plan_by_staff', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column('last_checkin_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('last_contact_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('last_contact_kind', sa.String(length=16), nullable=True))
        batch.create_check_constraint(op.f('ck_beneficiaries_checkin_plan_valid'), sa.text(_in('checkin_plan', PLANS)))
        batch.create_check_constraint(op.f('ck_beneficiaries_last_contact_kind_valid'),
                                      sa.text(_in('last_contact_kind', CONTACT_KINDS)))
    op.create_index('ix_beneficiaries_checkin_due', 'beneficiaries', ['checkin_plan', 'last_contact_at'], unique=False,
                    postgresql_where=sa.text("checkin_plan <> 'off' AND active"),
                    sqlite_where=sa.text("checkin_plan <> 'off' AND active"))
    _request_checks((*CATEGORIES_0001, '联系'), (*SOURCES_0001, 'silence'))

    op.create_table(
        'checkins',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('beneficiary_id', sa.Integer(), nullable=False),
        sa.Column('village_id', sa.Integer(), nullable=False),
        sa.Column('source', sa.String(length=8), nullable=False),
        sa.Column('wechat_user_id', sa.Integer(), nullable=True),
        sa.Column('staff_id', sa.Integer(), nullable=True),
        sa.Column('checked_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(_in('source', CHECKIN_SOURCES), name=op.f('ck_checkins_source_valid')),
        sa.ForeignKeyConstraint(['beneficiary_id'], ['beneficiaries.id'],
                                name=op.f('fk_checkins_beneficiary_id_beneficiaries')),
        sa.ForeignKeyConstraint(['village_id'], ['regions.id'], name=op.f('fk_checkins_village_id_regions')),
        sa.ForeignKeyConstraint(['wechat_user_id'], ['wechat_users.id'],
                                name=op.f('fk_checkins_wechat_user_id_wechat_users')),
        sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_checkins_staff_id_staff')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_checkins')),
    )
    op.create_index('ix_checkins_beneficiary_checked', 'checkins', ['beneficiary_id', 'checked_at'], unique=False)
    op.create_index('ix_checkins_village_checked', 'checkins', ['village_id', 'checked_at'], unique=False)

    op.create_table(
        'silences',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('beneficiary_id', sa.Integer(), nullable=False),
        sa.Column('village_id', sa.Integer(), nullable=False),
        sa.Column('town_id', sa.Integer(), nullable=False),
        sa.Column('plan', sa.String(length=8), nullable=False),
        sa.Column('period_start', sa.Date(), nullable=False),
        sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('raised_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('request_id', sa.Integer(), nullable=True),
        sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('ended_by', sa.String(length=16), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(_in('plan', ('daily', 'weekly')), name=op.f('ck_silences_plan_valid')),
        sa.CheckConstraint(_in('ended_by', CONTACT_KINDS), name=op.f('ck_silences_ended_by_valid')),
        sa.ForeignKeyConstraint(['beneficiary_id'], ['beneficiaries.id'],
                                name=op.f('fk_silences_beneficiary_id_beneficiaries')),
        sa.ForeignKeyConstraint(['village_id'], ['regions.id'], name=op.f('fk_silences_village_id_regions')),
        sa.ForeignKeyConstraint(['town_id'], ['regions.id'], name=op.f('fk_silences_town_id_regions')),
        sa.ForeignKeyConstraint(['request_id'], ['service_requests.id'],
                                name=op.f('fk_silences_request_id_service_requests')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_silences')),
        sa.UniqueConstraint('beneficiary_id', 'period_start', name=op.f('uq_silences_beneficiary_id_period_start')),
    )
    op.create_index('ix_silences_town_period', 'silences', ['town_id', 'period_start'], unique=False)
    op.create_index('ix_silences_period_raised', 'silences', ['period_start', 'raised_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_silences_period_raised', table_name='silences')
    op.drop_index('ix_silences_town_period', table_name='silences')
    op.drop_table('silences')
    op.drop_index('ix_checkins_village_checked', table_name='checkins')
    op.drop_index('ix_checkins_beneficiary_checked', table_name='checkins')
    op.drop_table('checkins')
    # Cases the scan raised stay, as cases the office raised about "other" things.
    op.execute("UPDATE service_requests SET category = '其他' WHERE category = '联系'")
    op.execute("UPDATE service_requests SET source = 'office' WHERE source = 'silence'")
    _request_checks(CATEGORIES_0001, SOURCES_0001)
    op.drop_index('ix_beneficiaries_checkin_due', table_name='beneficiaries',
                  postgresql_where=sa.text("checkin_plan <> 'off' AND active"),
                  sqlite_where=sa.text("checkin_plan <> 'off' AND active"))
    with op.batch_alter_table('beneficiaries') as batch:
        batch.drop_constraint(op.f('ck_beneficiaries_last_contact_kind_valid'), type_='check')
        batch.drop_constraint(op.f('ck_beneficiaries_checkin_plan_valid'), type_='check')
        batch.drop_column('last_contact_kind')
        batch.drop_column('last_contact_at')
        batch.drop_column('last_checkin_at')
        batch.drop_column('checkin_plan_by_staff')
        batch.drop_column('checkin_plan')
        batch.drop_column('lives_alone')
