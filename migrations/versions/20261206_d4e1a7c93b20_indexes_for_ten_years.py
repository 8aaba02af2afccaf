"""indexes for ten years of data: the audit log newest first, and audit entries by what they showed

The audit log page reads the newest entries a page at a time (ORDER BY at DESC LIMIT 25): without an index
on `at` that sorts every entry of every year. A trainee's data export finds the course and roster views
that listed them by (object_type, object_id).

Revision ID: d4e1a7c93b20
Revises: a7c3e1f05b92
Create Date: 2026-12-06 20:30:00

"""

from alembic import op


# revision identifiers, used by Alembic.
revision = 'd4e1a7c93b20'
down_revision = 'a7c3e1f05b92'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_audit_entries_at', 'audit_entries', ['at'], unique=False)
    op.create_index('ix_audit_entries_object', 'audit_entries', ['object_type', 'object_id'], unique=False)


def downgrade():
    op.drop_index('ix_audit_entries_object', table_name='audit_entries')
    op.drop_index('ix_audit_entries_at', table_name='audit_entries')
