"""assistant: intents, model versions, flows, escalation policy, decisions, canned responses, payments

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 01:48:57.558007
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('assistant_flows',
    sa.Column('workspace_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('definition', sa.JSON(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_assistant_flows_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assistant_flows')),
    sa.UniqueConstraint('workspace_id', 'name', 'version', name=op.f('uq_assistant_flows_workspace_id_name_version'))
    )
    with op.batch_alter_table('assistant_flows', schema=None) as batch_op:
        batch_op.create_index('ix_assistant_flows_active', ['workspace_id', 'name', 'is_active'], unique=False)
        batch_op.create_index(batch_op.f('ix_assistant_flows_workspace_id'), ['workspace_id'], unique=False)

    op.create_table('assistant_intents',
    sa.Column('workspace_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=False),
    sa.Column('examples', sa.JSON(), nullable=False),
    sa.Column('response', sa.Text(), nullable=True),
    sa.Column('flow', sa.String(length=100), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_assistant_intents_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assistant_intents')),
    sa.UniqueConstraint('workspace_id', 'name', name=op.f('uq_assistant_intents_workspace_id_name'))
    )
    with op.batch_alter_table('assistant_intents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assistant_intents_workspace_id'), ['workspace_id'], unique=False)

    op.create_table('assistant_models',
    sa.Column('workspace_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_assistant_models_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assistant_models')),
    sa.UniqueConstraint('workspace_id', 'version', name=op.f('uq_assistant_models_workspace_id_version'))
    )
    with op.batch_alter_table('assistant_models', schema=None) as batch_op:
        batch_op.create_index('ix_assistant_models_active', ['workspace_id', 'is_active'], unique=False)
        batch_op.create_index(batch_op.f('ix_assistant_models_workspace_id'), ['workspace_id'], unique=False)

    op.create_table('assistant_policies',
    sa.Column('workspace_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('rules', sa.JSON(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_assistant_policies_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assistant_policies')),
    sa.UniqueConstraint('workspace_id', 'version', name=op.f('uq_assistant_policies_workspace_id_version'))
    )
    with op.batch_alter_table('assistant_policies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assistant_policies_workspace_id'), ['workspace_id'], unique=False)

    op.create_table('canned_responses',
    sa.Column('workspace_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('shortcut', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('team_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_canned_responses_team_id_teams'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_canned_responses_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_canned_responses')),
    sa.UniqueConstraint('workspace_id', 'shortcut', name=op.f('uq_canned_responses_workspace_id_shortcut'))
    )
    with op.batch_alter_table('canned_responses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_canned_responses_workspace_id'), ['workspace_id'], unique=False)

    op.create_table('assistant_flow_sessions',
    sa.Column('workspace_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('conversation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('flow_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('flow_name', sa.String(length=100), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('step', sa.String(length=100), nullable=False),
    sa.Column('slots', sa.JSON(), nullable=False),
    sa.Column('state', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_assistant_flow_sessions_conversation_id_conversations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['flow_id'], ['assistant_flows.id'], name=op.f('fk_assistant_flow_sessions_flow_id_assistant_flows'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_assistant_flow_sessions_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assistant_flow_sessions'))
    )
    with op.batch_alter_table('assistant_flow_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assistant_flow_sessions_workspace_id'), ['workspace_id'], unique=False)
        batch_op.create_index('ix_flow_sessions_conversation', ['conversation_id', 'status'], unique=False)

    op.create_table('assistant_action_calls',
    sa.Column('workspace_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('flow_session_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('conversation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('action', sa.String(length=100), nullable=False),
    sa.Column('request', sa.JSON(), nullable=False),
    sa.Column('response', sa.JSON(), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('lane', sa.String(length=120), nullable=False),
    sa.Column('available_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lease_owner', sa.String(length=64), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_assistant_action_calls_conversation_id_conversations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['flow_session_id'], ['assistant_flow_sessions.id'], name=op.f('fk_assistant_action_calls_flow_session_id_assistant_flow_sessions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_assistant_action_calls_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assistant_action_calls'))
    )
    with op.batch_alter_table('assistant_action_calls', schema=None) as batch_op:
        batch_op.create_index('ix_action_calls_due', ['status', 'available_at'], unique=False)
        batch_op.create_index('ix_action_calls_lane', ['lane', 'status', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_assistant_action_calls_workspace_id'), ['workspace_id'], unique=False)

    op.create_table('assistant_decisions',
    sa.Column('workspace_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('conversation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('message_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('rule', sa.String(length=100), nullable=False),
    sa.Column('intent', sa.String(length=100), nullable=True),
    sa.Column('confidence', sa.Double(), nullable=False),
    sa.Column('language', sa.String(length=16), nullable=True),
    sa.Column('sentiment', sa.Double(), nullable=True),
    sa.Column('team_slug', sa.String(length=64), nullable=True),
    sa.Column('scores', sa.JSON(), nullable=False),
    sa.Column('model_version', sa.String(length=64), nullable=True),
    sa.Column('policy_version', sa.Integer(), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_assistant_decisions_conversation_id_conversations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_assistant_decisions_message_id_messages'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_assistant_decisions_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assistant_decisions'))
    )
    with op.batch_alter_table('assistant_decisions', schema=None) as batch_op:
        batch_op.create_index('ix_assistant_decisions_conversation', ['conversation_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_assistant_decisions_workspace_id'), ['workspace_id'], unique=False)

    op.create_table('payment_requests',
    sa.Column('workspace_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('conversation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('contact_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('flow_session_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('reference', sa.String(length=100), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('payment_url', sa.String(length=1000), nullable=True),
    sa.Column('decided_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_payment_requests_contact_id_contacts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_payment_requests_conversation_id_conversations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['decided_by'], ['agents.id'], name=op.f('fk_payment_requests_decided_by_agents'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['flow_session_id'], ['assistant_flow_sessions.id'], name=op.f('fk_payment_requests_flow_session_id_assistant_flow_sessions'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_payment_requests_workspace_id_workspaces'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_requests'))
    )
    with op.batch_alter_table('payment_requests', schema=None) as batch_op:
        batch_op.create_index('ix_payment_requests_conversation', ['conversation_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_payment_requests_workspace_id'), ['workspace_id'], unique=False)

    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('handed_off_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('first_response_due_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('first_agent_reply_at', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('knowledge_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=16), nullable=False, server_default='faq'))
        batch_op.add_column(sa.Column('body', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('url', sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column('language', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('is_published', sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()))

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=16), nullable=True))

    with op.batch_alter_table('teams', schema=None) as batch_op:
        batch_op.add_column(sa.Column('languages', sa.String(length=100), nullable=False, server_default='en'))



def downgrade() -> None:
    with op.batch_alter_table('teams', schema=None) as batch_op:
        batch_op.drop_column('languages')

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_column('language')

    with op.batch_alter_table('knowledge_entries', schema=None) as batch_op:
        batch_op.drop_column('updated_at')
        batch_op.drop_column('is_published')
        batch_op.drop_column('language')
        batch_op.drop_column('url')
        batch_op.drop_column('body')
        batch_op.drop_column('kind')

    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_column('first_agent_reply_at')
        batch_op.drop_column('first_response_due_at')
        batch_op.drop_column('handed_off_at')

    with op.batch_alter_table('payment_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_requests_workspace_id'))
        batch_op.drop_index('ix_payment_requests_conversation')

    op.drop_table('payment_requests')
    with op.batch_alter_table('assistant_decisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assistant_decisions_workspace_id'))
        batch_op.drop_index('ix_assistant_decisions_conversation')

    op.drop_table('assistant_decisions')
    with op.batch_alter_table('assistant_action_calls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assistant_action_calls_workspace_id'))
        batch_op.drop_index('ix_action_calls_lane')
        batch_op.drop_index('ix_action_calls_due')

    op.drop_table('assistant_action_calls')
    with op.batch_alter_table('assistant_flow_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_flow_sessions_conversation')
        batch_op.drop_index(batch_op.f('ix_assistant_flow_sessions_workspace_id'))

    op.drop_table('assistant_flow_sessions')
    with op.batch_alter_table('canned_responses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_canned_responses_workspace_id'))

    op.drop_table('canned_responses')
    with op.batch_alter_table('assistant_policies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assistant_policies_workspace_id'))

    op.drop_table('assistant_policies')
    with op.batch_alter_table('assistant_models', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assistant_models_workspace_id'))
        batch_op.drop_index('ix_assistant_models_active')

    op.drop_table('assistant_models')
    with op.batch_alter_table('assistant_intents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assistant_intents_workspace_id'))

    op.drop_table('assistant_intents')
    with op.batch_alter_table('assistant_flows', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assistant_flows_workspace_id'))
        batch_op.drop_index('ix_assistant_flows_active')

    op.drop_table('assistant_flows')
