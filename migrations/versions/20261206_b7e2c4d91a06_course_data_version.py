"""courses.data_version: a number that changes whenever what a course's gradebook and dashboard show changes

The course dashboard's figures and charts are cached by it (academy/courses/versions.py sets a new one in the
transaction of the change), so every portal process sees a change on its next view.

Revision ID: b7e2c4d91a06
Revises: d4e1a7c93b20
Create Date: 2026-12-06 23:59:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7e2c4d91a06'
down_revision = 'd4e1a7c93b20'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('data_version', sa.BigInteger(), server_default='0', nullable=False))
    # A random version per course, not 0 for all: a database restored from before this migration and migrated again
    # must not repeat a version that a running process still holds figures for.
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("UPDATE courses SET data_version = floor(random() * 4611686018427387903)::bigint")
    else:
        op.execute("UPDATE courses SET data_version = abs(random()) % 4611686018427387903")


def downgrade():
    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.drop_column('data_version')
