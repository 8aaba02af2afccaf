"""reminders the scheduled jobs have sent

One row per reminder (kind, object, user, window), so no reminder is sent twice.

Revision ID: e41a7c9b3d26
Revises: d4a1c7e9b2f3
Create Date: 2026-12-06 20:20:00

"""

from alembic import op
import sqlalchemy as sa

import academy.util


# revision identifiers, used by Alembic.
revision = 'e41a7c9b3d26'
down_revision = 'd4a1c7e9b2f3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'sent_reminders',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('object_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('window', sa.String(length=40), nullable=False),
        sa.Column('mail_id', sa.Integer(), nullable=True),
        sa.Column('sent_at', academy.util.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['mail_id'], ['outbox_mails.id'], name=op.f('fk_sent_reminders_mail_id_outbox_mails'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_sent_reminders_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sent_reminders')),
        sa.UniqueConstraint('kind', 'object_id', 'user_id', 'window',
                            name=op.f('uq_sent_reminders_kind_object_id_user_id_window')),
    )
    with op.batch_alter_table('sent_reminders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sent_reminders_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('sent_reminders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sent_reminders_user_id'))
    op.drop_table('sent_reminders')
