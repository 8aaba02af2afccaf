"""submission supersede, queue claim and storage size

A trainee's newer submission supersedes a waiting one ('superseded' status); the portal records when
it handed a submission to the grading queue (queued_at, one job per trainee at a time) and how many
bytes each submission stores (size_bytes, for the per-trainee storage allowance).

Revision ID: 3c0f47ad7de0
Revises: 81457952e65f
Create Date: 2026-12-06 00:00:00

"""

from alembic import op
import sqlalchemy as sa

import academy.util


# revision identifiers, used by Alembic.
revision = '3c0f47ad7de0'
down_revision = '81457952e65f'
branch_labels = None
depends_on = None

OLD_STATUSES = "status IN ('queued','grading','graded','time_limit','memory_limit','error')"
NEW_STATUSES = "status IN ('queued','grading','graded','time_limit','memory_limit','error','superseded')"


def _stored_bytes(stored_path: str) -> int:
    from academy.config import var_dir

    root = var_dir() / stored_path / "files"
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) if stored_path and root.is_dir() else 0


def upgrade():
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('size_bytes', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('queued_at', academy.util.UTCDateTime(timezone=True), nullable=True))
        batch_op.drop_constraint(batch_op.f('ck_submissions_submission_status_valid'), type_='check')
        batch_op.create_check_constraint('submission_status_valid', NEW_STATUSES)
    submissions = sa.table('submissions', sa.column('id', sa.Integer), sa.column('stored_path', sa.String),
                           sa.column('size_bytes', sa.BigInteger), sa.column('job_id', sa.String),
                           sa.column('received_at', academy.util.UTCDateTime(timezone=True)),
                           sa.column('queued_at', academy.util.UTCDateTime(timezone=True)))
    conn = op.get_bind()
    # Jobs already in the queue hold their trainee's place there, as new ones do.
    conn.execute(submissions.update().where(submissions.c.job_id.is_not(None))
                 .values(queued_at=submissions.c.received_at))
    # Submissions already kept count towards their trainee's storage allowance: measure them where they lie.
    for row in conn.execute(sa.select(submissions.c.id, submissions.c.stored_path)).all():
        size = _stored_bytes(row.stored_path)
        if size:
            conn.execute(submissions.update().where(submissions.c.id == row.id).values(size_bytes=size))


def downgrade():
    op.execute("UPDATE submissions SET status = 'error', message = 'superseded' WHERE status = 'superseded'")
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_submissions_submission_status_valid'), type_='check')
        batch_op.create_check_constraint('submission_status_valid', OLD_STATUSES)
        batch_op.drop_column('queued_at')
        batch_op.drop_column('size_bytes')
