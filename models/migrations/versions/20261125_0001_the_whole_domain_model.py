"""The whole domain model: regions, people, requests, visits, messaging, jobs, audit, cards.

Revision ID: 0001
Revises:
Create Date: 2026-11-25 20:35:07.288880
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import models.base

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('job_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.String(length=64), nullable=False),
    sa.Column('due_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('detail', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_runs')),
    sa.UniqueConstraint('job_id', 'due_at', name=op.f('uq_job_runs_job_id_due_at'))
    )
    op.create_table('regions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('is_community', sa.Boolean(), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('office_phone', sa.String(length=32), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("level IN ('city', 'town', 'village')", name=op.f('ck_regions_level_valid')),
    sa.ForeignKeyConstraint(['parent_id'], ['regions.id'], name=op.f('fk_regions_parent_id_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_regions')),
    sa.UniqueConstraint('code', name=op.f('uq_regions_code'))
    )
    op.create_index(op.f('ix_regions_level'), 'regions', ['level'], unique=False)
    op.create_index(op.f('ix_regions_parent_id'), 'regions', ['parent_id'], unique=False)
    op.create_table('wechat_users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('openid', sa.String(length=64), nullable=False),
    sa.Column('subscribed', sa.Boolean(), nullable=False),
    sa.Column('subscribed_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('unsubscribed_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_message_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('dialog', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('dialog_expires_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_wechat_users')),
    sa.UniqueConstraint('openid', name=op.f('uq_wechat_users_openid'))
    )
    op.create_table('beneficiaries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=255), nullable=True),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('id_number_encrypted', sa.Text(), nullable=True),
    sa.Column('id_number_hash', sa.String(length=64), nullable=True),
    sa.Column('bind_code', sa.String(length=16), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['village_id'], ['regions.id'], name=op.f('fk_beneficiaries_village_id_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_beneficiaries')),
    sa.UniqueConstraint('bind_code', name=op.f('uq_beneficiaries_bind_code')),
    sa.UniqueConstraint('id_number_hash', name=op.f('uq_beneficiaries_id_number_hash'))
    )
    op.create_index(op.f('ix_beneficiaries_village_id'), 'beneficiaries', ['village_id'], unique=False)
    op.create_table('staff',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_no', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('wechat_user_id', sa.Integer(), nullable=True),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("role IN ('assistant', 'town_officer', 'city_supervisor', 'admin')", name=op.f('ck_staff_role_valid')),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_staff_region_id_regions')),
    sa.ForeignKeyConstraint(['wechat_user_id'], ['wechat_users.id'], name=op.f('fk_staff_wechat_user_id_wechat_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff')),
    sa.UniqueConstraint('staff_no', name=op.f('uq_staff_staff_no')),
    sa.UniqueConstraint('wechat_user_id', name=op.f('uq_staff_wechat_user_id'))
    )
    op.create_index('ix_staff_region_role_active', 'staff', ['region_id', 'role', 'active'], unique=False)
    op.create_table('assignments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('beneficiary_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('started_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('assigned_by_staff_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['assigned_by_staff_id'], ['staff.id'], name=op.f('fk_assignments_assigned_by_staff_id_staff')),
    sa.ForeignKeyConstraint(['beneficiary_id'], ['beneficiaries.id'], name=op.f('fk_assignments_beneficiary_id_beneficiaries')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_assignments_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assignments'))
    )
    op.create_index('ix_assignments_staff_active', 'assignments', ['staff_id', 'ended_at'], unique=False)
    op.create_index('uq_assignments_active_beneficiary', 'assignments', ['beneficiary_id'], unique=True, postgresql_where=sa.text('ended_at IS NULL'), sqlite_where=sa.text('ended_at IS NULL'))
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor_kind', sa.String(length=16), nullable=False),
    sa.Column('actor_staff_id', sa.Integer(), nullable=True),
    sa.Column('actor_label', sa.String(length=64), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('target_type', sa.String(length=32), nullable=True),
    sa.Column('target_id', sa.Integer(), nullable=True),
    sa.Column('detail', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('ip', sa.String(length=45), nullable=True),
    sa.CheckConstraint("actor_kind IN ('staff', 'wechat_user', 'system', 'admin_api')", name=op.f('ck_audit_log_actor_kind_valid')),
    sa.ForeignKeyConstraint(['actor_staff_id'], ['staff.id'], name=op.f('fk_audit_log_actor_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    op.create_index(op.f('ix_audit_log_action'), 'audit_log', ['action'], unique=False)
    op.create_index('ix_audit_log_actor_at', 'audit_log', ['actor_staff_id', 'at'], unique=False)
    op.create_index(op.f('ix_audit_log_at'), 'audit_log', ['at'], unique=False)
    op.create_index('ix_audit_log_target', 'audit_log', ['target_type', 'target_id'], unique=False)
    op.create_table('beneficiary_categories',
    sa.Column('beneficiary_id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.CheckConstraint("category IN ('低保', '特困', '留守老人', '留守儿童', '残疾人', '孤儿/困境儿童', '其他')", name=op.f('ck_beneficiary_categories_category_valid')),
    sa.ForeignKeyConstraint(['beneficiary_id'], ['beneficiaries.id'], name=op.f('fk_beneficiary_categories_beneficiary_id_beneficiaries'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('beneficiary_id', 'category', name=op.f('pk_beneficiary_categories'))
    )
    op.create_index(op.f('ix_beneficiary_categories_category'), 'beneficiary_categories', ['category'], unique=False)
    op.create_table('care_cards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('beneficiary_id', sa.Integer(), nullable=False),
    sa.Column('assistant_staff_id', sa.Integer(), nullable=True),
    sa.Column('qr_scene', sa.String(length=64), nullable=False),
    sa.Column('qr_ticket', sa.String(length=255), nullable=True),
    sa.Column('qr_url', sa.String(length=255), nullable=True),
    sa.Column('qr_expires_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('printed_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('outdated_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['assistant_staff_id'], ['staff.id'], name=op.f('fk_care_cards_assistant_staff_id_staff')),
    sa.ForeignKeyConstraint(['beneficiary_id'], ['beneficiaries.id'], name=op.f('fk_care_cards_beneficiary_id_beneficiaries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_care_cards'))
    )
    op.create_index('ix_care_cards_beneficiary_outdated', 'care_cards', ['beneficiary_id', 'outdated_at'], unique=False)
    op.create_table('family_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('beneficiary_id', sa.Integer(), nullable=False),
    sa.Column('wechat_user_id', sa.Integer(), nullable=False),
    sa.Column('relation', sa.String(length=16), nullable=False),
    sa.Column('notify', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('unbound_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("relation IN ('本人', '子女', '配偶', '其他亲属', '邻居或其他')", name=op.f('ck_family_links_relation_valid')),
    sa.ForeignKeyConstraint(['beneficiary_id'], ['beneficiaries.id'], name=op.f('fk_family_links_beneficiary_id_beneficiaries')),
    sa.ForeignKeyConstraint(['wechat_user_id'], ['wechat_users.id'], name=op.f('fk_family_links_wechat_user_id_wechat_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_family_links')),
    sa.UniqueConstraint('beneficiary_id', 'wechat_user_id', name=op.f('uq_family_links_beneficiary_id_wechat_user_id'))
    )
    op.create_index(op.f('ix_family_links_beneficiary_id'), 'family_links', ['beneficiary_id'], unique=False)
    op.create_index(op.f('ix_family_links_wechat_user_id'), 'family_links', ['wechat_user_id'], unique=False)
    op.create_table('staff_invites',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('expires_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('used_by_wechat_user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_staff_invites_staff_id_staff')),
    sa.ForeignKeyConstraint(['used_by_wechat_user_id'], ['wechat_users.id'], name=op.f('fk_staff_invites_used_by_wechat_user_id_wechat_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_invites')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_staff_invites_code_hash'))
    )
    op.create_index(op.f('ix_staff_invites_staff_id'), 'staff_invites', ['staff_id'], unique=False)
    op.create_table('visits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('beneficiary_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('visited_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('food', sa.String(length=8), nullable=False),
    sa.Column('food_note', sa.String(length=255), nullable=True),
    sa.Column('clothing', sa.String(length=8), nullable=False),
    sa.Column('clothing_note', sa.String(length=255), nullable=True),
    sa.Column('housing', sa.String(length=8), nullable=False),
    sa.Column('housing_note', sa.String(length=255), nullable=True),
    sa.Column('medical', sa.String(length=8), nullable=False),
    sa.Column('medical_note', sa.String(length=255), nullable=True),
    sa.Column('helped_daily_care', sa.Boolean(), nullable=False),
    sa.Column('helped_shopping', sa.Boolean(), nullable=False),
    sa.Column('helped_contact_family', sa.Boolean(), nullable=False),
    sa.Column('helped_policy', sa.Boolean(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("clothing IN ('ok', 'problem')", name=op.f('ck_visits_clothing_valid')),
    sa.CheckConstraint("food IN ('ok', 'problem')", name=op.f('ck_visits_food_valid')),
    sa.CheckConstraint("housing IN ('ok', 'problem')", name=op.f('ck_visits_housing_valid')),
    sa.CheckConstraint("medical IN ('ok', 'problem')", name=op.f('ck_visits_medical_valid')),
    sa.ForeignKeyConstraint(['beneficiary_id'], ['beneficiaries.id'], name=op.f('fk_visits_beneficiary_id_beneficiaries')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_visits_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_visits'))
    )
    op.create_index('ix_visits_beneficiary_visited', 'visits', ['beneficiary_id', 'visited_at'], unique=False)
    op.create_index('ix_visits_staff_visited', 'visits', ['staff_id', 'visited_at'], unique=False)
    op.create_table('service_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('beneficiary_id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('town_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('raised_by_wechat_user_id', sa.Integer(), nullable=True),
    sa.Column('raised_by_staff_id', sa.Integer(), nullable=True),
    sa.Column('visit_id', sa.Integer(), nullable=True),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('urgency', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('assignee_staff_id', sa.Integer(), nullable=True),
    sa.Column('escalation_level', sa.SmallInteger(), nullable=False),
    sa.Column('next_escalation_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('accept_deadline', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolve_deadline', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('acknowledged_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolution_note', sa.Text(), nullable=True),
    sa.Column('rating', sa.SmallInteger(), nullable=True),
    sa.Column('rating_comment', sa.Text(), nullable=True),
    sa.CheckConstraint("category IN ('吃', '穿', '住', '医', '帮购', '联系亲人', '政策', '其他')", name=op.f('ck_service_requests_category_valid')),
    sa.CheckConstraint("source IN ('wechat', 'visit', 'office')", name=op.f('ck_service_requests_source_valid')),
    sa.CheckConstraint("status IN ('open', 'acknowledged', 'resolved', 'closed', 'cancelled')", name=op.f('ck_service_requests_status_valid')),
    sa.CheckConstraint("urgency IN ('normal', 'urgent')", name=op.f('ck_service_requests_urgency_valid')),
    sa.CheckConstraint('rating IS NULL OR (rating BETWEEN 1 AND 5)', name=op.f('ck_service_requests_rating_range')),
    sa.ForeignKeyConstraint(['assignee_staff_id'], ['staff.id'], name=op.f('fk_service_requests_assignee_staff_id_staff')),
    sa.ForeignKeyConstraint(['beneficiary_id'], ['beneficiaries.id'], name=op.f('fk_service_requests_beneficiary_id_beneficiaries')),
    sa.ForeignKeyConstraint(['raised_by_staff_id'], ['staff.id'], name=op.f('fk_service_requests_raised_by_staff_id_staff')),
    sa.ForeignKeyConstraint(['raised_by_wechat_user_id'], ['wechat_users.id'], name=op.f('fk_service_requests_raised_by_wechat_user_id_wechat_users')),
    sa.ForeignKeyConstraint(['town_id'], ['regions.id'], name=op.f('fk_service_requests_town_id_regions')),
    sa.ForeignKeyConstraint(['village_id'], ['regions.id'], name=op.f('fk_service_requests_village_id_regions')),
    sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], name=op.f('fk_service_requests_visit_id_visits')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_requests'))
    )
    op.create_index('ix_service_requests_assignee_status', 'service_requests', ['assignee_staff_id', 'status'], unique=False)
    op.create_index('ix_service_requests_beneficiary_status', 'service_requests', ['beneficiary_id', 'status'], unique=False)
    op.create_index(op.f('ix_service_requests_created_at'), 'service_requests', ['created_at'], unique=False)
    op.create_index('ix_service_requests_status_next_escalation', 'service_requests', ['status', 'next_escalation_at'], unique=False)
    op.create_index('ix_service_requests_town_status', 'service_requests', ['town_id', 'status'], unique=False)
    op.create_index(op.f('ix_service_requests_village_id'), 'service_requests', ['village_id'], unique=False)
    op.create_table('inbound_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dedupe_key', sa.String(length=160), nullable=False),
    sa.Column('openid', sa.String(length=64), nullable=False),
    sa.Column('msg_type', sa.String(length=32), nullable=False),
    sa.Column('event', sa.String(length=48), nullable=True),
    sa.Column('msg_id', sa.BigInteger(), nullable=True),
    sa.Column('sent_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('received_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('content', sa.Text(), nullable=True),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('reply_xml', sa.Text(), nullable=True),
    sa.Column('handling_error', sa.String(length=120), nullable=True),
    sa.Column('request_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['request_id'], ['service_requests.id'], name=op.f('fk_inbound_messages_request_id_service_requests')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_messages')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_inbound_messages_dedupe_key'))
    )
    op.create_index('ix_inbound_messages_failed', 'inbound_messages', ['received_at'], unique=False, postgresql_where=sa.text('handling_error IS NOT NULL'), sqlite_where=sa.text('handling_error IS NOT NULL'))
    op.create_index(op.f('ix_inbound_messages_openid'), 'inbound_messages', ['openid'], unique=False)
    op.create_index(op.f('ix_inbound_messages_received_at'), 'inbound_messages', ['received_at'], unique=False)
    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=160), nullable=False),
    sa.Column('recipient_openid', sa.String(length=64), nullable=False),
    sa.Column('recipient_staff_id', sa.Integer(), nullable=True),
    sa.Column('request_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('claimed_until', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('wechat_msgid', sa.BigInteger(), nullable=True),
    sa.CheckConstraint("kind IN ('template', 'custom')", name=op.f('ck_outbox_kind_valid')),
    sa.CheckConstraint("status IN ('pending', 'sending', 'sent', 'dead')", name=op.f('ck_outbox_status_valid')),
    sa.ForeignKeyConstraint(['recipient_staff_id'], ['staff.id'], name=op.f('fk_outbox_recipient_staff_id_staff')),
    sa.ForeignKeyConstraint(['request_id'], ['service_requests.id'], name=op.f('fk_outbox_request_id_service_requests')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_outbox_idempotency_key'))
    )
    op.create_index('ix_outbox_recipient_kind_sent', 'outbox', ['recipient_openid', 'kind', 'sent_at'], unique=False)
    op.create_index(op.f('ix_outbox_request_id'), 'outbox', ['request_id'], unique=False)
    op.create_index('ix_outbox_status_next_attempt', 'outbox', ['status', 'next_attempt_at'], unique=False)
    op.create_index(op.f('ix_outbox_wechat_msgid'), 'outbox', ['wechat_msgid'], unique=False)
    op.create_table('request_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('actor_kind', sa.String(length=16), nullable=False),
    sa.Column('actor_staff_id', sa.Integer(), nullable=True),
    sa.Column('actor_wechat_user_id', sa.Integer(), nullable=True),
    sa.Column('inbound_message_id', sa.Integer(), nullable=True),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("actor_kind IN ('staff', 'wechat_user', 'system', 'admin_api')", name=op.f('ck_request_events_actor_kind_valid')),
    sa.CheckConstraint("kind IN ('created', 'message', 'acknowledged', 'reply', 'resolved', 'closed', 'cancelled', 'rated', 'escalated', 'reassigned', 'supervised', 'comment', 'push')", name=op.f('ck_request_events_kind_valid')),
    sa.ForeignKeyConstraint(['actor_staff_id'], ['staff.id'], name=op.f('fk_request_events_actor_staff_id_staff')),
    sa.ForeignKeyConstraint(['actor_wechat_user_id'], ['wechat_users.id'], name=op.f('fk_request_events_actor_wechat_user_id_wechat_users')),
    sa.ForeignKeyConstraint(['inbound_message_id'], ['inbound_messages.id'], name=op.f('fk_request_events_inbound_message_id_inbound_messages')),
    sa.ForeignKeyConstraint(['request_id'], ['service_requests.id'], name=op.f('fk_request_events_request_id_service_requests')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_request_events'))
    )
    op.create_index('ix_request_events_request_created', 'request_events', ['request_id', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_request_events_request_created', table_name='request_events')
    op.drop_table('request_events')
    op.drop_index(op.f('ix_outbox_wechat_msgid'), table_name='outbox')
    op.drop_index('ix_outbox_status_next_attempt', table_name='outbox')
    op.drop_index(op.f('ix_outbox_request_id'), table_name='outbox')
    op.drop_index('ix_outbox_recipient_kind_sent', table_name='outbox')
    op.drop_table('outbox')
    op.drop_index(op.f('ix_inbound_messages_received_at'), table_name='inbound_messages')
    op.drop_index(op.f('ix_inbound_messages_openid'), table_name='inbound_messages')
    op.drop_index('ix_inbound_messages_failed', table_name='inbound_messages', postgresql_where=sa.text('handling_error IS NOT NULL'), sqlite_where=sa.text('handling_error IS NOT NULL'))
    op.drop_table('inbound_messages')
    op.drop_index(op.f('ix_service_requests_village_id'), table_name='service_requests')
    op.drop_index('ix_service_requests_town_status', table_name='service_requests')
    op.drop_index('ix_service_requests_status_next_escalation', table_name='service_requests')
    op.drop_index(op.f('ix_service_requests_created_at'), table_name='service_requests')
    op.drop_index('ix_service_requests_beneficiary_status', table_name='service_requests')
    op.drop_index('ix_service_requests_assignee_status', table_name='service_requests')
    op.drop_table('service_requests')
    op.drop_index('ix_visits_staff_visited', table_name='visits')
    op.drop_index('ix_visits_beneficiary_visited', table_name='visits')
    op.drop_table('visits')
    op.drop_index(op.f('ix_staff_invites_staff_id'), table_name='staff_invites')
    op.drop_table('staff_invites')
    op.drop_index(op.f('ix_family_links_wechat_user_id'), table_name='family_links')
    op.drop_index(op.f('ix_family_links_beneficiary_id'), table_name='family_links')
    op.drop_table('family_links')
    op.drop_index('ix_care_cards_beneficiary_outdated', table_name='care_cards')
    op.drop_table('care_cards')
    op.drop_index(op.f('ix_beneficiary_categories_category'), table_name='beneficiary_categories')
    op.drop_table('beneficiary_categories')
    op.drop_index('ix_audit_log_target', table_name='audit_log')
    op.drop_index(op.f('ix_audit_log_at'), table_name='audit_log')
    op.drop_index('ix_audit_log_actor_at', table_name='audit_log')
    op.drop_index(op.f('ix_audit_log_action'), table_name='audit_log')
    op.drop_table('audit_log')
    op.drop_index('uq_assignments_active_beneficiary', table_name='assignments', postgresql_where=sa.text('ended_at IS NULL'), sqlite_where=sa.text('ended_at IS NULL'))
    op.drop_index('ix_assignments_staff_active', table_name='assignments')
    op.drop_table('assignments')
    op.drop_index('ix_staff_region_role_active', table_name='staff')
    op.drop_table('staff')
    op.drop_index(op.f('ix_beneficiaries_village_id'), table_name='beneficiaries')
    op.drop_table('beneficiaries')
    op.drop_table('wechat_users')
    op.drop_index(op.f('ix_regions_parent_id'), table_name='regions')
    op.drop_index(op.f('ix_regions_level'), table_name='regions')
    op.drop_table('regions')
    op.drop_table('job_runs')
