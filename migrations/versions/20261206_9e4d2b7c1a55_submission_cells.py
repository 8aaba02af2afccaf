"""per-test-cell scores of graded submissions

The grader reports each test cell's automatic score; the portal now keeps them (submission_cells) for the
instructor's per-test export of an assignment. Submissions graded before have none.

Revision ID: 9e4d2b7c1a55
Revises: 5b1e7c2a9d40
Create Date: 2026-12-06 14:45:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9e4d2b7c1a55'
down_revision = '5b1e7c2a9d40'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'submission_cells',
        sa.Column('submission_id', sa.Integer(), nullable=False),
        sa.Column('notebook', sa.String(length=200), nullable=False),
        sa.Column('grade_id', sa.String(length=200), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('score', sa.Double(), nullable=False),
        sa.Column('max_score', sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'],
                                name=op.f('fk_submission_cells_submission_id_submissions'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('submission_id', 'notebook', 'grade_id', name=op.f('pk_submission_cells')),
    )


def downgrade():
    op.drop_table('submission_cells')
