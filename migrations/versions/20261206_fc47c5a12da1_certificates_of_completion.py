"""certificates of completion

The office's completion rule (one row), attendance rates the office records per trainee and cohort, and the
certificates issued (a partial unique index: at most one in force per trainee and cohort).

Revision ID: fc47c5a12da1
Revises: 42fd5dac5c3a
Create Date: 2026-12-06 20:02:38.844704

"""
from alembic import op
import sqlalchemy as sa

import academy.util


# revision identifiers, used by Alembic.
revision = 'fc47c5a12da1'
down_revision = '42fd5dac5c3a'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('attendance_rates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('cohort_id', sa.Integer(), nullable=False),
    sa.Column('percent', sa.Integer(), nullable=False),
    sa.Column('recorded_at', academy.util.UTCDateTime(timezone=True), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('percent BETWEEN 0 AND 100', name=op.f('ck_attendance_rates_percent_0_to_100')),
    sa.ForeignKeyConstraint(['cohort_id'], ['cohorts.id'], name=op.f('fk_attendance_rates_cohort_id_cohorts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_attendance_rates_recorded_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['student_id'], ['users.id'], name=op.f('fk_attendance_rates_student_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attendance_rates')),
    sa.UniqueConstraint('student_id', 'cohort_id', name=op.f('uq_attendance_rates_student_id_cohort_id'))
    )
    with op.batch_alter_table('attendance_rates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attendance_rates_cohort_id'), ['cohort_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_attendance_rates_student_id'), ['student_id'], unique=False)

    op.create_table('certificates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=64), nullable=False),
    sa.Column('serial', sa.String(length=32), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('cohort_id', sa.Integer(), nullable=False),
    sa.Column('holder_name', sa.String(length=100), nullable=False),
    sa.Column('cohort_label_ko', sa.String(length=200), nullable=False),
    sa.Column('cohort_label_en', sa.String(length=200), nullable=False),
    sa.Column('contents', sa.Text(), nullable=False),
    sa.Column('issued_at', academy.util.UTCDateTime(timezone=True), nullable=False),
    sa.Column('issued_by_id', sa.Integer(), nullable=True),
    sa.Column('revoked_at', academy.util.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_by_id', sa.Integer(), nullable=True),
    sa.Column('revoke_reason', sa.Text(), nullable=True),
    sa.CheckConstraint('revoked_at IS NULL OR (revoked_by_id IS NOT NULL AND revoke_reason IS NOT NULL)', name=op.f('ck_certificates_revocation_has_reason')),
    sa.ForeignKeyConstraint(['cohort_id'], ['cohorts.id'], name=op.f('fk_certificates_cohort_id_cohorts')),
    sa.ForeignKeyConstraint(['issued_by_id'], ['users.id'], name=op.f('fk_certificates_issued_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['revoked_by_id'], ['users.id'], name=op.f('fk_certificates_revoked_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['student_id'], ['users.id'], name=op.f('fk_certificates_student_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_certificates')),
    sa.UniqueConstraint('public_id', name=op.f('uq_certificates_public_id')),
    sa.UniqueConstraint('serial', name=op.f('uq_certificates_serial'))
    )
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_certificates_cohort_id'), ['cohort_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificates_student_id'), ['student_id'], unique=False)
        batch_op.create_index('uq_certificates_in_force', ['student_id', 'cohort_id'], unique=True, sqlite_where=sa.text('revoked_at IS NULL'), postgresql_where=sa.text('revoked_at IS NULL'))

    op.create_table('completion_rules',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('pass_percent', sa.Integer(), nullable=False),
    sa.Column('min_courses_passed', sa.Integer(), nullable=False),
    sa.Column('min_share_percent', sa.Integer(), nullable=False),
    sa.Column('min_attendance_percent', sa.Integer(), nullable=False),
    sa.Column('updated_at', academy.util.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('id = 1', name=op.f('ck_completion_rules_single_row')),
    sa.CheckConstraint('min_attendance_percent BETWEEN 0 AND 100', name=op.f('ck_completion_rules_min_attendance_percent_0_to_100')),
    sa.CheckConstraint('min_courses_passed BETWEEN 0 AND 100', name=op.f('ck_completion_rules_min_courses_passed_valid')),
    sa.CheckConstraint('min_share_percent BETWEEN 0 AND 100', name=op.f('ck_completion_rules_min_share_percent_0_to_100')),
    sa.CheckConstraint('pass_percent BETWEEN 0 AND 100', name=op.f('ck_completion_rules_pass_percent_0_to_100')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_completion_rules_updated_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_completion_rules'))
    )


def downgrade():
    op.drop_table('completion_rules')
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.drop_index('uq_certificates_in_force', sqlite_where=sa.text('revoked_at IS NULL'), postgresql_where=sa.text('revoked_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_certificates_student_id'))
        batch_op.drop_index(batch_op.f('ix_certificates_cohort_id'))

    op.drop_table('certificates')
    with op.batch_alter_table('attendance_rates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attendance_rates_student_id'))
        batch_op.drop_index(batch_op.f('ix_attendance_rates_cohort_id'))

    op.drop_table('attendance_rates')
