"""The 包联 responsibility chain: each village's responsible town officer and deputy, the city's
departments with their two liaisons, the on-duty rota, and a repeat counter for the last rung.

Nothing is filled in: where no one is named, the service spreads villages and departments among
the people there by default (services/policy/chain.py), so an upgraded city escalates one person
at a time from its first scan.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import models.base

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

DEPUTY_DIFFERS = "deputy_staff_id IS NULL OR responsible_staff_id IS NULL OR deputy_staff_id <> responsible_staff_id"


def upgrade() -> None:
    op.create_table('village_officers',
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('responsible_staff_id', sa.Integer(), nullable=True),
    sa.Column('deputy_staff_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint(DEPUTY_DIFFERS, name=op.f('ck_village_officers_deputy_differs')),
    sa.ForeignKeyConstraint(['deputy_staff_id'], ['staff.id'], name=op.f('fk_village_officers_deputy_staff_id_staff')),
    sa.ForeignKeyConstraint(['responsible_staff_id'], ['staff.id'], name=op.f('fk_village_officers_responsible_staff_id_staff')),
    sa.ForeignKeyConstraint(['village_id'], ['regions.id'], name=op.f('fk_village_officers_village_id_regions')),
    sa.PrimaryKeyConstraint('village_id', name=op.f('pk_village_officers'))
    )
    op.create_table('departments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('city_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('responsible_staff_id', sa.Integer(), nullable=True),
    sa.Column('deputy_staff_id', sa.Integer(), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint(DEPUTY_DIFFERS, name=op.f('ck_departments_deputy_differs')),
    sa.ForeignKeyConstraint(['city_id'], ['regions.id'], name=op.f('fk_departments_city_id_regions')),
    sa.ForeignKeyConstraint(['deputy_staff_id'], ['staff.id'], name=op.f('fk_departments_deputy_staff_id_staff')),
    sa.ForeignKeyConstraint(['responsible_staff_id'], ['staff.id'], name=op.f('fk_departments_responsible_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_departments')),
    sa.UniqueConstraint('city_id', 'code', name=op.f('uq_departments_city_id_code'))
    )
    op.create_table('duty_shifts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('starts_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_duty_shifts_ends_after_start')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_duty_shifts_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_duty_shifts'))
    )
    op.create_index('ix_duty_shifts_ends_at', 'duty_shifts', ['ends_at'], unique=False)
    op.create_index(op.f('ix_duty_shifts_staff_id'), 'duty_shifts', ['staff_id'], unique=False)
    with op.batch_alter_table('service_requests') as batch:
        batch.add_column(sa.Column('escalation_repeats', sa.SmallInteger(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('service_requests') as batch:
        batch.drop_column('escalation_repeats')
    op.drop_index(op.f('ix_duty_shifts_staff_id'), table_name='duty_shifts')
    op.drop_index('ix_duty_shifts_ends_at', table_name='duty_shifts')
    op.drop_table('duty_shifts')
    op.drop_table('departments')
    op.drop_table('village_officers')
