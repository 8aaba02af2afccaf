"""the portal's e-mail outbox

Every e-mail the portal writes is kept (outbox_mails), sent through SMTP where one is configured.

Revision ID: b7f3e9a2c4d1
Revises: 9e4d2b7c1a55
Create Date: 2026-12-06 15:00:00

"""

from alembic import op
import sqlalchemy as sa

import academy.util


# revision identifiers, used by Alembic.
revision = 'b7f3e9a2c4d1'
down_revision = '9e4d2b7c1a55'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'outbox_mails',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('created_at', academy.util.UTCDateTime(timezone=True), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('to_address', sa.String(length=254), nullable=False),
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('subject', sa.String(length=200), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('sent_at', academy.util.UTCDateTime(timezone=True), nullable=True),
        sa.Column('error', sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_outbox_mails_user_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_mails')),
    )
    with op.batch_alter_table('outbox_mails', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_mails_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_mails_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('outbox_mails', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_mails_user_id'))
        batch_op.drop_index(batch_op.f('ix_outbox_mails_created_at'))
    op.drop_table('outbox_mails')
