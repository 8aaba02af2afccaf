"""server-side sessions, invitations, tokens linked to sessions

user_sessions: one row per sign-in, so logout ends it on the server (a copied cookie stops working).
oauth_codes.session_id, oauth_tokens.session_id: the sign-in a hub token came through, revoked with it.
invitations: imported trainees' one-time links to set their own password.

Revision ID: c58626744cfc
Revises: 3c0f47ad7de0
Create Date: 2026-12-06 02:56:39.169987

"""
from alembic import op
import sqlalchemy as sa

import academy.util


# revision identifiers, used by Alembic.
revision = 'c58626744cfc'
down_revision = '3c0f47ad7de0'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('user_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', academy.util.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', academy.util.UTCDateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.String(length=20), nullable=True),
    sa.Column('ip', sa.String(length=45), nullable=True),
    sa.Column('user_agent', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_sessions')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_user_sessions_key_hash'))
    )
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_sessions_user_id'), ['user_id'], unique=False)

    op.create_table('invitations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('university_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('nonce', sa.String(length=32), nullable=False),
    sa.Column('created_at', academy.util.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', academy.util.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', academy.util.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sent_at', academy.util.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_invitations_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['university_id'], ['universities.id'], name=op.f('fk_invitations_university_id_universities'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_invitations_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invitations')),
    sa.UniqueConstraint('user_id', name=op.f('uq_invitations_user_id'))
    )
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invitations_university_id'), ['university_id'], unique=False)

    for table in ('oauth_codes', 'oauth_tokens'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('session_id', sa.Integer(), nullable=True))
            batch_op.create_index(batch_op.f(f'ix_{table}_session_id'), ['session_id'], unique=False)
            batch_op.create_foreign_key(batch_op.f(f'fk_{table}_session_id_user_sessions'), 'user_sessions',
                                        ['session_id'], ['id'], ondelete='SET NULL')


def downgrade():
    for table in ('oauth_tokens', 'oauth_codes'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(f'fk_{table}_session_id_user_sessions'), type_='foreignkey')
            batch_op.drop_index(batch_op.f(f'ix_{table}_session_id'))
            batch_op.drop_column('session_id')

    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invitations_university_id'))
    op.drop_table('invitations')

    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_sessions_user_id'))
    op.drop_table('user_sessions')
