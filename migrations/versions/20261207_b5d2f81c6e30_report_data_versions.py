"""report data versions: a token per report, renewed by every commit that changes the report's tables

The report pages keep their computed figures and charts in each portal process under this token, so every
gunicorn worker sees a change made through any other (academy/reports/cache.py).

Revision ID: b5d2f81c6e30
Revises: b7e2c4d91a06
Create Date: 2026-12-07 00:10:00

"""

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'b5d2f81c6e30'
down_revision = 'b7e2c4d91a06'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'report_data_versions',
        sa.Column('name', sa.String(length=20), nullable=False),
        sa.Column('token', sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_report_data_versions')),
    )


def downgrade():
    op.drop_table('report_data_versions')
