"""archived courses and retired skills

A course the office archives keeps its history but is hidden from trainees and closed to releases; a skill the
office retires is offered for nothing new while the evidence already recorded keeps pointing at it.

Revision ID: a7c3e1f05b92
Revises: e41a7c9b3d26
Create Date: 2026-12-06 20:40:00

"""

import sqlalchemy as sa
from alembic import op

import academy.util

# revision identifiers, used by Alembic.
revision = 'a7c3e1f05b92'
down_revision = 'e41a7c9b3d26'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('archived_at', academy.util.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('skills', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retired_at', academy.util.UTCDateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('skills', schema=None) as batch_op:
        batch_op.drop_column('retired_at')
    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.drop_column('archived_at')
