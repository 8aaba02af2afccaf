"""the province role

The provincial department's read-only account (role 'province'): the users' role check admits it.

Revision ID: d4a1c7e9b2f3
Revises: fc47c5a12da1
Create Date: 2026-12-06 20:00:00

"""

from alembic import op


# revision identifiers, used by Alembic.
revision = 'd4a1c7e9b2f3'
down_revision = 'fc47c5a12da1'
branch_labels = None
depends_on = None

OLD_ROLES = "role IN ('admin', 'coordinator', 'instructor', 'student', 'recruiter')"
NEW_ROLES = "role IN ('admin', 'coordinator', 'instructor', 'student', 'recruiter', 'province')"


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_users_role_valid'), type_='check')
        batch_op.create_check_constraint('role_valid', NEW_ROLES)


def downgrade():
    # A province account has no role to fall back to: it is removed with the role.
    op.execute("DELETE FROM user_sessions WHERE user_id IN (SELECT id FROM users WHERE role = 'province')")
    op.execute("DELETE FROM users WHERE role = 'province'")
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_users_role_valid'), type_='check')
        batch_op.create_check_constraint('role_valid', OLD_ROLES)
